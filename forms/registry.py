"""The form registry: every version of every form, loaded and checked once.

>>> reg = FormRegistry.load_default()
>>> reg.validate("sin_decision", 1, data, final=True, today=date.today())
[FieldError(path='/notified_on', message='This field is required')]
"""

from __future__ import annotations

import copy
import functools
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from importlib import resources
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator

from . import lock as lockfile
from .bounds import with_default_bounds
from .errors import DefinitionError, FieldError, MigrationError, RetiredVersion, UnknownForm, UnknownVersion
from .fastcheck import Check, compile_check
from .format import DEFINITION_FORMAT, FILE_NAME
from .migration import MigrationReport, apply_step
from .schema_tools import draft_schema, field_schemas, iter_subschemas, sha256_hex, to_pointer, validation_schema
from .ui_rjsf import to_rjsf
from .validation import ErrorList, build_validator, check_schema, to_field_errors, today_is


def default_definitions_dir() -> Path:
    return Path(str(resources.files("forms").joinpath("definitions")))


#: A deployment's definitions directory (``CASEFLOW_DEFINITIONS_DIR``) keeps its forms here,
#: with their own ``published.lock``.
LOCAL_SUBDIR = "forms"


def local_forms_dir(definitions_dir: Path | str | None) -> Path | None:
    """The forms folder of a deployment's definitions directory (None without one, or without forms)."""
    if definitions_dir is None:
        return None
    root = Path(definitions_dir)
    if not root.is_dir():
        raise FileNotFoundError(f"no definitions directory at {root}")
    folder = root / LOCAL_SUBDIR
    return folder if folder.is_dir() else None


@dataclass(frozen=True)
class VersionInfo:
    version: int
    title: str
    accept_until: date | None
    published: bool

    def to_dict(self) -> dict[str, Any]:
        return {"version": self.version, "title": self.title, "published": self.published,
                "accept_until": self.accept_until.isoformat() if self.accept_until else None}


@dataclass(frozen=True)
class FormInfo:
    form_id: str
    title: str                 # of the latest version
    description: str
    roles: tuple[str, ...]
    latest: int
    versions: tuple[VersionInfo, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"form_id": self.form_id, "title": self.title, "description": self.description,
                "roles": list(self.roles), "latest": self.latest,
                "versions": [v.to_dict() for v in self.versions]}


@dataclass(frozen=True)
class FormVersion:
    """One immutable version of one form, with its validators built."""

    form_id: str
    version: int
    title: str
    description: str
    roles: tuple[str, ...]
    accept_until: date | None
    schema: dict[str, Any] = field(repr=False)
    ui_schema: dict[str, Any] = field(repr=False)
    migration: dict[str, Any] | None = field(repr=False)
    examples: dict[str, Any] = field(repr=False)
    filename: str = ""
    published: bool = False
    content_hash: str = ""
    etag: str = ""
    fields: Mapping[str, dict[str, Any]] = field(default_factory=dict, repr=False)
    enum_labels: Mapping[str, Mapping[str, str]] = field(default_factory=dict, repr=False)
    final_validator: Any = field(default=None, repr=False, compare=False)
    draft_validator: Any = field(default=None, repr=False, compare=False)
    fast_final: Check | None = field(default=None, repr=False, compare=False)
    fast_draft: Check | None = field(default=None, repr=False, compare=False)

    def errors(self, data: Any, *, final: bool, today: date, limit: int | None = None,
               walk: int | None = None) -> list[FieldError]:
        """Every error of ``data`` against this version (``accept_until`` not considered); with
        ``limit``, at most that many, and the list's ``omitted`` counts the rest; ``walk`` bounds the
        jsonschema errors looked at (see :func:`forms.validation.to_field_errors`).

        A fast yes/no check (:mod:`forms.fastcheck`) answers first; only data it finds invalid
        goes through jsonschema, which gives the full list of errors.
        """
        fast = self.fast_final if final else self.fast_draft
        if fast is not None:
            try:
                if fast(data, today):
                    return []
                if walk == 0:  # the request's budget is spent: no error would be looked at, only the
                    spent = ErrorList()  # verdict, and the compiled check gives jsonschema's (ADR 0032)
                    spent.complete = False
                    return spent
            except Exception:  # noqa: S110 - any surprise: let jsonschema answer
                pass
        validator = self.final_validator if final else self.draft_validator
        with today_is(today):
            return to_field_errors(validator.iter_errors(data), self.enum_labels, limit, walk)

    def public_document(self) -> dict[str, Any]:
        return _public_document(self.form_id, self.version, self.title, self.description, self.roles,
                                self.accept_until, self.schema, self.ui_schema)

    def accepting_on(self, today: date) -> bool:
        return self.accept_until is None or today <= self.accept_until


