"""Store-level helpers for the push tests: real accounts, real subscriptions, alerts written the way
the write path writes them (``sync.context.Ctx.alert``)."""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path
from typing import Any

from server.auth.accounts import Accounts
from server.config import Settings
from server.push.cli import PushServices
from server.push.config import PushConfig
from server.push.subscriptions import subscribe
from server.push.vapid import load_or_create_vapid
from store import open_store
from sync.actor import Actor
from sync.clock import Clock, rfc3339
from sync.context import Ctx

PASSWORD = "correct horse battery staple"
T0 = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)  # a Monday


def test_config(**overrides: Any) -> PushConfig:
    base = dict(subject="mailto:ops@caseflow.example", timeout=2.0, interval=0.1, concurrency=4, max_attempts=5,
                backoff_base=5.0, backoff_max=600.0, default_ttl=86_400, from_hour=0)
    base.update(overrides)
    return PushConfig(**base)


def make_services(data_dir: Path, *, clock: Clock | None = None, config: PushConfig | None = None) -> PushServices:
    settings = Settings(data_dir=data_dir, push_allow_http_loopback=True, public_url="https://caseflow.example")
    services = PushServices(settings=settings, store=open_store(data_dir / "store"), clock=clock or Clock(T0))
    services.extra["push_config"] = config or test_config()
    return services


def vapid_public(data_dir: Path) -> str:
    return load_or_create_vapid(data_dir).public_key


def add_user(services: PushServices, username: str, roles=("business_team",), partnership: str = "east-sussex",
             agency: str | None = None) -> dict:
    accounts = Accounts(services.store, services.clock)
    accounts.add_partnership(partnership, partnership)
    return accounts.add_user(username, PASSWORD, partnership, roles, agency=agency)


def add_device(services: PushServices, user: dict, push_service, path: str | None = None) -> dict:
    """Log the user in on a new device (a real session) and subscribe it at the fake push service."""
    accounts = Accounts(services.store, services.clock)
    device_id = f"device-{uuid.uuid4().hex[:12]}"
    accounts.open_session(user, device_id)
    sub_info = push_service.subscription(path)
    sub, _ = subscribe(services.store, user_id=user["user_id"], device_id=device_id, partnership=user["partnership"],
                       endpoint=sub_info["endpoint"], keys=sub_info["keys"], at=rfc3339(services.clock.now()))
    return {**sub, "path": sub_info["endpoint"][len(push_service.origin):]}


def write_alert(services: PushServices, recipients: list[str], *, kind: str = "state_entered",
                case_id: str | None = None, reference: str = "ESX-2026-0001", state: str = "sin_consideration",
                **what: Any) -> str:
    """An alert written by the real ``Ctx.alert`` in a unit of work (as a command handler does)."""
    case = {"case_id": case_id or str(uuid.uuid4()), "reference": reference, "partnership": "east-sussex",
            "state": state}
    actor = Actor(user_id="someone", username="someone", partnership="east-sussex", roles=frozenset({"crg_member"}))
    with services.store.transaction() as uow:
        ctx = Ctx(uow=uow, actor=actor, forms=None, case_types=None, now=services.clock.now(),
                  today=services.clock.today(), mutation_id=uuid.uuid4().hex, device_id=None)
        ctx.alert(case, kind, recipients, **what)
    return next(d.id for d in uow.result.documents if d.collection == "alerts")
