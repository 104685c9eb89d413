"""JWT set-up (flask-jwt-extended issues the tokens) and the ``auth_required`` guard of every endpoint.

Tokens are HS256 only (pinned for encode and decode), carry ``iss``/``aud``
(checked), the session id ``sid`` and the device id ``did``. A token's signature is
verified once per process (``server/auth/verify.py``, ADR 0034); its expiry and type
are checked on every request, and every request re-reads the session, device and user
from the store, so logout, device revocation and disabling an account take effect on
the very next request, and roles come from the store, not from a possibly stale token.
"""

from __future__ import annotations

import datetime as dt
import functools
import warnings

from flask import Flask, current_app, g, request
from flask_jwt_extended import JWTManager, create_access_token, create_refresh_token
from jwt.warnings import InsecureKeyLengthWarning

from server.auth.accounts import Accounts, Session
from server.auth.verify import EXPIRED, INVALID, MISSING, verified_claims
from server.problems import Problem, problem_response
from sync.actor import Actor

ALGORITHM = "HS256"
# what a user whose password an admin set may still do: change it, log out
PASSWORD_CHANGE_ENDPOINTS = frozenset({"account.change_password", "auth.logout"})


def init_jwt(app: Flask, secret: str, issuer: str, audience: str, access_minutes: int, refresh_days: int) -> None:
    if len(secret.encode()) < 32:
        raise SystemExit("CASEFLOW_JWT_SECRET must be at least 32 bytes")
    warnings.simplefilter("error", InsecureKeyLengthWarning)
    app.config.update(
        JWT_SECRET_KEY=secret,
        JWT_ALGORITHM=ALGORITHM,
        JWT_DECODE_ALGORITHMS=[ALGORITHM],
        JWT_TOKEN_LOCATION=["headers"],
        JWT_ENCODE_ISSUER=issuer,
        JWT_DECODE_ISSUER=issuer,
        JWT_ENCODE_AUDIENCE=audience,
        JWT_DECODE_AUDIENCE=audience,
        JWT_ACCESS_TOKEN_EXPIRES=dt.timedelta(minutes=access_minutes),
        JWT_REFRESH_TOKEN_EXPIRES=dt.timedelta(days=refresh_days),
        JWT_DECODE_LEEWAY=0,
    )
    jwt = JWTManager(app)

    def unauthorized(slug: str, detail: str):
        return problem_response(Problem(401, slug, detail, headers={"WWW-Authenticate": "Bearer"}))

    # load_actor verifies tokens itself (verify.py); these answer for any flask-jwt-extended path left
    jwt.unauthorized_loader(lambda reason: unauthorized(*MISSING))
    jwt.invalid_token_loader(lambda reason: unauthorized(*INVALID))
    jwt.expired_token_loader(lambda header, payload: unauthorized(*EXPIRED))
    jwt.revoked_token_loader(lambda header, payload: unauthorized(
        "token-revoked", "This token has been revoked. Log in again."))
    jwt.needs_fresh_token_loader(lambda header, payload: unauthorized(
        "fresh-token-required", "Log in again to do this."))


def issue_tokens(session: Session, user: dict) -> dict[str, str]:
    claims = {"sid": session.session_id, "did": session.device_id}
    return {
        "access_token": create_access_token(user["user_id"], additional_claims=claims),
        "refresh_token": create_refresh_token(
            user["user_id"], additional_claims={**claims, "jti": session.refresh_jti}),
    }


def _accounts() -> Accounts:
    return current_app.extensions["caseflow"].accounts


def load_actor(refresh: bool = False) -> Actor:
    claims = verified_claims(refresh=refresh)
    g.jwt_claims = claims
    sid, did = claims.get("sid"), claims.get("did")
    if not isinstance(sid, str) or not isinstance(did, str):
        raise Problem(401, "invalid-token", "The token is not valid for this API.")
    user = _accounts().check_session(sid, did)
    if user["user_id"] != claims.get("sub"):
        raise Problem(401, "invalid-token", "The token is not valid for this API.")
    actor = _accounts().actor_for(user, device_id=did, session_id=sid)
    g.actor = actor
    if user.get("must_change_password") and request.endpoint not in PASSWORD_CHANGE_ENDPOINTS:
        raise Problem(403, "password-change-required",
                      "Your password was set by an administrator: change it (POST /api/v1/auth/password) first.",
                      title="Change your password")
    return actor


def auth_required(fn):
    """Access token required; the handler gets the :class:`Actor` as ``actor=``."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        actor = load_actor()
        return fn(*args, actor=actor, **kwargs)

    return wrapper


def roles_required(*roles: str):
    def decorate(fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            actor = load_actor()
            if not actor.has_role(*roles):
                raise Problem(403, "forbidden-role", f"This needs one of the roles: {', '.join(roles)}.")
            return fn(*args, actor=actor, **kwargs)

        return wrapper

    return decorate
