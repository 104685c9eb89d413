"""``caseflow store copy|backup|restore`` and the PostgreSQL side of ``store check`` / ``audit verify``.

* ``store copy --from SRC --to DST``: SRC and DST are each a data directory or a ``postgresql://``
  URL; DST must be new and empty. The whole installation's store moves, audit chain included; the
  copy is then compared with the source record by record and verified. The source is opened like
  any store (stop the server that holds an embedded one first).
* ``store backup --data DIR --to DEST``: an online, consistent copy of a running embedded store's files.
* ``store restore --from BACKUP --data DIR``: a backup (or a copy) put in place as DIR's store and checked.
PostgreSQL backups: ``store copy --from postgresql://… --to DIR`` (one consistent snapshot), restored
with ``store copy --from DIR --to postgresql://…`` into an empty database (docs/store.md).
"""

from __future__ import annotations

import os
import shutil

import click

from store import StoreError


def _is_url(target: str) -> bool:
    return target.startswith(("postgresql://", "postgres://"))


def _shown(target: str) -> str:
    if _is_url(target):
        from store.postgres import redact

        return redact(target)
    return target


def register(store_group: click.Group) -> None:
    store_group.add_command(copy_cmd)
    store_group.add_command(backup_cmd)
    store_group.add_command(restore_cmd)


@click.command("copy")
@click.option("--from", "source", required=True, help="A store directory (DATA/store) or postgresql://…")
@click.option("--to", "target", required=True, help="A new, empty directory or an empty postgresql://… database.")
def copy_cmd(source: str, target: str) -> None:
    """Copy a whole store between the embedded store and PostgreSQL (either way), then verify the copy."""
    from store import open_store
    from store.transfer import copy_store

    if not _is_url(source) and not os.path.exists(os.path.join(source, "checkpoint.json")):
        raise click.ClickException(f"there is no store in {source} (give the store directory, e.g. DATA/store)")
    try:
        options = {} if _is_url(source) else {"create": False, "background_checkpoint": False}
        with open_store(source, **options) as src:
            report = copy_store(src, target)
    except StoreError as exc:
        raise click.ClickException(str(exc)) from exc
    for p in report.problems:
        click.echo(f"copy: {p}", err=True)
    if report.problems:
        raise SystemExit(1)
    click.echo(f"copied {report.documents} documents, {report.audit_entries} audit entries, last seq "
               f"{report.last_seq} from {_shown(source)} to {_shown(target)}; verified (digest {report.digest[:16]})")


@click.command("backup")
@click.option("--data", default=None, help="Data directory of the (running or stopped) server.")
@click.option("--to", "dest", required=True, help="A new, empty directory for the backup.")
def backup_cmd(data: str | None, dest: str) -> None:
    """Online backup of the embedded store: a consistent snapshot of its files, taken while it runs."""
    from server.config import Settings
    from store.transfer import backup_data_dir

    settings = Settings.from_env(data_dir=data)
    try:
        path = backup_data_dir(settings.data_dir / "store", dest)
    except StoreError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"backup written to {path}; restore with: caseflow store restore --from {path} --data DIR")


@click.command("restore")
@click.option("--from", "source", required=True, help="A backup directory (from store backup or store copy).")
@click.option("--data", default=None, help="Data directory to restore into (its store must not exist yet).")
def restore_cmd(source: str, data: str | None) -> None:
    """Put a backup in place as a data directory's store, then run the full integrity check on it."""
    from server.config import Settings
    from store import check_data_dir

    settings = Settings.from_env(data_dir=data)
    target = settings.data_dir / "store"
    if target.exists() and any(target.iterdir()):
        raise click.ClickException(f"{target} already holds a store: restore into a new data directory")
    settings.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    shutil.copytree(source, target, dirs_exist_ok=True, ignore=shutil.ignore_patterns("LOCK"))
    try:
        problems = check_data_dir(target)  # opening recovers a torn journal tail, like after a crash
    except StoreError as exc:
        raise click.ClickException(str(exc)) from exc
    for p in problems:
        click.echo(f"restore: {p}", err=True)
    if problems:
        raise SystemExit(1)
    click.echo(f"restored {source} into {target}; store OK")


def check_postgres(url: str) -> list[str]:
    """``caseflow store check --store URL``: the PostgreSQL store's ``verify()``."""
    from store.postgres import PostgresStore

    with PostgresStore(url, create=False, pool_size=1) as st:
        return st.verify()


def verify_audit_postgres(url: str, anchor: str | None):
    """``caseflow audit verify --store URL``: the chain recomputed in one snapshot (read-only)."""
    from store.postgres.verify import audit_report

    return audit_report(url, anchor)
