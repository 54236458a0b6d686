"""Users: registration, credential checks, lookups.

Contract:
- e-mails are compared and stored lower-cased and stripped;
- ``register`` raises ``ApiError(409)`` when the e-mail is taken, including
  when a concurrent registration wins the race (unique constraint);
- ``authenticate`` returns the user or None, spending one argon2 verification
  either way.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from errors import ApiError
from extensions import db
from models import User
from services.passwords import hash_password, verify_password


def normalise_email(email: str) -> str:
    return email.strip().lower()


def user_to_dict(user: User) -> dict[str, object]:
    return {"id": user.id, "email": user.email, "name": user.name}


def find_by_email(email: str) -> User | None:
    return db.session.scalars(select(User).where(User.email == normalise_email(email))).first()


def get_user(user_id: int) -> User | None:
    return db.session.get(User, user_id)


def register(email: str, name: str, password: str, is_admin: bool = False) -> User:
    email = normalise_email(email)
    if find_by_email(email) is not None:
        raise ApiError(409, "A user with this email already exists.")
    user = User(
        email=email, name=name.strip(), password_hash=hash_password(password), is_admin=is_admin
    )
    db.session.add(user)
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise ApiError(409, "A user with this email already exists.") from None
    return user


def authenticate(email: str, password: str) -> User | None:
    user = find_by_email(email)
    ok = verify_password(user.password_hash if user else None, password)
    return user if ok and user is not None else None


def bump_session_version(user: User) -> None:
    """Invalidate every session issued to this user so far (log out everywhere)."""
    user.session_version = User.session_version + 1
    db.session.commit()
    db.session.refresh(user)
