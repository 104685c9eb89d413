"""Configuration from ``CASEFLOW_*`` environment variables (documented in the README)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path


def env_number(name: str, default: float, cast: type = int, minimum: float | None = None):
    """A whole number (``cast=int``) or a number (``cast=float``) from the environment; unset or
    blank gives ``default``; anything else invalid stops the start with a message naming it."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = cast(raw)
    except ValueError as exc:
        kind = "an integer" if cast is int else "a number"
        raise SystemExit(f"{name} must be {kind}, got {raw!r}") from exc
    if minimum is not None and value < minimum:
        raise SystemExit(f"{name} must be at least {minimum}")
    return value


def _env_bool(name: str, default: bool = False) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    return raw.strip().lower() in {"1", "true", "yes", "on"}


@dataclass
class Settings:
    data_dir: Path = Path("var")
    #: ``postgresql://USER@HOST:PORT/DB`` for the PostgreSQL store; None: the embedded store in data_dir/store
    store_url: str | None = None
    #: JWT signing secret; generated into the data dir on first start when unset
    jwt_secret: str | None = None
    jwt_issuer: str = "caseflow"
    jwt_audience: str = "caseflow-api"
    access_token_minutes: int = 15
    refresh_token_days: int = 30
    max_body_bytes: int = 1024 * 1024
    #: failures per (username, address) before delays begin; then 30 s, doubling, up to the max
    login_max_failures: int = 5
    login_window_seconds: int = 900
    login_delay_base_seconds: float = 30.0
    login_delay_max_seconds: float = 900.0
    #: failures from one client address (any usernames) within the window before it is refused
    login_address_max_failures: int = 100
    #: a refresh token presented again this soon after its rotation (parallel refreshes) is honoured
    refresh_grace_seconds: float = 10.0
    max_devices_per_user: int = 10
    max_push_subscriptions_per_user: int = 10
    demo: bool = False
    demo_password: str = "caseflow-demo"  # noqa: S105 - the documented demo value, demo mode only
    push_allow_http_loopback: bool = False
    log_level: str = "INFO"
    threads: int = 8
    public_url: str = "http://127.0.0.1:8000"
    #: reverse proxies whose X-Forwarded-For is believed (comma-separated addresses or networks)
    trusted_proxies: str = ""
    #: a deployment's own definitions (``forms/`` and ``case_types/``), loaded beside the shipped ones
    definitions_dir: Path | None = None
    extra: dict = field(default_factory=dict)

    @classmethod
    def from_env(cls, **overrides) -> Settings:
        settings = cls(
            data_dir=Path(os.environ.get("CASEFLOW_DATA_DIR", "var")),
            store_url=os.environ.get("CASEFLOW_STORE") or None,
            jwt_secret=os.environ.get("CASEFLOW_JWT_SECRET") or None,
            jwt_issuer=os.environ.get("CASEFLOW_JWT_ISSUER", "caseflow"),
            jwt_audience=os.environ.get("CASEFLOW_JWT_AUDIENCE", "caseflow-api"),
            access_token_minutes=env_number("CASEFLOW_ACCESS_TOKEN_MINUTES", 15),
            refresh_token_days=env_number("CASEFLOW_REFRESH_TOKEN_DAYS", 30),
            max_body_bytes=env_number("CASEFLOW_MAX_BODY_BYTES", 1024 * 1024),
            login_max_failures=env_number("CASEFLOW_LOGIN_MAX_FAILURES", 5),
            login_window_seconds=env_number("CASEFLOW_LOGIN_WINDOW_SECONDS", 900),
            login_delay_base_seconds=env_number("CASEFLOW_LOGIN_DELAY_BASE_SECONDS", 30.0, float, 0.0),
            login_delay_max_seconds=env_number("CASEFLOW_LOGIN_DELAY_MAX_SECONDS", 900.0, float, 0.0),
            login_address_max_failures=env_number("CASEFLOW_LOGIN_ADDRESS_MAX_FAILURES", 100, int, 1),
            refresh_grace_seconds=env_number("CASEFLOW_REFRESH_GRACE_SECONDS", 10.0, float, 0.0),
            max_devices_per_user=env_number("CASEFLOW_MAX_DEVICES_PER_USER", 10, int, 1),
            max_push_subscriptions_per_user=env_number("CASEFLOW_MAX_PUSH_SUBSCRIPTIONS_PER_USER", 10, int, 1),
            demo=_env_bool("CASEFLOW_DEMO"),
            demo_password=os.environ.get("CASEFLOW_DEMO_PASSWORD") or "caseflow-demo",  # noqa: S106
            push_allow_http_loopback=_env_bool("CASEFLOW_PUSH_ALLOW_HTTP_LOOPBACK"),
            log_level=os.environ.get("CASEFLOW_LOG_LEVEL", "INFO"),
            threads=env_number("CASEFLOW_THREADS", 8),
            public_url=os.environ.get("CASEFLOW_PUBLIC_URL", "http://127.0.0.1:8000"),
            trusted_proxies=os.environ.get("CASEFLOW_TRUSTED_PROXIES", ""),
            definitions_dir=Path(os.environ["CASEFLOW_DEFINITIONS_DIR"]) if os.environ.get("CASEFLOW_DEFINITIONS_DIR")
            else None,
        )
        for key, value in overrides.items():
            if value is not None:
                setattr(settings, key, value)
        settings.data_dir = Path(settings.data_dir)
        if settings.definitions_dir is not None:
            settings.definitions_dir = Path(settings.definitions_dir)
        return settings
