"""``caseflow check``: check every case-type definition against the forms catalogue.

One line per problem (``file: path: message``), exit status 1 if there is any error. Forms a
definition names that the forms catalogue does not define yet are reported as warnings (the
definition may be written before its forms); their fields are then not checked.
"""

from __future__ import annotations

from pathlib import Path

import click

from .check import check_paths, definition_files, load_yaml
from .definition import DefinitionError, parse_definition
from .registry import default_definitions_dir

__all__ = ["check_cli", "form_catalogue"]


def form_catalogue() -> tuple[dict[str, set[str]] | None, str | None]:
    """``{form_id: field paths}`` of the latest version of each form, or (None, why not)."""
    try:
        from forms.registry import FormRegistry
    except ImportError as exc:  # pragma: no cover - the forms package ships with caseflow
        return None, f"forms package unavailable ({exc})"
    try:
        registry = FormRegistry.load_default()
    except Exception as exc:  # noqa: BLE001 - a broken forms catalogue is reported, not raised
        return None, f"forms catalogue failed to load ({exc})"
    return {fid: set(registry.field_paths(fid)) for fid in registry.form_ids()}, None


def _missing_forms(paths: list[Path], catalogue: dict[str, set[str]]) -> tuple[set[str], list[DefinitionError]]:
    """Forms named by the definitions but absent from the catalogue, as warnings."""
    missing: set[str] = set()
    warnings: list[DefinitionError] = []
    for path in definition_files(paths):
        raw, errors = load_yaml(path)
        if errors:
            continue
        defn, _ = parse_definition(raw, path.name)
        if defn is None:
            continue
        for fid in sorted(defn.form_ids() - set(catalogue)):
            missing.add(fid)
            warnings.append(DefinitionError(path.name, "", f"warning: form {fid!r} is not defined yet"))
    return missing, warnings


@click.command("check")
@click.argument("paths", nargs=-1, type=click.Path(exists=True, path_type=Path))
@click.option("--no-forms", is_flag=True, help="Do not check form ids and fields against the forms catalogue.")
def check_cli(paths: tuple[Path, ...], no_forms: bool) -> None:
    """Check case-type definitions (default: the shipped ones); exit 1 on any error."""
    targets = list(paths) or [default_definitions_dir()]
    catalogue: dict[str, set[str]] | None = None
    warnings: list[DefinitionError] = []
    if not no_forms:
        catalogue, why = form_catalogue()
        if catalogue is None:
            click.echo(f"warning: {why}; form fields are not checked", err=True)
        else:
            missing, warnings = _missing_forms(targets, catalogue)
            # an empty field set: the form id is accepted and its fields are not checked
            catalogue = {**catalogue, **{fid: _AnyFields() for fid in missing}}
    errors = check_paths(targets, catalogue)
    for w in warnings:
        click.echo(str(w), err=True)
    for e in errors:
        click.echo(str(e))
    files = definition_files(targets)
    if errors:
        click.echo(f"{len(errors)} error(s) in {len(files)} definition file(s)", err=True)
        raise SystemExit(1)
    click.echo(f"case types OK ({len(files)} file(s), {len(warnings)} warning(s))")


class _AnyFields(frozenset):
    """A field set that accepts every field (for forms not defined yet)."""

    def __contains__(self, item: object) -> bool:
        return True
