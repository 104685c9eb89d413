"""Checking case-type definitions.

Every error names the file and the path inside it, e.g.::

    serious_incident.yaml: transitions[3].guard: unknown field sin_decision.decison (did you mean ...?)

What is checked (on top of the shape checks of :func:`statemachines.definition.parse_definition`):

* exactly one initial state, at least one final state, no transition out of a final state;
* unknown states (transition sources/targets, ``stop.on_entering``), roles, sectors and forms;
* form fields read by guards and deadlines, against the forms catalogue
  (``Mapping[form_id, set of dotted field paths]``, lists written ``actions[].status``);
  without a catalogue only the form ids are checked (against the forms the definition opens);
* unreachable states, and non-final states with no path to a final state;
* duplicate events from the same source without distinguishing guards (``applies_if`` + ``guard``);
* ``fresh_forms`` of a state: known forms, needed (required or read) by a transition leaving the
  state, and open in the state or in a state on a cycle through it (else a re-entered case could
  never satisfy them); the state must be re-enterable (on a cycle) for the rule to mean anything;
* state and event ids that would clash with python-statemachine's own attributes;
* in a directory: file names (``<case_type>.yaml`` or ``<case_type>.v<version>.yaml``) and
  duplicate (case_type, version) pairs.

The forms catalogue is a parameter so that this module stays independent of the ``forms``
package; :func:`default_form_catalogue` builds it from ``forms.FormRegistry`` (an import failure raises).
"""

from __future__ import annotations

import ast
import difflib
from collections import defaultdict, deque
from collections.abc import Collection, Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml
from statemachine import StateMachine

from .definition import (
    CONTEXT_FIELDS,
    CONTEXT_ROOTS,
    ROLES,
    SECTORS,
    TASK_PARTS,
    Definition,
    DefinitionError,
    parse_definition,
)

__all__ = [
    "FormCatalogue",
    "check_definition",
    "check_file",
    "check_paths",
    "default_form_catalogue",
    "load_yaml",
    "parse_and_check",
]

FormCatalogue = Mapping[str, Collection[str]]

_RESERVED = frozenset(n for n in dir(StateMachine) if not n.startswith("__")) | {"model", "state"}
_RESERVED_PREFIXES = ("on_", "before_", "after_", "prepare_")


def _reserved(name: str) -> bool:
    return name in _RESERVED or name.startswith(_RESERVED_PREFIXES)


