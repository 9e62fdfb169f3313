"""Accounts: creation, password checks and sign-in throttling."""

from __future__ import annotations

import re
from datetime import timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from review.db import utcnow
from review.errors import ConflictError, NotFound, RateLimited, ValidationError
from review.models import LoginAttempt, User
from review.services.audit import log_event

_hasher = PasswordHasher()
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
MIN_PASSWORD = 8
# Sign-in throttling: this many failures for one email within the window locks it for the window.
MAX_FAILURES = 5
FAILURE_WINDOW = timedelta(minutes=15)


def hash_password(password: str) -> str:
    """Argon2id hash of a password."""
    return _hasher.hash(password)


def create_user(
    session: Session,
    *,
    email: str,
    name: str,
    password: str,
    is_admin: bool = False,
    created_by_id: int | None = None,
) -> User:
    """Create an account; the email must be new and the password at least 8 characters."""
    email = email.strip().lower()
    if not EMAIL_RE.match(email):
        raise ValidationError(f"'{email}' is not an email address", field="email")
    if not name.strip():
        raise ValidationError("a name is required", field="name")
    if len(password) < MIN_PASSWORD:
        raise ValidationError(
            f"the password must have at least {MIN_PASSWORD} characters", field="password"
        )
    if session.scalar(select(User.id).where(User.email == email)) is not None:
        raise ConflictError(f"an account for {email} exists already")
    user = User(email=email, name=name.strip(), password_hash=hash_password(password),
                is_admin=is_admin)
    session.add(user)
    session.flush()
    log_event(session, action="user.create", object_type="user", object_id=user.id,
              user_id=created_by_id, after={"email": email, "name": user.name, "admin": is_admin})
    return user


def authenticate(session: Session, *, email: str, password: str, ip: str | None = None) -> User:
    """Check a sign-in; raises ValidationError on a wrong password and RateLimited when throttled.

    The attempt is recorded either way, so the caller must commit even when this raises.
    """
    email = email.strip().lower()
    since = utcnow() - FAILURE_WINDOW
    failures = session.scalar(
        select(func.count()).select_from(LoginAttempt).where(
            LoginAttempt.email == email, LoginAttempt.success.is_(False),
            LoginAttempt.created_at >= since,
        )
    ) or 0
    if failures >= MAX_FAILURES:
        raise RateLimited(
            "too many failed sign-ins for this account; try again in 15 minutes",
            retry_after=int(FAILURE_WINDOW.total_seconds()),
        )
    user = session.scalar(select(User).where(User.email == email))
    ok = user is not None and user.is_active and _verify(user.password_hash, password)
    session.add(LoginAttempt(email=email, ip=ip, success=ok))
    session.flush()
    if not ok or user is None:
        raise ValidationError("wrong email or password", field="password")
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    return user


def _verify(hashed: str, password: str) -> bool:
    try:
        return _hasher.verify(hashed, password)
    except (VerificationError, InvalidHashError):
        return False


def get_user(session: Session, user_id: int) -> User:
    """The user with this id, or NotFound."""
    user = session.get(User, user_id)
    if user is None:
        raise NotFound(f"no user {user_id}")
    return user


def find_user(session: Session, *, email: str) -> User:
    """The user with this email, or NotFound naming it."""
    user = session.scalar(select(User).where(User.email == email.strip().lower()))
    if user is None:
        raise NotFound(f"no account for {email}")
    return user


def list_users(session: Session) -> list[User]:
    """All accounts, by email."""
    return list(session.scalars(select(User).order_by(User.email)))
