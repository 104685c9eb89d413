"""Password hashing with Argon2id (argon2-cffi's RFC 9106 low-memory profile), and the
NIST SP 800-63B rules for a new password: a length, no common or breached password, and
nothing built from the username. No composition rules and no expiry (800-63B 3.1.1.2)."""

from __future__ import annotations

import functools
import unicodedata

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

_hasher = PasswordHasher()
# Verified against when the username is unknown, so both paths cost the same.
_DUMMY_HASH = _hasher.hash("caseflow-timing-equaliser")

MIN_LENGTH = 10
MAX_LENGTH = 256  # long passphrases are welcome; this only bounds the hashing input
_EDGE_JUNK = "0123456789!@#$%^&*()-_=+.,?~ "


@functools.cache
def _common() -> frozenset[str]:
    """zxcvbn's 30,000 most common passwords, from breach corpora; shipped in the package (offline)."""
    from zxcvbn.frequency_lists import FREQUENCY_LISTS

    return frozenset(FREQUENCY_LISTS["passwords"])


def _normal(password: str) -> str:
    # 800-63B 5.1.1.2: normalise Unicode before hashing, so one password has one spelling
    return unicodedata.normalize("NFKC", password)


def is_common(password: str) -> bool:
    """A listed password, also with digits or symbols added around it ("password12", "!dragon1")."""
    lowered = _normal(password).lower()
    stripped = lowered.strip(_EDGE_JUNK)
    return lowered in _common() or (len(stripped) >= 4 and stripped in _common())


def password_problems(password: str, username: str | None = "") -> list[str]:
    """Why ``password`` cannot be used (empty when it can). Messages never repeat the password. One door
    for every way a password is set: sign-up, an admin's temporary password, a reset, a change."""
    if not isinstance(password, str):
        return [f"password must have at least {MIN_LENGTH} characters"]
    normal = _normal(password)
    if len(normal) < MIN_LENGTH:
        return [f"password must have at least {MIN_LENGTH} characters"]
    if len(normal) > MAX_LENGTH:
        return [f"password must have at most {MAX_LENGTH} characters"]
    problems = []
    name = (username or "").lower()
    if name and (name in normal.lower() or normal.lower() in name):
        problems.append("password must not be or contain the username")
    if len(set(normal)) < 4:
        problems.append("password must not repeat a few characters (choose a passphrase)")
    if is_common(normal):
        problems.append("password is on a list of common or breached passwords; choose another")
    return problems


def hash_password(password: str) -> str:
    return _hasher.hash(_normal(password))


def verify_password(stored_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(stored_hash or _DUMMY_HASH, _normal(password)) and stored_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False

