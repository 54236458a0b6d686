"""Password hashing with argon2id.

Contract: ``hash_password``/``verify_password`` use the parameters in
``PASSWORD_HASH_PARAMS`` (OWASP: m=19456 KiB, t=2, p=1; tests pass cheap
ones). ``verify_password(None, pw)`` still spends one full verification on a
fixed dummy hash, so an unknown e-mail costs the same time as a wrong
password (OWASP Authentication: no user enumeration by timing).
"""

from __future__ import annotations

from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app


@lru_cache(maxsize=8)
def _hasher(time_cost: int, memory_cost: int, parallelism: int) -> PasswordHasher:
    return PasswordHasher(time_cost=time_cost, memory_cost=memory_cost, parallelism=parallelism)


@lru_cache(maxsize=8)
def _dummy_hash(time_cost: int, memory_cost: int, parallelism: int) -> str:
    return _hasher(time_cost, memory_cost, parallelism).hash("dummy password for timing")


def _params() -> tuple[int, int, int]:
    p = current_app.config["PASSWORD_HASH_PARAMS"]
    return int(p["time_cost"]), int(p["memory_cost"]), int(p["parallelism"])


def hash_password(password: str) -> str:
    return _hasher(*_params()).hash(password)


def verify_password(stored_hash: str | None, password: str) -> bool:
    params = _params()
    candidate = stored_hash if stored_hash is not None else _dummy_hash(*params)
    try:
        ok = _hasher(*params).verify(candidate, password)
    except (VerificationError, InvalidHashError):
        return False
    return ok and stored_hash is not None
