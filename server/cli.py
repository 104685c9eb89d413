"""The ``caseflow`` command: serve, admin commands, definition checks."""

from __future__ import annotations

import gc
import json
import logging
import os
import sys
from pathlib import Path

import click

from server.config import Settings
from store import StoreError

log = logging.getLogger("caseflow.cli")


def _settings(data: str | None, **overrides) -> Settings:
    return Settings.from_env(data_dir=Path(data) if data else None, **overrides)


@click.group()
def main() -> None:
    """caseflow: offline-first statutory case work."""


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--data", "data", default=None, help="Data directory (default ./var or CASEFLOW_DATA_DIR).")
@click.option("--store", "store_url", default=None,
              help="postgresql://USER@HOST:PORT/DB to use the PostgreSQL store (default: CASEFLOW_STORE, else "
                   "the embedded store in the data directory).")
@click.option("--workers", default=None, type=click.IntRange(1, 64),
              help="Server processes (gunicorn; PostgreSQL store only). Default: CASEFLOW_WORKERS or 1.")
@click.option("--demo", is_flag=True, help="Load the demo fixture (idempotent). Never in production.")
@click.option("--definitions", "definitions", default=None, type=click.Path(path_type=Path),
              help="A deployment's own definitions directory (forms/, case_types/), loaded beside the shipped "
                   "ones (default: CASEFLOW_DEFINITIONS_DIR).")
def serve(host: str, port: int, data: str | None, store_url: str | None, workers: int | None, demo: bool,
          definitions: Path | None) -> None:
    """Run the API: waitress (one process, threads) or, on PostgreSQL, N gunicorn worker processes."""
    from server import logs

    settings = _settings(data, definitions_dir=definitions, store_url=store_url)
    settings.demo = demo or settings.demo
    workers = workers or int(os.environ.get("CASEFLOW_WORKERS") or 1)
    logs.configure(settings.log_level)
    postgres = bool(settings.store_url)
    if workers > 1 and not postgres:
        raise click.ClickException("--workers above 1 needs the PostgreSQL store (--store postgresql://...): "
                                   "the embedded store belongs to one process")
    if postgres:  # before prometheus_client is imported: the workers' /metrics sum all workers
        from server.multiproc import prepare_metrics_dir

        prepare_metrics_dir(settings.data_dir)
    app = _checked_app(settings)  # in this process: migrations, demo, integrity check, secrets, once
    click.echo(f"caseflow listening on http://{host}:{port} "
               f"({'store: ' + _redacted(settings.store_url) if postgres else 'data: ' + str(settings.data_dir)}"
               f"{f', {workers} workers' if postgres else ''})", err=True)
    sys.stderr.flush()
    if postgres:
        app.extensions["caseflow"].store.close()  # no pool may cross the fork: each worker opens its own
        _serve_workers(settings, host, port, workers)
        return
    from server.admin.operator import clear_address, record_address
    from server.edge import parse_networks
    from server.httpserver import make_server
    from server.leader import start_background_jobs

    stop_jobs = start_background_jobs(app)
    services = app.extensions["caseflow"]
    record_address(settings.data_dir, host, port)  # where the caseflow command finds this server (ADR 0020)
    try:
        srv = make_server(app, host=host, port=port, threads=settings.threads, max_body_bytes=settings.max_body_bytes,
                          trusted_proxies=parse_networks(settings.trusted_proxies))
        gc.freeze()  # again: the background jobs and the HTTP server imported more long-lived modules (ADR 0036)
        srv.run()
    finally:
        clear_address(settings.data_dir)
        stop_jobs()
        services.store.close()


def _redacted(url: str | None) -> str:
    from store.postgres import redact

    return redact(url or "")


def _checked_app(settings: Settings):
    """The app, with the demo loaded if asked and the store's integrity checked (exits on problems)."""
    from server.app import create_app
    from server.definitions import DefinitionsBroken
    from server.demo import load_demo

    try:
        app = create_app(settings)
    except StoreError as exc:
        raise click.ClickException(str(exc)) from exc
    except DefinitionsBroken as exc:
        # every problem, one a line, each naming its file; nothing is served half-loaded
        for problem in exc.problems:
            click.echo(f"definitions: {problem}", err=True)
        raise click.ClickException("the definitions have problems (listed above); the server was not started") \
            from None
    services = app.extensions["caseflow"]
    problems = services.store.verify()
    if problems:
        for p in problems:
            click.echo(f"store: {p}", err=True)
        raise click.ClickException("store integrity check failed; run 'caseflow store check'")
    if settings.demo:
        added = load_demo(services.accounts, settings.demo_password)
        click.echo(f"demo fixture loaded (added {json.dumps(added)})", err=True)
    # the loaded store and definitions live as long as the process: keep them out of every later
    # collection (a full one walked them all, ~0.1 s of CPU at 100k documents: a pause; issue #15)
    gc.freeze()
    return app


