"""Failed logins counted per account: OWASP Authentication, "count per account, not per IP".

Contract: ``failed_logins()`` is the app's throttle (``RATELIMIT_LOGIN_FAILURES``, e.g. 5
per 15 minutes), keyed by a hash of the normalised e-mail, known or not, on the limiter's
storage (Redis with per-process failover, or memory). The window is fixed and never
grows, so a third party can hold an account's logins back for one window at a time,
never lock it for good.
"""

from __future__ import annotations

import hashlib
import math
import time

from flask import current_app
from limits import parse
from limits.storage import Storage
from limits.strategies import FixedWindowRateLimiter

EXTENSION_KEY = "failed_logins"


class FailedLogins:
    SCOPE = "login-failures"

    def __init__(self, storage: Storage, limit: str) -> None:
        self._limit = parse(limit)
        self._strategy = FixedWindowRateLimiter(storage)

    def _key(self, account: str) -> str:
        # A hash keeps e-mail addresses out of Redis keys and bounds their length.
        return hashlib.sha256(account.encode()).hexdigest()[:32]

    def retry_after(self, account: str) -> int:
        """0 when the account may try again now, else whole seconds to wait."""
        key = self._key(account)
        if self._strategy.test(self._limit, self.SCOPE, key):
            return 0
        reset_at, _ = self._strategy.get_window_stats(self._limit, self.SCOPE, key)
        return max(1, math.ceil(reset_at - time.time()))

    def record_failure(self, account: str) -> None:
        self._strategy.hit(self._limit, self.SCOPE, self._key(account))

    def forget(self, account: str) -> None:
        self._strategy.clear(self._limit, self.SCOPE, self._key(account))


def failed_logins() -> FailedLogins:
    throttle: FailedLogins = current_app.extensions[EXTENSION_KEY]
    return throttle
