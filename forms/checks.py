"""``caseflow forms check``: everything that can be wrong with the definitions, as plain functions.

Each problem is one line, ``<file>: <JSON Pointer inside the file>: <what is wrong>``.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

from . import lock as lockfile
from .bounds import GRANDFATHERED, unbounded_fields
from .errors import DefinitionError, FieldError
from .registry import FormRegistry, FormVersion, default_definitions_dir, read_layers, structural_problems
from .schema_tools import escape_pointer, iter_subschemas, split_path, validation_schema
from .validation import FORMAT_CHECKER, ReferenceValidator, build_validator, to_field_errors, today_is


def validate_version(fv: FormVersion, data: Any, *, final: bool, today: date) -> list[FieldError]:
    """Validate against one loaded version, ignoring ``accept_until`` (for checks and tests)."""
    return fv.errors(data, final=final, today=today)


def slow_errors(fv: FormVersion, data: Any, *, final: bool, today: date) -> list[FieldError]:
    """The same answer from jsonschema alone, without the fast path (nor its use on array items)."""
    schema = (fv.final_validator if final else fv.draft_validator).schema
    validator = ReferenceValidator(schema, format_checker=FORMAT_CHECKER)
    with today_is(today):
        return to_field_errors(validator.iter_errors(data), fv.enum_labels)


def fast_path_problems(fv: FormVersion, data: Any, *, final: bool, today: date) -> list[str]:
    """The fast yes/no check must agree with jsonschema (it is only ever trusted to say "valid")."""
    fast = fv.fast_final if final else fv.fast_draft
    if fast is None:
        return []
    quick = fast(data, today)
    full = not slow_errors(fv, data, final=final, today=today)
    if quick != full:
        mode = "final" if final else "draft"
        return [f"the fast check says {'valid' if quick else 'invalid'} but jsonschema says "
                f"{'valid' if full else 'invalid'} ({mode}); report this as a bug in forms/fastcheck.py"]
    return []


def check_definitions(directory: Path | str | None = None, *, today: date | None = None,
                      allow_unpublished: bool = False, local: Path | str | None = None) -> list[str]:
    """Every problem with the definitions of ``directory`` (the shipped ones by default).

    Checks: file names and format, each schema against the 2020-12 meta-schema, no ``$ref``,
    versions without gaps, every array and string of a version that is not grandfathered declares
    its own limit (``maxItems``/``maxLength``, ADR 0012), the ui_schema names real fields and valid
    choices, every example
    instance is valid (final and draft) and every counter-example fails with exactly the paths
    it expects, each migration names real fields and accounts for every field the previous version
    had, and the lock file: published versions unchanged, every version published (unless
    ``allow_unpublished``), no lock entry without its file. With ``local`` (a deployment's own forms
    folder) its files are checked with the shipped ones, each against its own directory's lock.
    """
    directory = Path(directory) if directory is not None else default_definitions_dir()
    local = Path(local) if local is not None else None
    today = today or date.today()
    layers, problems = read_layers(directory, local)
    for name, raw in layers.files.items():
        problems += structural_problems(name, raw)
    if problems:
        return problems
    try:
        registry = FormRegistry.load(directory, verify_lock=False, local=local)
    except DefinitionError as exc:
        return exc.problems
    for form_id in registry.form_ids():
        previous: FormVersion | None = None
        for number in registry.versions(form_id):
            fv = registry.get(form_id, number)
            problems += [f"{fv.filename}: {p}" for p in _extension_problems(fv)]
            if (form_id, number) not in GRANDFATHERED:  # ADR 0012: new versions declare their own limits
                problems += [f"{fv.filename}: /schema{p}" for p in unbounded_fields(fv.schema)]
            problems += [f"{fv.filename}: {p}" for p in ui_schema_problems(fv)]
            problems += [f"{fv.filename}: {p}" for p in example_problems(fv, today)]
            if previous is not None:
                problems += [f"{fv.filename}: {p}" for p in migration_problems(previous, fv)]
            previous = fv
    for folder, raws in layers.by_directory.items():
        problems += lock_problems(folder, raws, allow_unpublished=allow_unpublished, label_with_path=folder == local)
    return problems


def _extension_problems(fv: FormVersion) -> Iterator[str]:
    for ptr, sub in iter_subschemas(fv.schema):
        if "x-not-future" in sub and sub.get("format") != "date":
            yield f"/schema{ptr}/x-not-future: only a field with format date can be checked against today"
        keys = sub.get("x-unique-keys")
        if keys is not None and (not isinstance(keys, list) or not all(isinstance(k, str) for k in keys)):
            yield f"/schema{ptr}/x-unique-keys: must be a list of row field names"
        if keys and sub.get("type") != "array":
            yield f"/schema{ptr}/x-unique-keys: only an array of rows can have unique keys"


def _allowed_values(sub: dict[str, Any]) -> list[Any] | None:
    if "enum" in sub:
        return list(sub["enum"])
    if sub.get("type") == "boolean":
        return [True, False]
    items = sub.get("items")
    if isinstance(items, dict) and "enum" in items:
        return list(items["enum"])
    return None


def _condition_problems(cond: Any, fv: FormVersion, where: str) -> Iterator[str]:
    if not isinstance(cond, dict):
        return
    for key in ("all", "any"):
        for i, part in enumerate(cond.get(key) or []):
            yield from _condition_problems(part, fv, f"{where}/{key}/{i}")
    if "field" not in cond:
        return
    target = fv.fields.get(cond["field"])
    if target is None:
        yield f"{where}/field: {cond['field']} is not a field of this form"
        return
    allowed = _allowed_values(target)
    values = [cond["equals"]] if "equals" in cond else list(cond.get("in") or [])
    if allowed is not None:
        for value in values:
            if value not in allowed or (isinstance(value, bool) != any(isinstance(a, bool) for a in allowed)):
                yield f"{where}: {value!r} is not one of the choices of {cond['field']}"


def ui_schema_problems(fv: FormVersion) -> list[str]:
    """The ui_schema names only real fields and choices, and every top-level field has a section."""
    ui = fv.ui_schema
    out: list[str] = []
    listed: dict[str, str] = {}
    for i, section in enumerate(ui.get("sections", [])):
        where = f"/ui_schema/sections/{i}"
        for j, path in enumerate(section.get("fields", [])):
            if path not in fv.fields:
                out.append(f"{where}/fields/{j}: {path} is not a field of this form")
            elif path in listed:
                out.append(f"{where}/fields/{j}: {path} is already in section {listed[path]}")
            else:
                listed[path] = section.get("id", str(i))
        out += _condition_problems(section.get("show_if"), fv, f"{where}/show_if")
    for prop in fv.schema.get("properties", {}):
        if not any(p == prop or p.startswith(prop + ".") or p.startswith(prop + "[]") for p in listed):
            out.append(f"/ui_schema/sections: field {prop} is in no section")
    for path, spec in (ui.get("fields") or {}).items():
        where = f"/ui_schema/fields/{escape_pointer(path)}"
        sub = fv.fields.get(path)
        if sub is None:
            out.append(f"{where}: {path} is not a field of this form")
            continue
        widget = spec.get("widget")
        items = sub.get("items") if isinstance(sub.get("items"), dict) else {}
        if widget in ("table", "repeat") and not (sub.get("type") == "array" and items.get("type") == "object"):
            out.append(f"{where}/widget: a {widget} needs an array of rows")
        if widget == "date" and sub.get("format") != "date":
            out.append(f"{where}/widget: a date widget needs a field with format date")
        if widget == "checkboxes" and not (sub.get("type") == "array" and "enum" in items):
            out.append(f"{where}/widget: checkboxes need an array of choices")
        for k, column in enumerate(spec.get("columns") or []):
            if f"{path}[].{column}" not in fv.fields:
                out.append(f"{where}/columns/{k}: {column} is not a field of each row")
        allowed = _allowed_values(sub)
        for value in spec.get("enum_labels") or {}:
            if allowed is None or value not in allowed:
                out.append(f"{where}/enum_labels/{escape_pointer(value)}: {value} is not a choice of {path}")
        out += _condition_problems(spec.get("show_if"), fv, f"{where}/show_if")
    return out


def example_problems(fv: FormVersion, today: date) -> list[str]:
    """Valid examples pass (final and draft); counter-examples fail with exactly the paths given."""
    out: list[str] = []
    for i, data in enumerate(fv.examples.get("valid", [])):
        for mode, final in (("final", True), ("draft", False)):
            errors = validate_version(fv, data, final=final, today=today)
            out += [f"/examples/valid/{i}: {p}" for p in fast_path_problems(fv, data, final=final, today=today)]
            if errors:
                listed = "; ".join(f"{e.path or '/'} ({e.message})" for e in errors)
                out.append(f"/examples/valid/{i}: should be a valid {mode} but has errors: {listed}")
    for i, case in enumerate(fv.examples.get("invalid", [])):
        final = case.get("final", True)
        errors = validate_version(fv, case["data"], final=final, today=today)
        out += [f"/examples/invalid/{i}: {p}" for p in fast_path_problems(fv, case["data"], final=final,
                                                                           today=today)]
        got = {e.path for e in errors}
        expected = set(case["errors"])
        if got != expected:
            missing = ", ".join(sorted(expected - got)) or "none"
            extra = ", ".join(f"{e.path or '/'} ({e.message})" for e in errors if e.path not in expected) or "none"
            out.append(f"/examples/invalid/{i}: expected errors at exactly {sorted(expected)}; "
                       f"missing: {missing}; unexpected: {extra}")
    return out


def _covered(path: str, by: set[str]) -> bool:
    return any(path == b or path.startswith(b + ".") or path.startswith(b + "[]") for b in by)


def migration_problems(previous: FormVersion, fv: FormVersion) -> list[str]:
    """A version's migration names real fields and accounts for every field the previous one lost."""
    out: list[str] = []
    mig = fv.migration or {}
    if mig and mig.get("from_version") != previous.version:
        out.append(f"/migration/from_version: must be {previous.version}, the version before this one")
    old, new = previous.fields, fv.fields
    renamed_from: set[str] = set()
    for i, rule in enumerate(mig.get("renamed", [])):
        where = f"/migration/renamed/{i}"
        if rule["from"] not in old:
            out.append(f"{where}/from: {rule['from']} is not a field of version {previous.version}")
        if rule["to"] not in new:
            out.append(f"{where}/to: {rule['to']} is not a field of version {fv.version}")
        rows_from = [p for p in split_path(rule["from"])][: _last_row(rule["from"]) + 1]
        rows_to = [p for p in split_path(rule["to"])][: _last_row(rule["to"]) + 1]
        if rows_from != rows_to:
            out.append(f"{where}: a rename may not move a field into or out of a row")
        renamed_from.add(rule["from"])
    dropped: set[str] = set()
    for i, rule in enumerate(mig.get("dropped", [])):
        where = f"/migration/dropped/{i}/field"
        if rule["field"] not in old:
            out.append(f"{where}: {rule['field']} is not a field of version {previous.version}")
        elif rule["field"] in new:
            out.append(f"{where}: {rule['field']} is still a field of version {fv.version}; do not drop it")
        dropped.add(rule["field"])
    for i, rule in enumerate(mig.get("defaulted", [])):
        where = f"/migration/defaulted/{i}"
        sub = new.get(rule["field"])
        if sub is None:
            out.append(f"{where}/field: {rule['field']} is not a field of version {fv.version}")
            continue
        if not build_validator(validation_schema(sub)).is_valid(rule["value"]):
            out.append(f"{where}/value: the default is not a valid value of {rule['field']}")
    for path in sorted(set(old) - set(new)):
        parent_gone = any(path.startswith(p + ".") or path.startswith(p + "[]")
                          for p in set(old) - set(new) if p != path)
        if not parent_gone and not _covered(path, renamed_from | dropped):
            out.append(f"/migration: field {path} of version {previous.version} is not in version {fv.version}; "
                       f"declare it as renamed or dropped")
    return out