class _Checker:
    def __init__(self, defn: Definition, catalogue: FormCatalogue | None) -> None:
        self.d = defn
        self.catalogue = catalogue
        self.errors: list[DefinitionError] = []
        self.used_forms = defn.form_ids()

    def add(self, path: str, message: str) -> None:
        self.errors.append(DefinitionError(self.d.file, path, message))

    # -- names -------------------------------------------------------------------------------
    def role(self, path: str, role: str) -> None:
        if role not in ROLES:
            self.add(path, f"unknown role {role!r}{_hint(role, ROLES)}")

    def roles(self, path: str, roles: Iterable[str]) -> None:
        for r in roles:
            self.role(path, r)

    def state(self, path: str, state: str) -> bool:
        if state not in self.d.states:
            self.add(path, f"unknown state {state!r}{_hint(state, self.d.states)}")
            return False
        return True

    def form(self, path: str, form_id: str) -> bool:
        if self.catalogue is not None and form_id not in self.catalogue:
            self.add(path, f"unknown form {form_id!r}{_hint(form_id, self.catalogue)}")
            return False
        return True

    def field(self, path: str, field_path: str, *, allow_projection: bool = True) -> None:
        """A dotted field path read by a guard or a deadline."""
        if not allow_projection and "[]" in field_path:
            self.add(path, f"{field_path}: a date field cannot be a [] projection")
            return
        root = field_path.split(".", 1)[0].split("[]", 1)[0]
        rest = field_path[len(root) :].lstrip(".")
        if root == "tasks":
            parts = field_path.split(".")
            task_ids = {t.id for t in self.d.tasks}
            if len(parts) != 3 or parts[1] not in task_ids or parts[2] not in TASK_PARTS:
                hint = _hint(parts[1], task_ids) if len(parts) > 1 else ""
                self.add(path, f"unknown task value {field_path}: write tasks.<task id>.<{'|'.join(TASK_PARTS)}> "
                               f"with a task of this case type{hint}")
            return
        if root in CONTEXT_ROOTS:
            if field_path not in CONTEXT_FIELDS:
                self.add(path, f"unknown context value {field_path}{_hint(field_path, CONTEXT_FIELDS)}")
            return
        if root not in self.used_forms:
            self.add(
                path,
                f"unknown form {root!r} in {field_path}: this case type opens no such form"
                f"{_hint(root, self.used_forms)}",
            )
            return
        if self.catalogue is None or root not in self.catalogue or not rest:
            return  # unknown catalogue forms are reported where the form is opened
        known = self.catalogue[root]
        if not _known_field(rest, known):
            candidates = [f"{root}.{k}" for k in known]
            self.add(path, f"unknown field {field_path}{_hint(field_path, candidates)}")

    # -- sections ----------------------------------------------------------------------------
    def run(self) -> list[DefinitionError]:
        for fid in self.used_forms & CONTEXT_ROOTS:
            self.add("", f"form id {fid!r} clashes with the context value root of the same name")
        self.check_states()
        self.check_global_forms()
        self.check_transitions()
        self.check_ambiguous_events()
        self.check_graph()
        self.check_fresh_forms()
        self.check_deadlines()
        self.check_tasks()
        return self.errors

    def check_states(self) -> None:
        initial = [s.id for s in self.d.states.values() if s.initial]
        finals = [s.id for s in self.d.states.values() if s.final]
        if self.d.states and len(initial) != 1:
            self.add("states", f"exactly one state must be initial (found {len(initial)}: {', '.join(initial)})")
        if self.d.states and not finals:
            self.add("states", "at least one state must be final")
        for s in self.d.states.values():
            path = f"states.{s.id}"
            if s.initial and s.final:
                self.add(path, "the initial state cannot be final")
            if _reserved(s.id):
                self.add(path, f"state id {s.id!r} is reserved by python-statemachine")
            for fa in s.forms:
                fpath = f"{path}.forms.{fa.form_id}"
                self.form(fpath, fa.form_id)
                self.roles(fpath, fa.roles)
            for i, target in enumerate(s.notify):
                self.roles(f"{path}.notify[{i}].{target.kind}", target.roles)

    def check_global_forms(self) -> None:
        for g in self.d.forms_in_all_states:
            path = f"forms_in_all_states.{g.form_id}"
            self.form(path, g.form_id)
            self.roles(f"{path}.roles", g.roles)
            if g.clock_field is not None:
                self.field(f"{path}.clock_field", f"{g.form_id}.{g.clock_field}")
                if not self.d.deadlines:
                    self.add(f"{path}.clock_field", "this case type has no clocks (deadlines) to name")

    def check_transitions(self) -> None:
        events = {t.event for t in self.d.transitions}
        for sid in self.d.states:
            if sid in events:
                self.add(f"states.{sid}", f"state id {sid!r} is also an event name; use different names")
        opened = {fa.form_id for s in self.d.states.values() for fa in s.forms}
        opened |= {g.form_id for g in self.d.forms_in_all_states}
        for t in self.d.transitions:
            p = t.path
            if _reserved(t.event):
                self.add(f"{p}.event", f"event name {t.event!r} is reserved by python-statemachine")
            for i, src in enumerate(t.sources):
                if self.state(f"{p}.from[{i}]", src) and self.d.states[src].final:
                    self.add(f"{p}.from[{i}]", f"{src!r} is final: no transition may leave it")
            if t.target:
                self.state(f"{p}.to", t.target)
            self.roles(f"{p}.roles", t.roles)
            for j, slot in enumerate(t.approvals):
                sp = f"{p}.approvals[{j}]"
                self.role(f"{sp}.role", slot.role)
                if slot.sector is not None and slot.sector not in SECTORS:
                    self.add(f"{sp}.sector", f"unknown sector {slot.sector!r}{_hint(slot.sector, SECTORS)}")
            for j, fid in enumerate(t.requires_forms):
                fp = f"{p}.requires_forms[{j}]"
                if self.form(fp, fid) and fid not in opened:
                    self.add(fp, f"form {fid!r} is required but no state opens it")
            for key, expr in (("applies_if", t.applies_if), ("guard", t.guard)):
                for fpath in sorted(expr.fields if expr is not None else ()):
                    self.field(f"{p}.{key}", fpath)
            if t.hand_off is not None:
                for target, source in t.hand_off.carry.items():
                    if source.split(".", 1)[0] in CONTEXT_ROOTS:
                        self.add(f"{p}.hand_off.carry.{target}", "carries form fields only, not tasks or context")
                    else:
                        self.field(f"{p}.hand_off.carry.{target}", source, allow_projection=False)

    def check_ambiguous_events(self) -> None:
        by_source: dict[tuple[str, str], list[Any]] = defaultdict(list)
        for t in self.d.transitions:
            for src in t.sources:
                by_source[(src, t.event)].append(t)
        for (src, event), ts in by_source.items():
            if len(ts) < 2:
                continue
            seen: dict[str, int] = {}
            for k, t in enumerate(ts):
                if t.guard is None and t.applies_if is None and k < len(ts) - 1:
                    self.add(
                        f"{t.path}.guard",
                        f"event {event!r} from {src!r} is defined more than once; this transition has no "
                        f"guard, so it shadows {ts[k + 1].path}: give each one a distinguishing guard",
                    )
                key = "|".join(ast.dump(e.tree) if e is not None else "<none>" for e in (t.applies_if, t.guard))
                if key in seen:
                    self.add(
                        f"{t.path}.guard",
                        f"duplicate event {event!r} from {src!r} without a distinguishing guard "
                        f"(same guard as transitions[{seen[key]}])",
                    )
                else:
                    seen[key] = t.index

    def check_graph(self) -> None:
        states = self.d.states
        initial = [s.id for s in states.values() if s.initial]
        if len(initial) != 1:
            return
        edges: dict[str, set[str]] = defaultdict(set)
        reverse: dict[str, set[str]] = defaultdict(set)
        for t in self.d.transitions:
            for src in t.sources:
                if src in states and t.target in states:
                    edges[src].add(t.target)
                    reverse[t.target].add(src)
        reachable = _bfs(initial, edges)
        for sid in states:
            if sid not in reachable:
                self.add(f"states.{sid}", f"state {sid!r} is unreachable from the initial state {initial[0]!r}")
        finals = [s.id for s in states.values() if s.final]
        if not finals:
            return
        can_finish = _bfs(finals, reverse)
        for sid, s in states.items():
            if not s.final and sid not in can_finish:
                self.add(f"states.{sid}", f"state {sid!r} has no path to a final state")

    def check_fresh_forms(self) -> None:
        states = self.d.states
        edges: dict[str, set[str]] = defaultdict(set)
        for t in self.d.transitions:
            for src in t.sources:
                if src in states and t.target_of(src) in states:
                    edges[src].add(t.target_of(src))
        global_forms = {g.form_id for g in self.d.forms_in_all_states}
        for s in states.values():
            if not s.fresh_forms:
                continue
            path = f"states.{s.id}.fresh_forms"
            ahead = _bfs(edges.get(s.id, ()), edges)  # states reachable after leaving s
            if s.id not in ahead:
                self.add(path, f"state {s.id!r} is never re-entered, so fresh_forms has no effect")
                continue
            # states the case can pass through between leaving s and entering it again
            loop = {t for t in ahead if s.id in _bfs([t], edges)}
            leaving = [t for t in self.d.transitions if s.id in t.sources]
            for j, fid in enumerate(s.fresh_forms):
                fp = f"{path}[{j}]"
                if not self.form(fp, fid):
                    continue
                read = {f.split(".", 1)[0].split("[]", 1)[0] for t in leaving for f in t.fields()}
                if not any(fid in t.requires_forms for t in leaving) and fid not in read:
                    self.add(fp, f"no transition from {s.id!r} requires or reads the form {fid!r}")
                opened = global_forms | {fa.form_id for sid in loop for fa in states[sid].forms}
                if fid not in opened:
                    self.add(fp, f"the form {fid!r} is not open in {s.id!r} or any state before the case returns "
                                 "to it, so a re-entered case could never submit it again")

    def check_deadlines(self) -> None:
        names: dict[str, int] = {}
        for dl in self.d.deadlines:
            p = dl.path
            if dl.name in names:
                self.add(f"{p}.name", f"duplicate deadline name {dl.name!r} (also deadlines[{names[dl.name]}])")
            names.setdefault(dl.name, dl.index)
            if dl.starts_any:
                for j, f in enumerate(dl.starts_any):
                    self.field(f"{p}.starts[{j}]", f, allow_projection=False)
            elif dl.starts:
                self.field(f"{p}.starts", dl.starts, allow_projection=False)
            for fpath in sorted(dl.applies_if.fields if dl.applies_if is not None else ()):
                if fpath.split(".", 1)[0] == "tasks":
                    self.add(f"{p}.applies_if", "a clock's applies_if reads forms only, not tasks")
                else:
                    self.field(f"{p}.applies_if", fpath)
            for key, fields in (("when_set", dl.stop.when_set), ("when_all_set", dl.stop.when_all_set)):
                for j, f in enumerate(fields):
                    self.field(f"{p}.stop.{key}[{j}]", f, allow_projection=False)
            for j, sid in enumerate(dl.stop.on_entering):
                self.state(f"{p}.stop.on_entering[{j}]", sid)
            for j, target in enumerate(dl.notify_overdue):
                self.roles(f"{p}.notify_overdue[{j}].{target.kind}", target.roles)


    def check_tasks(self) -> None:
        reverse: dict[str, set[str]] = defaultdict(set)
        for t in self.d.transitions:
            for src in t.sources:
                reverse[t.target_of(src)].add(src)
        sources: dict[str, set[str]] = defaultdict(set)
        for t in self.d.transitions:
            sources[t.event].update(t.sources)
        seen: dict[str, int] = {}
        for task in self.d.tasks:
            p = task.path
            if task.id in seen:
                self.add(f"{p}.id", f"duplicate task id {task.id!r} (also tasks[{seen[task.id]}])")
            seen.setdefault(task.id, task.index)
            if not task.states:
                self.add(f"{p}.states", "a task open in no state can never be recorded (leave out states for "
                                        "every non-final state)")
            for j, sid in enumerate(task.states):
                if self.state(f"{p}.states[{j}]", sid) and self.d.states[sid].final:
                    self.add(f"{p}.states[{j}]", f"{sid!r} is final: nothing is recorded there")
            self.roles(f"{p}.roles", task.roles)
            for fpath in sorted(task.applies_if.fields if task.applies_if is not None else ()):
                self.field(f"{p}.applies_if", fpath)
            for j, event in enumerate(task.required_before):
                ep = f"{p}.required_before[{j}]"
                if event not in sources:
                    self.add(ep, f"unknown event {event!r}{_hint(event, sources)}")
                    continue
                # recordable where the event is fired, or in a state the case passes through before it
                if not set(task.states) & _bfs(sources[event], reverse):
                    self.add(ep, f"the task can never be recorded before {event!r}: none of its states "
                                 "comes before a state the event leaves")


