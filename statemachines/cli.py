"""``caseflow check``: check case-type definitions against the forms catalogue, and inspect them.

``check_cli`` is a click group mounted by the main CLI as ``caseflow check``:

* ``caseflow check [PATHS...] [--no-forms] [--definitions DIR]`` (the default command, also
  ``caseflow check definitions ...``): one line per problem (``file: path: message``), exit status
  1 if there is any error. Forms a definition names that the forms catalogue does not define yet
  are reported as warnings (the definition may be written before its forms); their fields are
  then not checked. ``--definitions DIR`` (or ``CASEFLOW_DEFINITIONS_DIR``) adds a deployment's own
  ``DIR/case_types`` (errors name those files by their full path) and ``DIR/forms`` to the catalogue.
* ``caseflow check describe CASE_TYPE [--version N] [--dir DIR]``: the case type as JSON (what
  ``GET /api/v1/case-types/{case_type}`` serves).
* ``caseflow check diagram CASE_TYPE [--version N] [--dir DIR]``: its Mermaid state diagram.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from .check import check_paths, definition_files, load_yaml
from .definition import DefinitionError, parse_definition
from .registry import LOCAL_SUBDIR, CaseTypeRegistry, default_definitions_dir, local_case_types_dir

__all__ = ["check_cli", "form_catalogue"]


def form_catalogue(definitions: Path | None = None) -> tuple[dict[str, set[str]] | None, str | None]:
    """``{form_id: field paths}`` of the latest version of each form (shipped, plus those of a
    deployment's ``definitions`` directory), or (None, why not)."""
    from forms.registry import FormRegistry  # part of caseflow: a failed import is an error, not a warning

    try:
        registry = FormRegistry.load_deployment(definitions)
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


class _DefaultCommandGroup(click.Group):
    """A group whose first argument, when it is not a sub-command, goes to ``definitions``."""

    default_command = "definitions"

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if not args or (args[0] not in self.commands and args[0] not in ("--help", "-h")):
            args = [self.default_command, *args]
        return super().parse_args(ctx, args)


@click.group("check", cls=_DefaultCommandGroup)
def check_cli() -> None:
    """Check case-type definitions (the default) or show one as JSON or a diagram."""


_DEFINITIONS_OPTION = click.option(
    "--definitions", "definitions", envvar="CASEFLOW_DEFINITIONS_DIR",
    type=click.Path(exists=True, file_okay=False, path_type=Path), default=None,
    help=f"A deployment's own definitions directory (CASEFLOW_DEFINITIONS_DIR): its {LOCAL_SUBDIR}/ are "
         f"checked with the shipped case types, and its forms/ join the forms catalogue.")


@check_cli.command("definitions")
@click.argument("paths", nargs=-1, type=click.Path(exists=True, path_type=Path))
@click.option("--no-forms", is_flag=True, help="Do not check form ids and fields against the forms catalogue.")
@_DEFINITIONS_OPTION
def check_definitions(paths: tuple[Path, ...], no_forms: bool, definitions: Path | None) -> None:
    """Check case-type definitions (default: the shipped ones); exit 1 on any error."""
    targets = list(paths) or [default_definitions_dir()]
    local = local_case_types_dir(definitions)
    catalogue: dict[str, set[str]] | None = None
    warnings: list[DefinitionError] = []
    if not no_forms:
        catalogue, why = form_catalogue(definitions)
        if catalogue is None and definitions is not None:
            # a deployment's own forms are checked here like its case types: broken is an error
            click.echo(why)
            raise SystemExit(1)
        if catalogue is None:
            click.echo(f"warning: {why}; form fields are not checked", err=True)
        else:
            missing, warnings = _missing_forms(targets + ([local] if local else []), catalogue)
            # an empty field set: the form id is accepted and its fields are not checked
            catalogue = {**catalogue, **{fid: _AnyFields() for fid in missing}}
    errors = check_paths(targets, catalogue, local=local)
    for w in warnings:
        click.echo(str(w), err=True)
    for e in errors:
        click.echo(str(e))
    files = definition_files(targets + ([local] if local else []))
    if errors:
        click.echo(f"{len(errors)} error(s) in {len(files)} definition file(s)", err=True)
        raise SystemExit(1)
    click.echo(f"case types OK ({len(files)} file(s), {len(warnings)} warning(s))")


def _load(directory: Path | None, definitions: Path | None) -> CaseTypeRegistry:
    try:
        return CaseTypeRegistry.load_dir(directory or default_definitions_dir(),
                                         local=local_case_types_dir(definitions))
    except ValueError as exc:  # DefinitionInvalid: every error, one per line
        click.echo(str(exc), err=True)
        raise SystemExit(1) from None


_case_type_options = [
    click.argument("case_type"),
    click.option("--version", "version", type=int, default=None, help="A version (default: the latest)."),
    click.option(
        "--dir",
        "directory",
        type=click.Path(exists=True, file_okay=False, path_type=Path),
        default=None,
        help="A definitions directory (default: the shipped one).",
    ),
    _DEFINITIONS_OPTION,
]


def _with_case_type_options(fn):  # type: ignore[no-untyped-def]
    for option in reversed(_case_type_options):
        fn = option(fn)
    return fn


def _case_type(case_type: str, version: int | None, directory: Path | None,  # type: ignore[no-untyped-def]
               definitions: Path | None):
    registry = _load(directory, definitions)
    try:
        return registry.get(case_type, version)
    except KeyError:
        known = ", ".join(ct.case_type for ct in registry.case_types())
        click.echo(
            f"unknown case type {case_type!r}" + (f" version {version}" if version else "") + f" (known: {known})",
            err=True,
        )
        raise SystemExit(1) from None


@check_cli.command("describe")
@_with_case_type_options
def describe_case_type(case_type: str, version: int | None, directory: Path | None,
                       definitions: Path | None) -> None:
    """Print a case type as JSON (states, transitions, approvals, forms, deadlines)."""
    click.echo(json.dumps(_case_type(case_type, version, directory, definitions).describe(), indent=2))


@check_cli.command("diagram")
@_with_case_type_options
def diagram_case_type(case_type: str, version: int | None, directory: Path | None,
                      definitions: Path | None) -> None:
    """Print a case type's Mermaid state diagram."""
    click.echo(_case_type(case_type, version, directory, definitions).mermaid(), nl=False)


class _AnyFields(frozenset):
    """A field set that accepts every field (for forms not defined yet)."""

    def __contains__(self, item: object) -> bool:
        return True
