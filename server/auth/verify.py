"""Reading and verifying the bearer token of a request, each distinct token verified once (ADR 0034).

flask-jwt-extended 4.7 decodes a token three times per request (unverified claims, unverified
header, then verified), and PyJWT checks every base64 byte in Python: about a fifth of a one-mutation
push. Here a token's signature, algorithm, issuer, audience and claim types are verified by PyJWT
once, and the result is kept in a bounded LRU cache keyed by the exact token text *and* every input
of that verification (the signing key, algorithms, issuer, audience): a token that differs by one
byte, or a key that was rotated, is a miss and is verified in full. Failures are never cached.

What depends on time or on the store is checked on every request, cache hit or not: ``exp``,
``nbf`` and ``iat`` against the current clock (as PyJWT does, with the configured leeway), the token
type (access or refresh), and, in :func:`server.auth.tokens.load_actor`, the session, device and user.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
import time
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import jwt
from flask import current_app, request

from server.problems import Problem

#: distinct valid tokens remembered per process: a server sees one access token per active device per
#: 15 minutes; beyond this the least recently used is verified again, which costs only CPU.
CACHE_SIZE = 4096

MISSING = ("missing-token", "Send an access token in the Authorization header as 'Bearer <token>'.")
INVALID = ("invalid-token",
           "The token is not valid for this API (signature, algorithm, issuer, audience or type).")
EXPIRED = ("token-expired", "The token has expired. Refresh it or log in again.")


def unauthorized(slug: str, detail: str) -> Problem:
    return Problem(401, slug, detail, headers={"WWW-Authenticate": "Bearer"})


@dataclass(frozen=True, slots=True)
class Verified:
    """A token whose signature and static claims were verified; its times are checked per request."""

    claims: MappingProxyType
    exp: int | None
    nbf: int | None
    iat: int | None


def _int_claim(claims: dict, name: str) -> int | None:
    # PyJWT has already checked these convert (else the token was refused and not cached)
    return int(claims[name]) if name in claims else None


@functools.lru_cache(maxsize=CACHE_SIZE)
def _verify(token: str, secret: str, algorithms: tuple[str, ...], issuer: str | None,
            audience: str | None, verify_sub: bool, leeway: float) -> Verified:
    # the same checks and defaults as flask-jwt-extended's _decode_jwt, in one PyJWT decode
    claims = jwt.decode(token, secret, algorithms=list(algorithms), audience=audience, issuer=issuer,
                        leeway=leeway, options={"verify_aud": audience is not None, "verify_sub": verify_sub})
    if "sub" not in claims:
        raise jwt.MissingRequiredClaimError("sub")
    claims.setdefault("type", "access")
    claims.setdefault("fresh", False)
    claims.setdefault("jti", None)
    return Verified(MappingProxyType(claims), _int_claim(claims, "exp"), _int_claim(claims, "nbf"),
                    _int_claim(claims, "iat"))


def cache_info() -> functools._CacheInfo:
    """Hits, misses and the current size of the verified-token cache (tests, metrics)."""
    return _verify.cache_info()


def clear_cache() -> None:
    _verify.cache_clear()


def _check_times(v: Verified, leeway: float) -> None:
    # PyJWT's own comparisons (api_jwt._validate_iat/_nbf/_exp), against the clock of this request
    now = time.time()
    if v.iat is not None and v.iat > now + leeway:
        raise unauthorized(*INVALID)
    if v.nbf is not None and v.nbf > now + leeway:
        raise unauthorized(*INVALID)
    if v.exp is not None and v.exp <= now - leeway:
        raise unauthorized(*EXPIRED)


_FIELDS = re.compile(r",\s*")


def bearer_token() -> str:
    """The token of the ``Authorization: Bearer <token>`` header, parsed as flask-jwt-extended does."""
    header = request.headers.get("Authorization", "").strip().strip(",")
    if not header:
        raise unauthorized(*MISSING)
    bearers = [s for s in _FIELDS.split(header) if s and s.split()[0] == "Bearer"]
    if len(bearers) != 1:
        raise unauthorized(*MISSING)
    parts = bearers[0].split()
    if len(parts) != 2:
        raise unauthorized(*INVALID)
    return parts[1]


def verified_claims(refresh: bool = False) -> dict[str, Any]:
    """The claims of this request's token, verified, current and of the right type; else a 401 problem."""
    token = bearer_token()
    config = current_app.config
    leeway = config["JWT_DECODE_LEEWAY"]
    if isinstance(leeway, dt.timedelta):  # flask-jwt-extended allows either
        leeway = leeway.total_seconds()
    try:
        v = _verify(token, config["JWT_SECRET_KEY"], tuple(config["JWT_DECODE_ALGORITHMS"]),
                    config["JWT_DECODE_ISSUER"], config["JWT_DECODE_AUDIENCE"], config["JWT_VERIFY_SUB"], leeway)
    except jwt.ExpiredSignatureError:
        raise unauthorized(*EXPIRED) from None
    except jwt.InvalidTokenError:
        raise unauthorized(*INVALID) from None
    _check_times(v, leeway)
    if (v.claims["type"] == "refresh") != refresh:
        raise unauthorized(*INVALID)
    return dict(v.claims)