def _serve_workers(settings: Settings, host: str, port: int, workers: int) -> None:
    from server.app import create_app
    from server.leader import start_background_jobs
    from server.multiproc import serve_workers

    def build_app():  # in each worker, after the fork
        app = create_app(settings)
        start_background_jobs(app)
        return app

    serve_workers(build_app, host=host, port=port, workers=workers, threads=settings.threads,
                  max_body=settings.max_body_bytes)


# -- store ---------------------------------------------------------------------
@main.group()
def store() -> None:
    """Store maintenance: check, copy between stores, backup and restore."""


@store.command("check")
@click.option("--data", default=None)
@click.option("--store", "store_url", default=None, help="postgresql://… to check the PostgreSQL store.")
def store_check(data, store_url) -> None:
    """Check the store's integrity (journal, documents, change feed, audit chain)."""
    from server.storecli import check_postgres
    from store import check_data_dir

    settings = _settings(data, store_url=store_url)
    try:
        problems = (check_postgres(settings.store_url) if settings.store_url
                    else check_data_dir(settings.data_dir / "store"))
    except StoreError as exc:
        raise click.ClickException(str(exc)) from exc
    for p in problems:
        click.echo(p)
    if problems:
        raise SystemExit(1)
    click.echo("store OK")


# -- audit ---------------------------------------------------------------------
@main.group()
def audit() -> None:
    """The hash-chained audit log (read-only; stop the server first)."""


def _cannot_check(exc: StoreError) -> SystemExit:
    """Exit 2, distinct from 1 (a broken chain): the check could not run at all."""
    click.echo(f"audit: cannot check: {exc}", err=True)
    return SystemExit(2)


@audit.command("verify")
@click.option("--data", default=None)
@click.option("--store", "store_url", default=None, help="postgresql://… to verify the PostgreSQL store's chain "
              "(read-only, while servers run).")
@click.option("--anchor", default=None, help="A head hash printed earlier: it must still be in the chain.")
def audit_verify(data, store_url, anchor) -> None:
    """Recompute the audit hash chain. Exit 0 intact, 1 broken (names the first broken entry),
    2 when it cannot run (a server holds the data directory, or there is no store)."""
    from server.storecli import verify_audit_postgres
    from store.auditcheck import verify_audit

    settings = _settings(data, store_url=store_url)
    try:
        report = (verify_audit_postgres(settings.store_url, anchor) if settings.store_url
                  else verify_audit(settings.data_dir / "store", anchor=anchor))
    except StoreError as exc:
        raise _cannot_check(exc) from None
    for note in report.notes:
        click.echo(f"note: {note}", err=True)
    if report.intact:
        click.echo(f"audit chain intact: {report.entries} entries checked; head {report.head}")
        return
    for problem in report.problems:
        click.echo(problem, err=True)
    where = f"at entry {report.first_broken}" if report.first_broken else ""
    click.echo(f"audit chain BROKEN {where} ({report.entries} entries read)".replace("  ", " "), err=True)
    raise SystemExit(1)


@audit.command("show")
@click.argument("case_id")
@click.option("--data", default=None)
def audit_show(case_id, data) -> None:
    """One case's audit entries: n, time, action, user id, roles, device id and the ids it touched."""
    from store.auditcheck import audit_entries

    try:
        entries = audit_entries(_settings(data).data_dir / "store", subject=case_id)
    except StoreError as exc:
        raise _cannot_check(exc) from None
    for e in entries:
        by = e.entry.get("by") or {}
        what = {k: v for k, v in e.entry.items() if k not in ("action", "by", "device_id", "case_id")}
        click.echo(f"{e.n}\t{e.at}\t{e.entry.get('action')}\t{by.get('user_id')}\t{','.join(by.get('roles', []))}"
                   f"\t{e.entry.get('device_id')}\t{json.dumps(what, sort_keys=True)}")


def _mount_store_tools() -> None:
    from server.storecli import register

    register(store)


_mount_store_tools()


def _mount_commands() -> None:
    """The admin, definition and push tools; each is part of the package, so a failed import is an error."""
    from forms.cli import forms_cli
    from server.admin.cli import COMMANDS
    from server.push.cli import deadlines_cli, push_cli
    from statemachines.cli import check_cli

    for command in COMMANDS:  # init, partnerships, users, agencies, devices: the admin API (server/admin/cli.py)
        main.add_command(command)
    main.add_command(forms_cli, "forms")
    main.add_command(push_cli, "push")
    main.add_command(deadlines_cli, "deadlines")
    main.add_command(check_cli, "check")


_mount_commands()

if __name__ == "__main__":  # pragma: no cover
    main(prog_name=os.path.basename(sys.argv[0]))
