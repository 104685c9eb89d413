"""``caseflow forms``: check, publish (lock) and start new versions of form definitions."""

from __future__ import annotations

import copy
import json
from datetime import date
from pathlib import Path

import click

from . import lock as lockfile
from .bounds import with_default_bounds
from .checks import check_definitions
from .registry import LOCAL_SUBDIR, default_definitions_dir, read_layers

_SHIPPED_OPTION = click.option("--dir", "directory", type=click.Path(file_okay=False, path_type=Path), default=None,
                               help="Definitions directory (default: the one shipped in the package).")
_LOCAL_OPTION = click.option(
    "--definitions", "definitions", envvar="CASEFLOW_DEFINITIONS_DIR",
    type=click.Path(exists=True, file_okay=False, path_type=Path), default=None,
    help=f"A deployment's own definitions directory (CASEFLOW_DEFINITIONS_DIR): its {LOCAL_SUBDIR}/ folder is "
         f"loaded beside the shipped forms, and publish and new-version write there, never into the package.")


def _DIR_OPTION(fn):  # noqa: N802 - used as a decorator, like the click options it stacks
    return _SHIPPED_OPTION(_LOCAL_OPTION(fn))


def _local(definitions: Path | None, *, create: bool = False) -> Path | None:
    """``<definitions>/forms`` (created when ``create``), or None when there is none."""
    if definitions is None:
        return None
    folder = definitions / LOCAL_SUBDIR
    if create:
        folder.mkdir(exist_ok=True)
    return folder if folder.is_dir() else None


@click.group("forms")
def forms_cli() -> None:
    """Form definitions: one JSON file per version of each form."""


@forms_cli.command("check")
@_DIR_OPTION
@click.option("--allow-unpublished", is_flag=True, help="Do not report versions missing from the lock file.")
def check_cmd(directory: Path | None, definitions: Path | None, allow_unpublished: bool) -> None:
    """Check every definition; one line per problem, exit 1 if any."""
    problems = check_definitions(directory, today=date.today(), allow_unpublished=allow_unpublished,
                                 local=_local(definitions))
    for line in problems:
        click.echo(line)
    if problems:
        raise SystemExit(1)
    click.echo("forms OK")


@forms_cli.command("publish")
@_DIR_OPTION
@click.argument("form_ids", nargs=-1)
def publish_cmd(directory: Path | None, definitions: Path | None, form_ids: tuple[str, ...]) -> None:
    """Add the unpublished versions (of FORM_IDS, or of every form) to the lock file.

    Refuses while any definition has a problem; never changes the hash of a published version.
    With --definitions only that directory's forms are published, in its own lock file.
    """
    directory = directory or default_definitions_dir()
    local = _local(definitions)
    problems = check_definitions(directory, today=date.today(), allow_unpublished=True, local=local)
    if problems:
        for line in problems:
            click.echo(line)
        raise click.ClickException("fix the problems above before publishing")
    if definitions is not None and local is None:
        click.echo("nothing to publish")
        return
    target = local or directory
    raws = {Path(label).name: raw for label, raw in read_layers(directory, local)[0].by_directory[target].items()}
    locked = lockfile.read_lock(target)
    added = [name for name, raw in sorted(raws.items())
             if name not in locked and (not form_ids or raw["form_id"] in form_ids)]
    for name in added:
        locked[name] = lockfile.content_hash(raws[name])
    lockfile.write_lock(target, locked)
    for name in added:
        click.echo(f"published {name}")
    if not added:
        click.echo("nothing to publish")


@forms_cli.command("new-version")
@_DIR_OPTION
@click.argument("form_id")
def new_version_cmd(directory: Path | None, definitions: Path | None, form_id: str) -> None:
    """Copy the latest version of FORM_ID to a new, unpublished version with an empty migration.

    With --definitions the new file goes into that directory's forms folder (the latest version
    may be a shipped one: a deployment can carry a shipped form forward)."""
    directory = directory or default_definitions_dir()
    local = _local(definitions, create=True)
    layers, _ = read_layers(directory, local)
    versions = {raw["version"]: raw for raw in layers.files.values()
                if isinstance(raw, dict) and raw.get("form_id") == form_id}
    if not versions:
        raise click.ClickException(f"there is no form called {form_id}")
    latest = max(versions)
    new = copy.deepcopy(versions[latest])
    new.pop("accept_until", None)
    new["version"] = latest + 1
    new["schema"] = with_default_bounds(new["schema"])  # every array and string with its limit (ADR 0012)
    new["migration"] = {"from_version": latest, "notes": "Describe what changed.", "renamed": [], "dropped": [],
                        "defaulted": []}
    target = Path(local or directory) / f"{form_id}.v{latest + 1}.json"
    if target.exists():
        raise click.ClickException(f"{target.name} already exists")
    target.write_text(lockfile.dump_definition(new), encoding="utf-8")
    click.echo(f"wrote {target}; edit it, run `caseflow forms check`, then `caseflow forms publish {form_id}`. "
               f"To retire version {latest}, set its accept_until.")


@forms_cli.command("list")
@_DIR_OPTION
def list_cmd(directory: Path | None, definitions: Path | None) -> None:
    """Every form with its versions, as JSON."""
    from .registry import FormRegistry

    registry = FormRegistry.load(directory, local=_local(definitions))
    click.echo(json.dumps([f.to_dict() for f in registry.forms()], indent=2))


forms_cli.add_command(publish_cmd, "lock")  # the same command under the name the lock file suggests