def _bfs(start: Iterable[str], edges: Mapping[str, set[str]]) -> set[str]:
    seen = set(start)
    queue = deque(seen)
    while queue:
        for nxt in edges.get(queue.popleft(), ()):
            if nxt not in seen:
                seen.add(nxt)
                queue.append(nxt)
    return seen


def _known_field(rest: str, known: Collection[str]) -> bool:
    if rest in known:
        return True
    return any(k.startswith(rest + ".") or k.startswith(rest + "[]") for k in known)


def _hint(name: str, candidates: Iterable[str]) -> str:
    close = difflib.get_close_matches(name, list(candidates), n=1, cutoff=0.75)
    return f" (did you mean {close[0]}?)" if close else ""


# ---------------------------------------------------------------------------------------------
# entry points


def check_definition(defn: Definition, catalogue: FormCatalogue | None = None) -> list[DefinitionError]:
    """Semantic checks of a parsed definition (see the module docstring)."""
    return _Checker(defn, catalogue).run()


def parse_and_check(
    raw: Any, file: str, catalogue: FormCatalogue | None = None
) -> tuple[Definition | None, list[DefinitionError]]:
    """Parse loaded YAML and check it; the definition is usable only if the error list is empty."""
    defn, errors = parse_definition(raw, file)
    if defn is not None:
        errors = errors + check_definition(defn, catalogue)
    return defn, errors