def _last_row(path: str) -> int:
    parts = split_path(path)
    return max((i for i, p in enumerate(parts) if p == "[]"), default=-1)


def lock_problems(directory: Path, raws: dict[str, dict[str, Any]], *, allow_unpublished: bool,
                  label_with_path: bool = False) -> list[str]:
    """Published versions unchanged; every version published; no lock entry without its file.

    ``raws`` are keyed by label (a bare file name, or a path when ``label_with_path``)."""
    out: list[str] = []
    locked = lockfile.read_lock(directory)
    for name, raw in sorted(raws.items()):
        if Path(name).name in locked:
            if lockfile.content_hash(raw) != locked[Path(name).name]:
                out.append(f"{name}: /: changed after it was published. Published versions are immutable: "
                           f"restore it and make the change in a new version "
                           f"(caseflow forms new-version {raw.get('form_id')})")
        elif not allow_unpublished:
            out.append(f"{name}: /: not published yet: check it, then run "
                       f"`caseflow forms publish {raw.get('form_id')}`")
    lock_label = str(Path(directory) / lockfile.LOCK_NAME) if label_with_path else lockfile.LOCK_NAME
    for name in sorted(set(locked) - {Path(n).name for n in raws}):
        out.append(f"{lock_label}: /files/{escape_pointer(name)}: {name} was published but its file "
                   f"is missing; published versions must stay available")
    return out
