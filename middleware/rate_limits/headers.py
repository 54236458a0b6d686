"""Every rate-limit header a response carries, from one formatter on both paths.

Contract (``rate_limit_headers(states)``): ``X-RateLimit-Limit``, ``-Remaining`` and
``-Reset`` (epoch second after the window ends) of the limit that refused the request,
else of the first limit that is not shared, else of the first; the IETF
``RateLimit-Policy`` and ``RateLimit`` fields for every limit counted
(draft-ietf-httpapi-ratelimit-headers-11: ``"api";q=100;w=900`` and
``"api";r=57;t=600``); ``Retry-After`` (seconds until that window resets) only when a
limit refused the request. Flask's path formats them in ``add_standard_headers`` from
Flask-Limiter's evaluated limits (its own header injection is off); the response
cache's fast path formats them with the same function from its count.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence

from flask import Response, current_app
from flask_limiter import Limiter
from flask_response_cache import fast_hit_safe
from flask_response_cache.contrib.flask_limiter import LimitState, states_of


def rate_limit_headers(states: Sequence[LimitState]) -> list[tuple[str, str]]:
    """Every rate-limit header of one response, from the limits it was counted against."""
    if not states:
        return []
    now = time.time()
    breached = [state for state in states if state.breached]
    explicit = [state for state in states if not state.shared]
    shown = breached[-1] if breached else (explicit[0] if explicit else states[0])
    reset_at = int(shown.reset_at + 1)
    headers = [
        ("X-RateLimit-Limit", str(shown.item.amount)),
        ("X-RateLimit-Remaining", str(max(0, shown.remaining))),
        ("X-RateLimit-Reset", str(reset_at)),
    ]
    if breached:
        headers.append(("Retry-After", str(max(0, int(reset_at - now)))))
    policies = [f'"{s.scope}";q={s.item.amount};w={s.item.get_expiry()}' for s in states]
    windows = [
        f'"{s.scope}";r={max(0, s.remaining)};t={max(0, math.ceil(s.reset_at - now))}'
        for s in states
    ]
    headers += [("RateLimit-Policy", ", ".join(policies)), ("RateLimit", ", ".join(windows))]
    return headers


@fast_hit_safe("the fast path's LimiterCharge formats the same headers")
def add_standard_headers(response: Response) -> Response:
    """The rate-limit headers of a request Flask-Limiter counted; ``Retry-After`` only
    on this limiter's own 429, never over a view's own."""
    limiter: Limiter = current_app.extensions["rate_limits"]
    for name, value in rate_limit_headers(states_of(limiter.current_limits)):
        if name != "Retry-After" or name not in response.headers:
            response.headers[name] = value
    return response
