"""Push and reminder settings, from ``CASEFLOW_PUSH_*`` / ``CASEFLOW_REMINDER_*`` environment variables.

``server.config.Settings`` holds what the whole server shares (``data_dir``, ``public_url``,
``push_allow_http_loopback``); the knobs below belong to this package. Tests (and embedders) can
put a :class:`PushConfig` in ``services.extra["push_config"]`` to override them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from server.config import env_number

DEFAULT_LEADS: tuple[int, ...] = (2, 0)


def parse_leads(text: str) -> dict[str, tuple[int, ...]]:
    """``"2,0"`` or ``"default=2,0;sin_notification=3,1,0"`` -> ``{"default": (2, 0), ...}``.

    Lead times are working days before the due date (0 = on the due day)."""
    out: dict[str, tuple[int, ...]] = {}
    for part in (p.strip() for p in text.split(";")):
        if not part:
            continue
        name, sep, days = part.partition("=")
        if not sep:
            name, days = "default", part
        try:
            leads = tuple(sorted({int(d) for d in days.split(",") if d.strip()}, reverse=True))
        except ValueError as exc:
            raise SystemExit(f"CASEFLOW_REMINDER_LEAD_DAYS: {part!r} is not a list of whole numbers") from exc
        if any(d < 0 or d > 60 for d in leads):
            raise SystemExit("CASEFLOW_REMINDER_LEAD_DAYS: lead times are 0 to 60 working days")
        out[name.strip()] = leads
    return out


@dataclass
class PushConfig:
    #: the VAPID ``sub`` claim: a contact for the push services (mailto: or https:)
    subject: str = "mailto:caseflow-operator@example.invalid"
    #: seconds before a request to a push service is abandoned (pywebpush waits forever by default)
    timeout: float = 10.0
    #: how often the worker looks for new alerts and due retries (it is also woken on demand)
    interval: float = 2.0
    #: concurrent requests to push services
    concurrency: int = 8
    #: attempts per (alert, subscription) before it is given up as failed
    max_attempts: int = 12
    backoff_base: float = 5.0
    backoff_max: float = 3600.0
    #: TTL of an alert that is not about a deadline (a deadline alert lives until its due date)
    default_ttl: int = 86_400
    #: optional allowlist of push service host suffixes (e.g. ``fcm.googleapis.com``); empty = any public host
    allowed_hosts: tuple[str, ...] = ()
    #: reminder lead times in working days, per deadline name, ``default`` for the rest
    leads: dict[str, tuple[int, ...]] = field(default_factory=lambda: {"default": DEFAULT_LEADS})
    #: who is told, each working day, that a deadline was missed (besides the definition's notify_overdue)
    escalation_roles: tuple[str, ...] = ("business_team", "statutory_lead")
    #: the in-process scheduler re-runs the (idempotent) scan this often
    scan_minutes: float = 15.0
    #: reminders and escalations are written from this hour (England time) on, not at midnight
    from_hour: int = 8
    #: terminal delivery records are pruned after this many days
    retention_days: int = 30

    def leads_for(self, deadline: str) -> tuple[int, ...]:
        return self.leads.get(deadline, self.leads.get("default", DEFAULT_LEADS))

    @classmethod
    def from_env(cls) -> PushConfig:
        leads = {"default": DEFAULT_LEADS}
        leads.update(parse_leads(os.environ.get("CASEFLOW_REMINDER_LEAD_DAYS", "")))
        hosts = tuple(h.strip().lower().lstrip(".") for h in os.environ.get("CASEFLOW_PUSH_HOSTS", "").split(",")
                      if h.strip())
        roles = tuple(r.strip() for r in os.environ.get("CASEFLOW_ESCALATION_ROLES",
                                                        "business_team,statutory_lead").split(",") if r.strip())
        subject = os.environ.get("CASEFLOW_PUSH_SUBJECT", "").strip() or cls.subject
        if not subject.startswith(("mailto:", "https:")):
            raise SystemExit("CASEFLOW_PUSH_SUBJECT must be a mailto: or https: URL (the VAPID contact)")
        return cls(
            subject=subject,
            timeout=env_number("CASEFLOW_PUSH_TIMEOUT_SECONDS", 10.0, float, 0.1),
            interval=env_number("CASEFLOW_PUSH_INTERVAL_SECONDS", 2.0, float, 0.05),
            concurrency=env_number("CASEFLOW_PUSH_CONCURRENCY", 8, int, 1),
            max_attempts=env_number("CASEFLOW_PUSH_MAX_ATTEMPTS", 12, int, 1),
            backoff_base=env_number("CASEFLOW_PUSH_BACKOFF_BASE_SECONDS", 5.0, float, 0.0),
            backoff_max=env_number("CASEFLOW_PUSH_BACKOFF_MAX_SECONDS", 3600.0, float, 0.0),
            default_ttl=env_number("CASEFLOW_PUSH_TTL_SECONDS", 86_400, int, 0),
            allowed_hosts=hosts,
            leads=leads,
            escalation_roles=roles,
            scan_minutes=env_number("CASEFLOW_DEADLINE_SCAN_MINUTES", 15.0, float, 0.01),
            from_hour=env_number("CASEFLOW_REMINDER_FROM_HOUR", 8, int, 0),
            retention_days=env_number("CASEFLOW_PUSH_RETENTION_DAYS", 30, int, 1),
        )


def push_config(services: Any) -> PushConfig:
    """The services' PushConfig (built from the environment once)."""
    extra = services.extra
    config = extra.get("push_config")
    if config is None:
        config = PushConfig.from_env()
        public_url = getattr(getattr(services, "settings", None), "public_url", "") or ""
        if config.subject == PushConfig.subject and public_url.startswith("https://"):
            config.subject = public_url.rstrip("/")  # a reachable https contact beats a placeholder
        config = extra.setdefault("push_config", config)
    return config
