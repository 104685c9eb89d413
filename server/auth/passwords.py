"""Password hashing with Argon2id (argon2-cffi's RFC 9106 low-memory profile)."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

_hasher = PasswordHasher()
# Verified against when the username is unknown, so both paths cost the same.
_DUMMY_HASH = _hasher.hash("caseflow-timing-equaliser")

MIN_LENGTH = 10


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(stored_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(stored_hash or _DUMMY_HASH, password) and stored_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def password_problems(password: str, username: str | None = None) -> list[str]:
    """Every rule a new password breaks, in words (never echoing it). One door for every way a
    password is set: sign-up, an admin's temporary password, a reset, a change."""
    problems = []
    if not isinstance(password, str) or len(password) < MIN_LENGTH:
        problems.append(f"password must have at least {MIN_LENGTH} characters")
    elif username and password.strip().lower() == username.strip().lower():
        problems.append("password must not be the username")
    return problems
