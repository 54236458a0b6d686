"""A clock tests move by hand: breakers, session timeouts and the cache core read it.

Code under test that "sleeps" on it (the cache core's injected ``sleep``) just
moves it forward, so no test waits on the wall clock.
"""

from __future__ import annotations


class FakeClock:
    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds

    def sleep(self, seconds: float) -> None:
        self.now += seconds
