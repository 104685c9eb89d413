"""``caseflow push keys|deliver`` and ``caseflow deadlines tick`` (mounted by server/cli.py).

The embedded store admits one process: while ``caseflow serve`` runs (it has the worker and the
scheduler inside), these commands stop with a clear message instead of waiting.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click

from server.config import Settings
from store import StoreError
from sync.clock import Clock


@dataclass
class PushServices:
    """The part of ``server.app.Services`` the delivery worker needs (no HTTP app, no definitions)."""

    settings: Settings
    store: Any
    clock: Clock = field(default_factory=Clock)
    extra: dict[str, Any] = field(default_factory=dict)


def _settings(data: str | None) -> Settings:
    return Settings.from_env(data_dir=Path(data) if data else None)


def _locked(exc: StoreError) -> click.ClickException:
    return click.ClickException(
        f"{exc}\nIf 'caseflow serve' is running it already delivers alerts and scans deadlines "
        "(every CASEFLOW_DEADLINE_SCAN_MINUTES); these commands are for when it is not.")


@click.group("push")
def push_cli() -> None:
    """Web Push: VAPID keys and the delivery worker."""


@push_cli.command("keys")
@click.option("--data", default=None, help="Data directory (default ./var or CASEFLOW_DATA_DIR).")
def keys(data: str | None) -> None:
    """Create the VAPID key pair if missing and print the public key (the applicationServerKey)."""
    from server.push.vapid import key_path, load_or_create_vapid

    settings = _settings(data)
    existed = key_path(settings.data_dir).exists()
    vapid = load_or_create_vapid(settings.data_dir)
    click.echo(f"{'existing' if existed else 'created'} {vapid.path}", err=True)
    click.echo(vapid.public_key)


@push_cli.command("deliver")
@click.option("--data", default=None, help="Data directory (default ./var or CASEFLOW_DATA_DIR).")
@click.option("--loop/--once", default=False, show_default=True,
              help="Keep delivering (retries included) until interrupted, or make passes until nothing is due now.")
def deliver(data: str | None, loop: bool) -> None:
    """Deliver pending alerts without the server (the server's own worker does this while it runs)."""
    from server import logs
    from server.push.config import push_config
    from server.push.worker import close_sender, deliver_pending, next_due, recover_interrupted
    from store import open_store

    settings = _settings(data)
    logs.configure(settings.log_level)
    try:
        store = open_store(settings.data_dir / "store")
    except StoreError as exc:
        raise _locked(exc) from exc
    services = PushServices(settings=settings, store=store)
    total: dict[str, int] = {}
    try:
        recover_interrupted(services)
        while True:
            stats = deliver_pending(services)
            for k, v in stats.items():
                total[k] = total.get(k, 0) + v
            due = next_due(services)
            if due is None and not loop:
                break
            if not loop and due is not None and due > time.time():
                break  # only retries later than now remain: the next run (or the server) sends them
            time.sleep(push_config(services).interval if due is None else max(0.05, min(due - time.time(), 5)))
    except KeyboardInterrupt:  # pragma: no cover - interactive
        pass
    finally:
        close_sender(services)
        store.close()
    click.echo(json.dumps(total, sort_keys=True))


@click.group("deadlines")
def deadlines_cli() -> None:
    """Statutory deadline reminders and escalation."""


@deadlines_cli.command("tick")
@click.option("--data", default=None, help="Data directory (default ./var or CASEFLOW_DATA_DIR).")
@click.option("--today", "today", default=None, help="Scan as of this date (YYYY-MM-DD); default: today in England.")
@click.option("--deliver/--no-deliver", default=True, show_default=True,
              help="Also make one delivery pass for the alerts written.")
def tick(data: str | None, today: str | None, deliver: bool) -> None:
    """Write today's reminder and escalation alerts (idempotent: safe to run from cron as often as you like)."""
    from server import logs
    from server.app import create_app
    from server.push.deadlines import scan_deadlines
    from server.push.worker import close_sender, deliver_pending, recover_interrupted

    day = None
    if today:
        try:
            day = dt.date.fromisoformat(today)
        except ValueError:
            raise click.BadParameter("use YYYY-MM-DD", param_hint="--today") from None
    settings = _settings(data)
    logs.configure(settings.log_level)
    try:
        app = create_app(settings)
    except StoreError as exc:
        raise _locked(exc) from exc
    services = app.extensions["caseflow"]
    if services.case_types is None:
        services.store.close()
        raise click.ClickException("the case-type definitions could not be loaded, so there are no deadlines to scan")
    try:
        stats = scan_deadlines(services, day, force=day is not None)
        if deliver:
            recover_interrupted(services)
            stats["delivery"] = deliver_pending(services)
    finally:
        close_sender(services)
        services.store.close()
    click.echo(json.dumps(stats, sort_keys=True))


if __name__ == "__main__":  # pragma: no cover - ``python -m server.push.cli push deliver``
    cli = click.Group(commands={"push": push_cli, "deadlines": deadlines_cli})
    cli(prog_name=Path(sys.argv[0]).name)
