"""The fake clock every test moves by hand: the package's ``flask_response_cache.testing``."""

from __future__ import annotations

from flask_response_cache.testing import FakeClock

__all__ = ["FakeClock"]