def load_yaml(path: Path) -> tuple[Any, list[DefinitionError]]:
    """Read a YAML file safely (``yaml.safe_load``); syntax errors are reported with their line."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        return None, [DefinitionError(path.name, "", f"cannot read: {exc.strerror or exc}")]
    try:
        return yaml.safe_load(text), []
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        return None, [DefinitionError(path.name, where, f"YAML syntax error: {problem}")]


def _check_file_name(path: Path, defn: Definition) -> list[DefinitionError]:
    allowed = {f"{defn.case_type}.yaml", f"{defn.case_type}.v{defn.version}.yaml"}
    if path.name not in allowed:
        return [
            DefinitionError(
                path.name,
                "case_type",
                f"file name must be {defn.case_type}.yaml or {defn.case_type}.v{defn.version}.yaml",
            )
        ]
    return []


def check_file(path: Path | str, catalogue: FormCatalogue | None = None) -> list[DefinitionError]:
    """Every error of one definition file."""
    path = Path(path)
    raw, errors = load_yaml(path)
    if errors:
        return errors
    defn, errors = parse_and_check(raw, path.name, catalogue)
    if defn is not None and defn.case_type and defn.version:
        errors += _check_file_name(path, defn)
    return errors


def definition_files(paths: Iterable[Path | str]) -> list[Path]:
    """Expand directories into their ``*.yaml`` files (sorted); files are kept as given."""
    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            out.extend(sorted(p.glob("*.yaml")))
        else:
            out.append(p)
    return out


def check_paths(
    paths: Iterable[Path | str], catalogue: FormCatalogue | None = None, *, local: Path | str | None = None
) -> list[DefinitionError]:
    """Check files and directories of definitions, including duplicate (case_type, version) pairs.

    ``local`` is a deployment's own definitions folder, checked with ``paths``: its errors name each
    file by its full path, and a case_type@version it shares with ``paths`` is an error naming both
    files unless the two files define the same thing (then the copy is ignored).
    """
    errors: list[DefinitionError] = []
    seen: dict[tuple[str, int], tuple[Path, Any, bool]] = {}
    parsed: list[Definition] = []
    own = definition_files([local]) if local is not None else []
    for path in definition_files(paths) + own:
        is_local = path in own
        label = str(path) if is_local else path.name
        raw, yaml_errors = load_yaml(path)
        if yaml_errors:
            errors += _relabel(yaml_errors, path, label)
            continue
        defn, errs = parse_and_check(raw, label, catalogue)
        errors += _relabel(errs, path, label)
        if defn is None:
            continue
        parsed.append(defn)
        if defn.case_type and defn.version:
            errors += _relabel(_check_file_name(path, defn), path, label)
        key = (defn.case_type, defn.version)
        if key in seen:
            other, other_raw, other_local = seen[key]
            if is_local and not other_local and raw == other_raw:
                continue  # a verbatim copy of a shipped definition: the shipped one is loaded
            where = str(other) if is_local else other.name
            differs = " with different content" if is_local and not other_local else ""
            errors.append(DefinitionError(label, "version", f"{key[0]} version {key[1]} is also defined{differs} "
                                                            f"in {where}"))
        seen.setdefault(key, (path, raw, is_local))
    return errors + check_hand_offs(parsed, catalogue)


def check_hand_offs(definitions: Iterable[Definition], catalogue: FormCatalogue | None = None) -> list[DefinitionError]:
    """The hand-offs of ``definitions`` against the case types they open (the latest version of
    each, as a hand-off opens): a known case type, a form open in its first state to every role
    that may fire the event (no one opens through a hand-off a case they could not open), and
    fields that form has (with a catalogue)."""
    definitions = list(definitions)
    latest: dict[str, Definition] = {}
    for d in definitions:
        if d.case_type and (d.case_type not in latest or d.version > latest[d.case_type].version):
            latest[d.case_type] = d
    errors: list[DefinitionError] = []
    for d in definitions:
        for t in d.transitions:
            h = t.hand_off
            if h is None:
                continue
            p = f"{t.path}.hand_off"
            target = latest.get(h.case_type)
            if target is None:
                errors.append(DefinitionError(d.file, f"{p}.case_type",
                                              f"unknown case type {h.case_type!r}{_hint(h.case_type, latest)}"))
                continue
            initial = next((s for s in target.states.values() if s.initial), None)
            access = next((fa for fa in (initial.forms if initial else ()) if fa.form_id == h.form), None)
            if access is None:
                errors.append(DefinitionError(d.file, f"{p}.form", f"{h.form!r} is not a form of the first state of "
                                                                   f"{h.case_type} version {target.version}"))
                continue
            for role in t.roles:
                if role not in access.roles:
                    errors.append(DefinitionError(d.file, f"{t.path}.roles", f"role {role!r} may fire the hand-off "
                                                  f"but may not fill {h.form!r} to open a {h.case_type} case"))
            known = catalogue.get(h.form) if catalogue is not None else None
            if known is None:
                continue
            for key, fields in (("carry", h.carry), ("set", h.set)):
                for field_path in fields:
                    if field_path not in known:
                        errors.append(DefinitionError(d.file, f"{p}.{key}.{field_path}",
                                                      f"unknown field {h.form}.{field_path}"
                                                      f"{_hint(field_path, known)}"))
    return errors


def loadable_files(paths: Iterable[Path | str], local: Path | str | None = None) -> list[Path]:
    """The files a registry loads: ``paths`` and ``local``, without local verbatim copies of shipped ones
    (call after :func:`check_paths` found no error)."""
    out: list[Path] = []
    seen: set[tuple[Any, Any]] = set()
    for path in definition_files(paths) + (definition_files([local]) if local is not None else []):
        raw, _ = load_yaml(path)
        key = (raw.get("case_type"), raw.get("version")) if isinstance(raw, dict) else (path, None)
        if key not in seen:
            seen.add(key)
            out.append(path)
    return out


def _relabel(errors: list[DefinitionError], path: Path, label: str) -> list[DefinitionError]:
    """Errors about ``path`` named by ``label`` (its full path, for a deployment's own files)."""
    if label == path.name:
        return errors
    return [DefinitionError(label, e.path, e.message) if e.file == path.name else e for e in errors]


def default_form_catalogue() -> dict[str, set[str]]:
    """The catalogue of the ``forms`` package (latest version of each form); ``forms`` is part of the
    package, so a failed import raises rather than leaving the check without a catalogue."""
    from forms import FormRegistry

    registry = FormRegistry.load_default()
    return catalogue_from_form_registry(registry)


def catalogue_from_form_registry(registry: Any) -> dict[str, set[str]]:
    """Build ``{form_id: field paths}`` from a ``forms.FormRegistry`` (latest version of each form)."""
    catalogue: dict[str, set[str]] = {}
    for form_id, version in _latest_versions(registry):
        catalogue[form_id] = set(registry.field_paths(form_id, version))
    return catalogue


def _latest_versions(registry: Any) -> list[tuple[str, Any]]:
    """(form_id, latest version) pairs, tolerating a few plausible registry shapes."""
    if hasattr(registry, "latest_versions"):
        return list(dict(registry.latest_versions()).items())
    form_ids = registry.form_ids() if hasattr(registry, "form_ids") else list(registry.forms())
    out = []
    for fid in form_ids:
        if hasattr(registry, "latest_version"):
            out.append((fid, registry.latest_version(fid)))
        else:
            out.append((fid, max(registry.versions(fid))))
    return out