def _public_document(form_id: str, version: int, title: str, description: str, roles: tuple[str, ...],
                     accept_until: date | None, schema: dict[str, Any], ui_schema: dict[str, Any]
                     ) -> dict[str, Any]:
    return {"form_id": form_id, "version": version, "title": title, "description": description,
            "roles": list(roles), "accept_until": accept_until.isoformat() if accept_until else None,
            "schema": copy.deepcopy(schema), "ui_schema": copy.deepcopy(ui_schema),
            # ui_schema format 2 (RJSF's uiSchema conventions), derived; old clients ignore it (ADR 0019)
            "ui_schema_v2": to_rjsf(ui_schema, schema)}


def _enum_labels(ui_schema: dict[str, Any]) -> dict[str, dict[str, str]]:
    return {path: dict(spec["enum_labels"]) for path, spec in (ui_schema.get("fields") or {}).items()
            if isinstance(spec, dict) and spec.get("enum_labels")}


def _is_version(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def read_definition_files(directory: Path, *, label_with_path: bool = False
                          ) -> tuple[dict[str, dict[str, Any]], list[str]]:
    """Parse every ``*.json`` of ``directory``: (label -> definition, problems).

    The label names the file in problems: its bare name, or (``label_with_path``, for a
    deployment's own definitions directory) its full path, so it cannot be mistaken for a shipped file.
    """
    problems: list[str] = []
    out: dict[str, dict[str, Any]] = {}
    for path in sorted(Path(directory).glob("*.json")):
        label = str(path) if label_with_path else path.name
        if not FILE_NAME.match(path.name):
            problems.append(f"{label}: file name must be <form_id>.v<version>.json")
            continue
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            problems.append(f"{label}: not readable JSON ({exc.__class__.__name__})")
            continue
        out[label] = raw
    return out, problems


@dataclass(frozen=True)
class Layers:
    """The definition files of the shipped directory and of a deployment's own (``local``) one.

    ``files`` maps each label to its definition, ``origin`` each label to the directory whose
    ``published.lock`` governs it. A local file may add forms and versions; one with the same
    form_id@version as a shipped file is skipped when identical and a problem otherwise.
    """

    files: dict[str, dict[str, Any]]
    origin: dict[str, Path]
    by_directory: dict[Path, dict[str, dict[str, Any]]]

    def published(self, label: str, locks: Mapping[Path, Mapping[str, str]]) -> bool:
        return Path(label).name in locks[self.origin[label]]


def read_layers(directory: Path, local: Path | None = None) -> tuple[Layers, list[str]]:
    shipped, problems = read_definition_files(directory)
    files, origin = dict(shipped), dict.fromkeys(shipped, Path(directory))
    by_directory = {Path(directory): shipped}
    if local is not None:
        own, own_problems = read_definition_files(local, label_with_path=True)
        problems += own_problems
        by_directory[Path(local)] = own
        for label, raw in own.items():
            name = Path(label).name
            if name in shipped:
                if raw != shipped[name]:
                    match = FILE_NAME.match(name)
                    assert match is not None  # noqa: S101 - read_definition_files keeps only such names
                    problems.append(f"{label}: /: {match['form_id']}@{match['version']} is also shipped, with "
                                    f"different content, in {Path(directory) / name}; a local definition may "
                                    f"only add forms and versions: give it the next free version number")
                continue  # the same file twice: the shipped copy is the one loaded
            files[label], origin[label] = raw, Path(local)
    return Layers(files, origin, by_directory), problems


def structural_problems(name: str, raw: Any) -> list[str]:
    """What makes a definition unloadable: its format, its name, its schema against the meta-schema."""
    problems: list[str] = []
    fmt = Draft202012Validator(DEFINITION_FORMAT, format_checker=Draft202012Validator.FORMAT_CHECKER)
    for err in sorted(fmt.iter_errors(raw), key=lambda e: list(map(str, e.absolute_path))):
        problems.append(f"{name}: {to_pointer(err.absolute_path) or '/'}: {err.message}")
    if problems:
        return problems
    match = FILE_NAME.match(Path(name).name)
    assert match is not None  # noqa: S101 - checked by the caller
    if raw["form_id"] != match["form_id"]:
        problems.append(f"{name}: /form_id: must be {match['form_id']}, as in the file name")
    if raw["version"] != int(match["version"]):
        problems.append(f"{name}: /version: must be {match['version']}, as in the file name")
    problems += [f"{name}: /schema{line}" for line in check_schema(raw["schema"])]
    for ptr, sub in iter_subschemas(raw["schema"]):
        for key in ("$ref", "$dynamicRef", "$recursiveRef"):
            if key in sub:
                problems.append(f"{name}: /schema{ptr}/{key}: forms must be self-contained: no references")
    return problems


class FormRegistry:
    """Every version of every form of one definitions directory, validators built once."""

    def __init__(self, versions: list[FormVersion], directory: Path | None = None) -> None:
        self.directory = directory
        self.local: Path | None = None  # a deployment's own definitions, loaded beside the shipped ones
        self._by_form: dict[str, dict[int, FormVersion]] = {}
        for fv in sorted(versions, key=lambda v: (v.form_id, v.version)):
            self._by_form.setdefault(fv.form_id, {})[fv.version] = fv

    # ------------------------------------------------------------------ loading

    @classmethod
    def load(cls, directory: Path | str | None = None, *, verify_lock: bool = True,
             local: Path | str | None = None) -> FormRegistry:
        """Load and check every ``<form_id>.v<version>.json`` of ``directory`` (and of ``local``).

        Raises :class:`DefinitionError` listing every problem: a malformed file, a schema that
        breaks the 2020-12 meta-schema, a gap in a form's versions, an ``accept_until`` on a latest
        version, (with ``verify_lock``) a published version whose content changed, or a ``local``
        file that collides with a shipped one. Each file is checked against its own directory's lock.
        """
        directory = Path(directory) if directory is not None else default_definitions_dir()
        layers, problems = read_layers(directory, Path(local) if local is not None else None)
        raws = layers.files
        for name, raw in raws.items():
            problems += structural_problems(name, raw)
        if problems:
            raise DefinitionError(problems)
        locks = {d: lockfile.read_lock(d) for d in layers.by_directory}
        by_form: dict[str, dict[int, tuple[str, dict[str, Any]]]] = {}
        for name, raw in raws.items():
            by_form.setdefault(raw["form_id"], {})[raw["version"]] = (name, raw)
        for form_id, versions in sorted(by_form.items()):
            numbers = sorted(versions)
            if numbers != list(range(1, len(numbers) + 1)):
                problems.append(f"{form_id}: versions must run 1, 2, 3... without gaps; found "
                                f"{', '.join(map(str, numbers))}")
            latest_name, latest = versions[numbers[-1]]
            if "accept_until" in latest:
                problems.append(f"{latest_name}: /accept_until: the latest version of a form cannot be "
                                f"retired; publish a newer version first")
        if verify_lock:
            for name, raw in raws.items():
                locked = locks[layers.origin[name]]
                base = Path(name).name
                if base in locked and lockfile.content_hash(raw) != locked[base]:
                    problems.append(f"{name}: changed after it was published. Published versions are "
                                    f"immutable: restore it and make the change in a new version "
                                    f"(caseflow forms new-version {raw['form_id']})")
        if problems:
            raise DefinitionError(problems)
        built = [cls._build(name, raw, layers.published(name, locks)) for name, raw in raws.items()]
        registry = cls(built, directory)
        registry.local = Path(local) if local is not None else None
        return registry

    @classmethod
    def load_default(cls) -> FormRegistry:
        """The registry of the definitions shipped in the package, loaded once per process."""
        return _default_registry()

    @classmethod
    def load_deployment(cls, definitions_dir: Path | str | None = None) -> FormRegistry:
        """The shipped forms plus those of a deployment's definitions directory (``<dir>/forms``)."""
        local = local_forms_dir(definitions_dir)
        return cls.load_default() if local is None else cls.load(local=local)

    @staticmethod
    def _build(name: str, raw: dict[str, Any], published: bool) -> FormVersion:
        accept_until = date.fromisoformat(raw["accept_until"]) if raw.get("accept_until") else None
        roles = tuple(raw["roles"])
        # every array and string bounded in the copies the validators run on (ADR 0012)
        final_schema = with_default_bounds(validation_schema(raw["schema"]))
        lenient_schema = with_default_bounds(draft_schema(raw["schema"]))
        public = _public_document(raw["form_id"], raw["version"], raw["title"], raw["description"], roles,
                                  accept_until, raw["schema"], raw["ui_schema"])
        return FormVersion(
            form_id=raw["form_id"], version=raw["version"], title=raw["title"],
            description=raw["description"], roles=roles, accept_until=accept_until,
            schema=raw["schema"], ui_schema=raw["ui_schema"], migration=raw.get("migration"),
            examples=raw["examples"], filename=name, published=published,
            content_hash=lockfile.content_hash(raw), etag=f'"{sha256_hex(public)}"',
            fields=field_schemas(raw["schema"]), enum_labels=_enum_labels(raw["ui_schema"]),
            final_validator=build_validator(final_schema), draft_validator=build_validator(lenient_schema),
            fast_final=compile_check(final_schema), fast_draft=compile_check(lenient_schema),
        )

    # ------------------------------------------------------------------ lookup

    def form_ids(self) -> list[str]:
        return list(self._by_form)

    def versions(self, form_id: str) -> list[int]:
        return list(self._versions_of(form_id))

    def _versions_of(self, form_id: str) -> dict[int, FormVersion]:
        try:
            return self._by_form[form_id]
        except (KeyError, TypeError):
            raise UnknownForm(form_id, list(self._by_form)) from None

    def get(self, form_id: str, version: int | None = None) -> FormVersion:
        """One version of a form (the latest when ``version`` is None).

        Raises :class:`UnknownForm`, or :class:`UnknownVersion` carrying the versions that exist.
        A retired version is still returned: old drafts must stay readable.
        """
        versions = self._versions_of(form_id)
        if version is None:
            return versions[max(versions)]
        if not _is_version(version) or version not in versions:
            raise UnknownVersion(form_id, version, list(versions))
        return versions[version]

    def latest(self, form_id: str) -> FormVersion:
        return self.get(form_id)

    def forms(self) -> list[FormInfo]:
        out = []
        for form_id, versions in self._by_form.items():
            latest = versions[max(versions)]
            out.append(FormInfo(
                form_id=form_id, title=latest.title, description=latest.description, roles=latest.roles,
                latest=latest.version,
                versions=tuple(VersionInfo(v.version, v.title, v.accept_until, v.published)
                               for v in versions.values())))
        return out

    def public_document(self, form_id: str, version: int) -> dict[str, Any]:
        """``{form_id, version, title, description, roles, accept_until, schema, ui_schema}`` (a copy)."""
        return self.get(form_id, version).public_document()

    def etag(self, form_id: str, version: int) -> str:
        """Strong ETag (quoted) of :meth:`public_document`: the sha256 of its canonical JSON."""
        return self.get(form_id, version).etag

    def field_paths(self, form_id: str, version: int | None = None) -> set[str]:
        """Dotted field paths of a version: ``child.date_of_birth``, ``actions[].status``..."""
        return set(self.get(form_id, version).fields)

    def accepting(self, form_id: str, version: int, today: date) -> FormVersion:
        """The version if submissions may still be made against it on ``today``; else
        :class:`RetiredVersion` (its ``accept_until`` has passed)."""
        fv = self.get(form_id, version)
        if not fv.accepting_on(today):
            assert fv.accept_until is not None  # noqa: S101
            raise RetiredVersion(form_id, fv.version, fv.accept_until, max(self._versions_of(form_id)))
        return fv

    # ------------------------------------------------------------------ validation

    def validate(self, form_id: str, version: int, data: Any, *, final: bool, today: date,
                 limit: int | None = None, walk: int | None = None) -> list[FieldError]:
        """Every problem with ``data`` in one list (empty when valid), sorted by path.

        ``final=False`` checks a draft: types, formats, enums, patterns and unknown fields, but
        nothing is obligatory. ``final=True`` checks everything, conditional rules included.
        Raises :class:`UnknownForm`, :class:`UnknownVersion` or :class:`RetiredVersion`.
        """
        return self.accepting(form_id, version, today).errors(data, final=final, today=today, limit=limit,
                                                                  walk=walk)

    def is_valid(self, form_id: str, version: int, data: Any, *, final: bool, today: date) -> bool:
        return not self.accepting(form_id, version, today).errors(data, final=final, today=today)

    # ------------------------------------------------------------------ migration

    def migrate_draft(self, form_id: str, from_version: int, to_version: int, data: dict[str, Any]
                      ) -> tuple[dict[str, Any], MigrationReport]:
        """Carry a draft forward through each version's declared migration, one step at a time.

        Returns the new data (the input is not changed) and a report of what was renamed,
        defaulted and dropped; dropped values (and fields the target does not know) are in
        ``report.dropped`` with the reason, never lost. Going backwards raises MigrationError.
        """
        start = self.get(form_id, from_version)
        end = self.get(form_id, to_version)
        if end.version < start.version:
            raise MigrationError(f"Form {form_id}: a draft can only move to a later version, "
                                 f"not from {start.version} back to {end.version}.")
        if not isinstance(data, dict):
            raise MigrationError(f"Form {form_id}: a draft to migrate must be a JSON object.")
        report = MigrationReport(form_id, start.version, end.version)
        current = copy.deepcopy(data)
        for number in range(start.version + 1, end.version + 1):
            step = self.get(form_id, number)
            current = apply_step(current, step.migration or {}, from_version=number - 1, to_version=number,
                                 to_schema=step.schema, report=report)
            report.steps.append(number)
        return current, report


@functools.lru_cache(maxsize=1)
def _default_registry() -> FormRegistry:
    return FormRegistry.load(default_definitions_dir())
