"""How a hit answered below Flask is counted by the app's rate limiter: the ``Charge`` hook.

The fast path skips Flask, so it skips the rate limiter's ``before_request`` hook too.
A route is served there only when something stands in for that hook: a ``Charge``
(``ResponseCache(charge=...)``; Flask-Limiter's is
``flask_response_cache.contrib.flask_limiter.LimiterCharge``, found automatically when
the app has one Flask-Limiter). ``charge(environ, endpoint)`` returns a
``ChargeTicket`` for the request, ``FREE`` when nothing limits it, or None when it cannot
count it exactly as the limiter would (the request then goes to Flask, where the
limiter counts it).

A ticket counts the request **all or nothing**: either every limit that applies to it
is charged and the request is allowed (the verdict is the rate-limit headers to add),
or nothing is charged (``None``: over a limit). A refused request is handed to Flask
uncounted, where the limiter counts it and answers its own 429 with its own error
handler, so refusals look exactly as they do without a cache.

- ``commands()``: raw Redis commands that charge the request, sent with the entry's
  read in one round trip (or none).
- ``settle(replies)``: the verdict from their replies (``NOT_RUN`` when they did not
  run: an error reply, a script the server lost).
- ``charge()``: charge now (after a hit was found) and return the verdict.

A request whose commands ran but that is not answered on the fast path (a miss) is
handed to Flask with its headers in ``environ[COUNTED]``: the Flask side must not count
it again (the Flask-Limiter adapter adds a request filter), and the response cache's
``after_request`` adds those headers to the answer.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Final, Protocol

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIEnvironment

Headers = list[tuple[str, str]]
# A verdict: the headers of a charged, allowed request; None: refused, nothing charged.
Verdict = Headers | None

# The headers of a request the fast path charged and then handed to Flask.
COUNTED: Final = "flask_response_cache.counted"


class _NotRun:
    def __repr__(self) -> str:
        return "NOT_RUN"


# settle(): the commands did not run (charge() must count the request instead).
NOT_RUN: Final[Any] = _NotRun()


class ChargeTicket(Protocol):
    """How one request is counted by the app's rate limiter (see the module docstring)."""

    def commands(self) -> Sequence[tuple[Any, ...]]: ...
    def settle(self, replies: list[Any]) -> Verdict: ...
    def charge(self) -> Verdict: ...


Charge = Callable[["WSGIEnvironment", str], ChargeTicket | None]


class _Free:
    """The ticket of a request nothing limits: nothing to count, no headers."""

    def commands(self) -> Sequence[tuple[Any, ...]]:
        return ()

    def settle(self, replies: list[Any]) -> Verdict:
        return []

    def charge(self) -> Verdict:
        return []


FREE: ChargeTicket = _Free()


def no_limiter(environ: WSGIEnvironment, endpoint: str) -> ChargeTicket | None:
    """The charge of an app without a rate limiter."""
    return FREE


def remember(memo: dict[Any, Any], key: Any, value: Any, limit: int) -> None:
    """``memo[key] = value``, dropping the oldest entries beyond ``limit`` (thread-safe
    enough for a cache: a race loses an entry, never raises)."""
    while len(memo) >= limit:
        try:
            del memo[next(iter(memo))]
        except (KeyError, RuntimeError, StopIteration):  # another thread got there first
            break
    memo[key] = value
