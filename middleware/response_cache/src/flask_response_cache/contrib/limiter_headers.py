"""Rate-limit headers as Flask-Limiter writes them, from ``LimitState``s.

``LimitState`` is one limit as a request left it; ``states_of`` builds them from
Flask-Limiter's ``RequestLimit`` objects (the Flask path), ``LimiterCharge`` from its own
count (the fast path), so one formatter serves both. ``flask_limiter_headers(limiter)``
is the default formatter: Flask-Limiter's own ``X-RateLimit-*`` and ``Retry-After`` for
an allowed request (its ``headers_enabled``, header names and ``Retry-After`` format).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from flask_limiter import HeaderNames, Limiter
from limits import RateLimitItem
from werkzeug.http import http_date

from . import _flask_limiter_compat as compat

Headers = list[tuple[str, str]]


@dataclass(frozen=True, slots=True)
class LimitState:
    """One limit as a request left it: what rate-limit headers are made of."""

    item: RateLimitItem
    scope: str  # the bucket's scope (Flask-Limiter's last request argument)
    shared: bool
    remaining: int
    reset_at: float  # epoch seconds when the window ends
    breached: bool = False  # the request was refused by this limit (Flask path only)


HeaderFormatter = Callable[[Sequence[LimitState]], Headers]


def states_of(request_limits: Sequence[Any]) -> list[LimitState]:
    """``LimitState`` of Flask-Limiter's ``RequestLimit`` objects (the Flask path's
    ``limiter.current_limits``), for one header formatter on both paths."""
    states = []
    for limit in request_limits:
        reset_at, remaining = limit.window
        scope = str(limit.request_args[-1])
        state = LimitState(limit.limit, scope, limit.shared, remaining, reset_at, limit.breached)
        states.append(state)
    return states


def flask_limiter_headers(limiter: Limiter) -> HeaderFormatter:
    """Flask-Limiter's own headers for an allowed request (its ``__inject_headers``)."""
    enabled = compat.headers_enabled(limiter)
    names = compat.header_mapping(limiter)
    http_dates = compat.retry_after_format(limiter) == "http-date"

    def format_headers(states: Sequence[LimitState]) -> Headers:
        if not (enabled and names and states):
            return []
        explicit = [state for state in states if not state.shared]
        shown = explicit[0] if explicit else states[0]
        reset_at = int(shown.reset_at + 1)
        retry = http_date(reset_at) if http_dates else str(int(reset_at - time.time()))
        return [
            (names[HeaderNames.LIMIT], str(shown.item.amount)),
            (names[HeaderNames.REMAINING], str(shown.remaining)),
            (names[HeaderNames.RESET], str(reset_at)),
            (names[HeaderNames.RETRY_AFTER], retry),
        ]

    return format_headers
