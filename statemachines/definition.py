"""The case-type definition model and its parser (YAML data -> typed, immutable objects).

Parsing checks the *shape* of a definition (types, required and unknown keys, expression syntax)
and records every problem with the file name and the path inside the file; the semantic checks
(unknown states, roles, forms and fields, reachability, ambiguous events) live in
:mod:`statemachines.check`. The format is documented in ``docs/case-types.md``.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from . import calendar as wd
from .expressions import Expression, ExpressionError, compile_expression

__all__ = [
    "CONTEXT_FIELDS",
    "ROLES",
    "SECTORS",
    "ApprovalSlot",
    "DeadlineDef",
    "Definition",
    "DefinitionError",
    "DefinitionInvalid",
    "DueRule",
    "EvidenceSpec",
    "FormAccess",
    "HandOff",
    "GlobalForm",
    "NotifyTarget",
    "StateDef",
    "StopRule",
    "TaskDef",
    "TransitionDef",
    "parse_definition",
]

#: the roles of DOMAIN.md
ROLES: frozenset[str] = frozenset(
    {
        "practitioner",
        "agency_safeguarding_lead",
        "business_team",
        "crg_member",
        "statutory_lead",
        "la_head_of_safeguarding",
        "independent_scrutineer",
        "lead_reviewer",
        "admin",
    }
)
#: agency sectors; a statutory lead's partner is the sector of their agency
SECTORS: frozenset[str] = frozenset({"local_authority", "health", "police", "education", "other"})

#: context values the server supplies to guards (besides form data); see docs/case-types.md
CONTEXT_FIELDS: Mapping[str, str] = {
    "returns.expected": "number of involved agencies asked for a rapid-review return",
    "returns.received": "number of those agencies with a final rapid-review return",
    "returns.missing": "expected - received",
    "returns.missing_agencies": "ids of the involved agencies without a final rapid-review return",
    "returns.all_received": "true when every involved agency has a final rapid-review return",
}
#: ``tasks.<task id>.<part>``: a task of the case type (``tasks:``), as recorded on the case
TASK_PARTS: Mapping[str, str] = {
    "done": "true once the task is recorded with its required evidence",
    "date": "the date recorded (YYYY-MM-DD)",
    "choice": "the option chosen",
    "note": "the note recorded",
}
CONTEXT_ROOTS: frozenset[str] = frozenset(p.split(".", 1)[0] for p in CONTEXT_FIELDS) | {"tasks"}

_ID = re.compile(r"^[a-z][a-z0-9_]*$")


@dataclass(frozen=True)
class DefinitionError:
    """One problem in a definition: ``file: path: message``."""

    file: str
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}: {self.path}: {self.message}" if self.path else f"{self.file}: {self.message}"


class DefinitionInvalid(ValueError):
    """A definition (or a directory of them) failed its checks; ``errors`` lists every problem."""

    def __init__(self, errors: list[DefinitionError]) -> None:
        self.errors = list(errors)
        super().__init__("\n".join(str(e) for e in self.errors) or "invalid definition")


@dataclass(frozen=True)
class FormAccess:
    """A form open in a state, and the roles that may fill it there."""

    form_id: str
    roles: tuple[str, ...]


@dataclass(frozen=True)
class GlobalForm:
    """A form open in every state (``include_final``: also in final states). ``clock_field``
    names a top-level field of the form whose value must be the name of one of the case type's
    clocks (a delay notice says which clock it explains)."""

    form_id: str
    roles: tuple[str, ...]
    include_final: bool = False
    clock_field: str | None = None


NotifyKind = Literal["roles", "involved_agencies", "assigned"]


@dataclass(frozen=True)
class NotifyTarget:
    """Who is alerted.

    * ``roles``: every user of the partnership holding one of ``roles``;
    * ``involved_agencies``: users holding ``roles`` in each agency listed in
      ``crg_referral.involved_agencies`` (the server resolves the agencies);
    * ``assigned``: users with ``roles`` assigned to this case (e.g. its lead reviewer).
    """

    kind: NotifyKind
    roles: tuple[str, ...]

    def to_dict(self) -> dict[str, list[str]]:
        return {self.kind: list(self.roles)}


@dataclass(frozen=True)
class ApprovalSlot:
    """One approval a transition needs: a role, optionally from one sector (partner)."""

    role: str
    sector: str | None = None

    def accepts(self, role: str, sector: str | None) -> bool:
        return role == self.role and (self.sector is None or sector == self.sector)

    @property
    def label(self) -> str:
        return f"{self.role} ({self.sector.replace('_', ' ')})" if self.sector else self.role

    def to_dict(self) -> dict[str, str | None]:
        return {"role": self.role, "sector": self.sector}


@dataclass(frozen=True)
class StateDef:
    id: str
    title: str
    description: str
    initial: bool
    final: bool
    forms: tuple[FormAccess, ...]
    notify: tuple[NotifyTarget, ...]
    #: forms that count here only if submitted final in this round, i.e. after the case last left
    #: this state (on a re-entry a final from an earlier round must be submitted again)
    fresh_forms: tuple[str, ...] = ()


@dataclass(frozen=True)
class HandOff:
    """A transition's hand-off: firing it opens a linked case of ``case_type`` (its latest version)
    in the same unit of work, with ``form`` (a form of that case type's first state) saved as a
    DRAFT prefilled from ``carry`` (``{field of form: <form_id>.<field> of this case}``) and ``set``
    (``{field of form: constant}``). Dotted target fields build nested objects (``child.care_leaver``)."""

    case_type: str
    form: str
    carry: Mapping[str, str]
    set: Mapping[str, Any]
    source: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"case_type": self.case_type, "form": self.form, "carry": dict(self.carry), "set": dict(self.set),
                "source": self.source or None}


@dataclass(frozen=True)
class TransitionDef:
    """One entry of ``transitions``; ``index`` is its position in the file (for error paths)."""

    index: int
    event: str
    title: str
    sources: tuple[str, ...]
    target: str
    roles: tuple[str, ...]
    approvals: tuple[ApprovalSlot, ...]
    requires_forms: tuple[str, ...]
    guard: Expression | None
    reason: str
    stays: bool = False
    from_any: bool = False
    #: selects this alternative among the event's transitions from a source: the transition is
    #: taken when ``applies_if`` and ``guard`` hold, and a refusal explains only the alternatives
    #: that apply to the case (all of them if none applies)
    applies_if: Expression | None = None
    #: a linked case this transition opens (``hand_off:``), None for most transitions
    hand_off: HandOff | None = None

    @property
    def path(self) -> str:
        return f"transitions[{self.index}]"

    def fields(self) -> frozenset[str]:
        """The dotted paths its guard and ``applies_if`` read."""
        return frozenset().union(*(e.fields for e in (self.guard, self.applies_if) if e is not None))

    def target_of(self, source: str) -> str:
        """The state this transition leads to from ``source`` (``source`` itself when it stays)."""
        return source if self.stays else self.target


DueKind = Literal[
    "working_days_after", "working_days_before", "calendar_days_after", "calendar_months_after", "years_after"
]
DUE_KINDS: tuple[str, ...] = (
    "working_days_after",
    "working_days_before",
    "calendar_days_after",
    "calendar_months_after",
    "years_after",
)


@dataclass(frozen=True)
class DueRule:
    kind: DueKind
    n: int

    def due(self, start: dt.date) -> dt.date:
        if self.kind == "working_days_after":
            return wd.add_working_days(start, self.n)
        if self.kind == "working_days_before":
            return wd.subtract_working_days(start, self.n)
        if self.kind == "calendar_days_after":
            return start + dt.timedelta(days=self.n)
        if self.kind == "calendar_months_after":
            return wd.add_months(start, self.n)
        return wd.add_years(start, self.n)

    def to_dict(self) -> dict[str, int]:
        return {self.kind: self.n}


@dataclass(frozen=True)
class StopRule:
    """When a clock stops.

    * ``when_set``: a date field; the earliest of those set stops the clock on that date;
    * ``when_all_set``: date fields that must all be set; the latest stops the clock;
    * ``on_entering``: states; the first entry into any of them stops the clock on that day.

    The earliest of these candidates is the stop date; met if it is on or before the due date.
    """

    when_set: tuple[str, ...] = ()
    when_all_set: tuple[str, ...] = ()
    on_entering: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        if self.when_set:
            out["when_set"] = list(self.when_set)
        if self.when_all_set:
            out["when_all_set"] = list(self.when_all_set)
        if self.on_entering:
            out["on_entering"] = list(self.on_entering)
        return out


DeadlineKind = Literal["deadline", "minimum_period"]


@dataclass(frozen=True)
class DeadlineDef:
    index: int
    name: str
    title: str
    kind: DeadlineKind
    starts: str
    rule: DueRule
    due_soon_working_days: int
    stop: StopRule
    notify_overdue: tuple[NotifyTarget, ...]
    source: str
    #: every start field, in order: the first one set starts the clock (``starts`` is the first)
    starts_any: tuple[str, ...] = ()
    #: the clock exists only for cases where this holds (read from the forms)
    applies_if: Expression | None = None

    @property
    def path(self) -> str:
        return f"deadlines[{self.index}]"

    @property
    def start_fields(self) -> tuple[str, ...]:
        return self.starts_any or (self.starts,)


EvidenceNeed = Literal["required", "optional"]


@dataclass(frozen=True)
class EvidenceSpec:
    """What recording a task asks for: a date, one choice among ``choice`` (required when listed),
    a note. ``None`` means not asked."""

    date: EvidenceNeed | None = None
    note: EvidenceNeed | None = None
    choice: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"date": self.date, "note": self.note, "choice": list(self.choice) or None}


@dataclass(frozen=True)
class TaskDef:
    """A duty inside a state: who may record it, its evidence, the events it must precede, and
    the paragraph it comes from. ``states`` are where it may be recorded (every non-final state
    when the definition does not say); ``applies_if`` limits it to the cases it concerns."""

    index: int
    id: str
    title: str
    description: str
    states: tuple[str, ...]
    roles: tuple[str, ...]
    evidence: EvidenceSpec
    required_before: tuple[str, ...]
    applies_if: Expression | None
    source: str

    @property
    def path(self) -> str:
        return f"tasks[{self.index}]"


@dataclass(frozen=True)
class Definition:
    file: str
    case_type: str
    version: int
    title: str
    description: str
    states: Mapping[str, StateDef]
    transitions: tuple[TransitionDef, ...]
    deadlines: tuple[DeadlineDef, ...]
    forms_in_all_states: tuple[GlobalForm, ...]
    raw: Mapping[str, Any] = field(repr=False, compare=False, default_factory=dict)
    tasks: tuple[TaskDef, ...] = ()

    @property
    def initial_state(self) -> str:
        return next(s.id for s in self.states.values() if s.initial)

    def form_ids(self) -> set[str]:
        """Every form the definition mentions."""
        ids = {fa.form_id for s in self.states.values() for fa in s.forms}
        ids |= {g.form_id for g in self.forms_in_all_states}
        ids |= {f for t in self.transitions for f in t.requires_forms}
        return ids


# ---------------------------------------------------------------------------------------------
# parser


class _Collector:
    def __init__(self, file: str) -> None:
        self.file = file
        self.errors: list[DefinitionError] = []

    def add(self, path: str, message: str) -> None:
        self.errors.append(DefinitionError(self.file, path, message))


def _keys(c: _Collector, path: str, value: Mapping[Any, Any], allowed: set[str], required: set[str]) -> None:
    for key in value:
        if not isinstance(key, str):
            c.add(path, f"key {key!r} must be a string (quote it: YAML reads on/off/yes/no as booleans)")
        elif key not in allowed:
            c.add(_join(path, key), f"unknown key {key!r} (allowed: {', '.join(sorted(allowed))})")
    for key in sorted(required):
        if key not in value:
            c.add(path, f"missing key {key!r}")


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _str(c: _Collector, path: str, value: Any, *, default: str | None = None) -> str:
    if value is None and default is not None:
        return default
    if not isinstance(value, str) or not value.strip():
        c.add(path, "must be a non-empty string")
        return default or ""
    return value


def _ident(c: _Collector, path: str, value: Any, what: str) -> str:
    if not isinstance(value, str) or not _ID.match(value):
        c.add(path, f"{what} {value!r} must be lower_snake_case (a-z, 0-9, _)")
        return str(value)
    return value


def _str_list(c: _Collector, path: str, value: Any, *, allow_single: bool = True) -> tuple[str, ...]:
    if isinstance(value, str) and allow_single:
        return (value,)
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        c.add(path, "must be a list of strings")
        return ()
    if len(set(value)) != len(value):
        c.add(path, "has duplicates")
    return tuple(value)


def _bool(c: _Collector, path: str, value: Any) -> bool:
    if value is None:
        return False
    if not isinstance(value, bool):
        c.add(path, "must be true or false")
        return False
    return value


def _notify_list(c: _Collector, path: str, value: Any) -> tuple[NotifyTarget, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        c.add(path, "must be a list of targets such as {roles: [crg_member]}")
        return ()
    out: list[NotifyTarget] = []
    for i, item in enumerate(value):
        p = f"{path}[{i}]"
        if not isinstance(item, Mapping) or len(item) != 1:
            c.add(p, "must have exactly one key: roles, involved_agencies or assigned")
            continue
        ((kind, roles),) = item.items()
        if kind not in ("roles", "involved_agencies", "assigned"):
            c.add(_join(p, str(kind)), f"unknown notification target {kind!r} (roles, involved_agencies, assigned)")
            continue
        out.append(NotifyTarget(kind, _str_list(c, _join(p, kind), roles)))
    return tuple(out)


def _roles_list(c: _Collector, path: str, value: Any) -> tuple[str, ...]:
    roles = _str_list(c, path, value)
    if not roles and isinstance(value, list):
        c.add(path, "needs at least one role")
    return roles


def _parse_states(c: _Collector, raw: Any) -> dict[str, StateDef]:
    states: dict[str, StateDef] = {}
    if not isinstance(raw, Mapping) or not raw:
        c.add("states", "must be a mapping of state ids to their settings")
        return states
    for sid, spec in raw.items():
        path = f"states.{sid}"
        _ident(c, path, sid, "state id")
        if spec is None:
            spec = {}
        if not isinstance(spec, Mapping):
            c.add(path, "must be a mapping (initial, final, title, forms, notify, fresh_forms)")
            continue
        _keys(c, path, spec, {"title", "description", "initial", "final", "forms", "notify", "fresh_forms"}, set())
        forms: list[FormAccess] = []
        raw_forms = spec.get("forms") or {}
        if not isinstance(raw_forms, Mapping):
            c.add(_join(path, "forms"), "must map form ids to the roles that fill them")
            raw_forms = {}
        for fid, roles in raw_forms.items():
            fpath = f"{path}.forms.{fid}"
            _ident(c, fpath, fid, "form id")
            forms.append(FormAccess(str(fid), _roles_list(c, fpath, roles)))
        states[str(sid)] = StateDef(
            id=str(sid),
            title=_str(c, _join(path, "title"), spec.get("title"), default=str(sid).replace("_", " ").capitalize()),
            description=_str(c, _join(path, "description"), spec.get("description"), default=" ").strip(),
            initial=_bool(c, _join(path, "initial"), spec.get("initial")),
            final=_bool(c, _join(path, "final"), spec.get("final")),
            forms=tuple(forms),
            notify=_notify_list(c, _join(path, "notify"), spec.get("notify")),
            fresh_forms=_str_list(c, _join(path, "fresh_forms"), spec.get("fresh_forms") or []),
        )
    return states


def _guard(c: _Collector, path: str, value: Any) -> Expression | None:
    if value is None:
        return None
    if not isinstance(value, str):
        c.add(path, "must be a string expression")
        return None
    try:
        return compile_expression(value)
    except ExpressionError as exc:
        c.add(path, str(exc))
        return None


def _parse_transitions(c: _Collector, raw: Any, states: Mapping[str, StateDef]) -> tuple[TransitionDef, ...]:
    if not isinstance(raw, list) or not raw:
        c.add("transitions", "must be a non-empty list")
        return ()
    out: list[TransitionDef] = []
    allowed = {
        "event", "title", "from", "to", "stays", "roles", "approvals", "requires_forms", "guard", "applies_if",
        "reason", "hand_off",
    }
    non_final = tuple(s.id for s in states.values() if not s.final)
    for i, spec in enumerate(raw):
        path = f"transitions[{i}]"
        if not isinstance(spec, Mapping):
            c.add(path, "must be a mapping")
            continue
        _keys(c, path, spec, allowed, {"event", "from", "roles"})
        event = _ident(c, _join(path, "event"), spec.get("event"), "event")
        approvals: list[ApprovalSlot] = []
        raw_approvals = spec.get("approvals") or []
        if not isinstance(raw_approvals, list):
            c.add(_join(path, "approvals"), "must be a list of {role, sector} slots")
            raw_approvals = []
        for j, slot in enumerate(raw_approvals):
            sp = f"{path}.approvals[{j}]"
            if not isinstance(slot, Mapping):
                c.add(sp, "must be a mapping {role: ..., sector: ...}")
                continue
            _keys(c, sp, slot, {"role", "sector"}, {"role"})
            sector = slot.get("sector")
            if sector is not None and not isinstance(sector, str):
                c.add(_join(sp, "sector"), "must be a string")
                sector = None
            approvals.append(ApprovalSlot(str(slot.get("role")), sector))
        if len(set(approvals)) != len(approvals):
            c.add(_join(path, "approvals"), "has the same slot twice")
        guard = _guard(c, _join(path, "guard"), spec.get("guard"))
        applies_if = _guard(c, _join(path, "applies_if"), spec.get("applies_if"))
        reason = spec.get("reason")
        if (guard is not None or applies_if is not None) and reason is None:
            why = "a guard needs a plain-English reason shown when it fails (so does applies_if)"
            c.add(_join(path, "reason"), why)
        stays = _bool(c, _join(path, "stays"), spec.get("stays"))
        target = spec.get("to")
        if stays:
            if "to" in spec:
                c.add(_join(path, "to"), "a transition that stays in its state has no 'to'")
            target = ""
        elif not isinstance(target, str):
            c.add(
                _join(path, "to") if "to" in spec else path,
                "must be a state id"
                if "to" in spec
                else "missing key 'to' (or 'stays: true' for an event that keeps the state)",
            )
            target = ""
        from_any = spec.get("from") == "*"
        sources = non_final if from_any else _str_list(c, _join(path, "from"), spec.get("from"))
        if not sources and "from" in spec and not from_any:
            c.add(_join(path, "from"), "needs at least one state")
        out.append(
            TransitionDef(
                index=i,
                event=event,
                title=_str(
                    c, _join(path, "title"), spec.get("title"), default=str(event).replace("_", " ").capitalize()
                ),
                sources=sources,
                target=target,
                roles=_roles_list(c, _join(path, "roles"), spec.get("roles")),
                approvals=tuple(approvals),
                requires_forms=_str_list(c, _join(path, "requires_forms"), spec.get("requires_forms") or []),
                guard=guard,
                reason=_str(c, _join(path, "reason"), reason, default="the conditions are not met"),
                stays=stays,
                from_any=from_any,
                applies_if=applies_if,
                hand_off=_hand_off(c, _join(path, "hand_off"), spec.get("hand_off")),
            )
        )
    return tuple(out)


_FIELD = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$")


def _hand_off(c: _Collector, path: str, raw: Any) -> HandOff | None:
    """The shape of a ``hand_off``; names (case type, form, fields, roles) are checked across the
    definitions by :mod:`statemachines.check`."""
    if raw is None:
        return None
    if not isinstance(raw, Mapping):
        c.add(path, "must be a mapping: case_type, form, carry, set, source")
        return None
    _keys(c, path, raw, {"case_type", "form", "carry", "set", "source"}, {"case_type", "form"})
    carry: dict[str, str] = {}
    constants: dict[str, Any] = {}
    for key, out in (("carry", carry), ("set", constants)):
        value = raw.get(key) or {}
        if not isinstance(value, Mapping):
            c.add(_join(path, key), "must map fields of the new case's form to "
                  + ("fields of this case's forms (form_id.field)" if key == "carry" else "constant values"))
            continue
        for target, what in value.items():
            tp = f"{path}.{key}.{target}"
            if not isinstance(target, str) or not _FIELD.match(target):
                c.add(tp, "a field of the new case's form is a dotted lower_snake_case path (no [] lists)")
                continue
            if key == "carry" and (not isinstance(what, str) or not _FIELD.match(what) or "." not in what):
                c.add(tp, "must name a field of one of this case's forms: form_id.field (no [] lists)")
                continue
            if key == "set" and (isinstance(what, (Mapping, list)) or what is None):
                c.add(tp, "must be a constant: a string, number or true/false")
                continue
            out[target] = what
    both = sorted(set(carry) & set(constants))
    for target in both:
        c.add(f"{path}.set.{target}", "is also carried: give each field one source")
    if not carry and not constants:
        c.add(path, "carries nothing: name at least one field in carry or set")
    return HandOff(
        case_type=_ident(c, _join(path, "case_type"), raw.get("case_type"), "case type"),
        form=_ident(c, _join(path, "form"), raw.get("form"), "form id"),
        carry=carry, set=constants,
        source=_str(c, _join(path, "source"), raw.get("source"), default=" ").strip(),
    )


def _parse_deadlines(c: _Collector, raw: Any) -> tuple[DeadlineDef, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        c.add("deadlines", "must be a list")
        return ()
    out: list[DeadlineDef] = []
    allowed = {
        "name", "title", "kind", "starts", "due", "due_soon_working_days", "stop", "notify_overdue", "source",
        "applies_if",
    }
    for i, spec in enumerate(raw):
        path = f"deadlines[{i}]"
        if not isinstance(spec, Mapping):
            c.add(path, "must be a mapping")
            continue
        _keys(c, path, spec, allowed, {"name", "starts", "due"})
        name = _ident(c, _join(path, "name"), spec.get("name"), "deadline name")
        kind = spec.get("kind", "deadline")
        if kind not in ("deadline", "minimum_period"):
            c.add(_join(path, "kind"), "must be deadline or minimum_period")
            kind = "deadline"
        due = spec.get("due")
        rule = DueRule("working_days_after", 0)
        if not isinstance(due, Mapping) or len(due) != 1:
            c.add(_join(path, "due"), f"must have exactly one of: {', '.join(DUE_KINDS)}")
        else:
            ((rk, rn),) = due.items()
            if rk not in DUE_KINDS:
                c.add(_join(path, f"due.{rk}"), f"unknown rule (allowed: {', '.join(DUE_KINDS)})")
            elif not isinstance(rn, int) or isinstance(rn, bool) or rn < 0 or rn > 10_000:
                c.add(_join(path, f"due.{rk}"), "must be a whole number from 0 to 10000")
            else:
                rule = DueRule(rk, rn)
        soon = spec.get("due_soon_working_days", 2)
        if not isinstance(soon, int) or isinstance(soon, bool) or soon < 0 or soon > 1000:
            c.add(_join(path, "due_soon_working_days"), "must be a whole number from 0 to 1000")
            soon = 2
        stop_raw = spec.get("stop") or {}
        stop = StopRule()
        if not isinstance(stop_raw, Mapping):
            c.add(_join(path, "stop"), "must be a mapping (when_set, when_all_set, on_entering)")
        else:
            sp = _join(path, "stop")
            _keys(c, sp, stop_raw, {"when_set", "when_all_set", "on_entering"}, set())
            stop = StopRule(
                when_set=_str_list(c, _join(sp, "when_set"), stop_raw.get("when_set") or []),
                when_all_set=_str_list(c, _join(sp, "when_all_set"), stop_raw.get("when_all_set") or []),
                on_entering=_str_list(c, _join(sp, "on_entering"), stop_raw.get("on_entering") or []),
            )
        notify_overdue = spec.get("notify_overdue")
        raw_starts = spec.get("starts")
        starts_any: tuple[str, ...] = ()
        if isinstance(raw_starts, list):
            starts_any = _str_list(c, _join(path, "starts"), raw_starts, allow_single=False)
            if not starts_any:
                c.add(_join(path, "starts"), "needs at least one date field")
            raw_starts = starts_any[0] if starts_any else None
        out.append(
            DeadlineDef(
                index=i,
                name=name,
                title=_str(
                    c, _join(path, "title"), spec.get("title"), default=str(name).replace("_", " ").capitalize()
                ),
                kind=kind,
                starts=_str(c, _join(path, "starts"), raw_starts),
                rule=rule,
                due_soon_working_days=soon,
                stop=stop,
                notify_overdue=(
                    _notify_list(c, _join(path, "notify_overdue"), notify_overdue)
                    if notify_overdue is not None
                    else (NotifyTarget("roles", ("business_team",)),)
                ),
                source=_str(c, _join(path, "source"), spec.get("source"), default=" ").strip(),
                starts_any=starts_any,
                applies_if=_guard(c, _join(path, "applies_if"), spec.get("applies_if")),
            )
        )
    return tuple(out)


def _evidence(c: _Collector, path: str, raw: Any) -> EvidenceSpec:
    if raw is None:
        return EvidenceSpec(date="required")
    if not isinstance(raw, Mapping):
        c.add(path, "must be a mapping: date, note (required or optional), choice (a list of options)")
        return EvidenceSpec()
    _keys(c, path, raw, {"date", "note", "choice"}, set())
    needs: dict[str, Any] = {}
    for key in ("date", "note"):
        value = raw.get(key)
        if value is not None and value not in ("required", "optional"):
            c.add(_join(path, key), "must be required or optional")
            value = None
        needs[key] = value
    choice: tuple[str, ...] = ()
    if raw.get("choice") is not None:
        choice = _str_list(c, _join(path, "choice"), raw.get("choice"), allow_single=False)
        for i, option in enumerate(choice):
            _ident(c, f"{path}.choice[{i}]", option, "option")
        if len(choice) < 2:
            c.add(_join(path, "choice"), "a choice needs at least two options")
    spec = EvidenceSpec(date=needs["date"], note=needs["note"], choice=choice)
    if spec.date is None and spec.note is None and not spec.choice:
        c.add(path, "a task records at least one of: date, note, choice")
    return spec


def _parse_tasks(c: _Collector, raw: Any, states: Mapping[str, StateDef]) -> tuple[TaskDef, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        c.add("tasks", "must be a list of tasks")
        return ()
    allowed = {"id", "title", "description", "states", "roles", "evidence", "required_before", "applies_if", "source"}
    non_final = tuple(s.id for s in states.values() if not s.final)
    out: list[TaskDef] = []
    for i, spec in enumerate(raw):
        path = f"tasks[{i}]"
        if not isinstance(spec, Mapping):
            c.add(path, "must be a mapping")
            continue
        _keys(c, path, spec, allowed, {"id", "title", "roles", "source"})
        task_id = _ident(c, _join(path, "id"), spec.get("id"), "task id")
        raw_states = spec.get("states")
        out.append(TaskDef(
            index=i,
            id=task_id,
            title=_str(c, _join(path, "title"), spec.get("title"), default=task_id),
            description=_str(c, _join(path, "description"), spec.get("description"), default=" ").strip(),
            states=non_final if raw_states in (None, "*") else _str_list(c, _join(path, "states"), raw_states),
            roles=_roles_list(c, _join(path, "roles"), spec.get("roles")),
            evidence=_evidence(c, _join(path, "evidence"), spec.get("evidence")),
            required_before=_str_list(c, _join(path, "required_before"), spec.get("required_before") or []),
            applies_if=_guard(c, _join(path, "applies_if"), spec.get("applies_if")),
            source=_str(c, _join(path, "source"), spec.get("source")),
        ))
    return tuple(out)


def _parse_global_forms(c: _Collector, raw: Any) -> tuple[GlobalForm, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, Mapping):
        c.add("forms_in_all_states", "must map form ids to {roles: [...], include_final: bool}")
        return ()
    out: list[GlobalForm] = []
    for fid, spec in raw.items():
        path = f"forms_in_all_states.{fid}"
        _ident(c, path, fid, "form id")
        if not isinstance(spec, Mapping):
            c.add(path, "must be a mapping {roles: [...], include_final: bool}")
            continue
        _keys(c, path, spec, {"roles", "include_final", "clock_field"}, {"roles"})
        clock_field = spec.get("clock_field")
        if clock_field is not None:
            clock_field = _ident(c, _join(path, "clock_field"), clock_field, "field name")
        out.append(
            GlobalForm(
                form_id=str(fid),
                roles=_roles_list(c, _join(path, "roles"), spec.get("roles")),
                include_final=_bool(c, _join(path, "include_final"), spec.get("include_final")),
                clock_field=clock_field or None,
            )
        )
    return tuple(out)


def parse_definition(raw: Any, file: str) -> tuple[Definition | None, list[DefinitionError]]:
    """Build a :class:`Definition` from loaded YAML; return it with the shape errors found.

    The definition is ``None`` only when the document is not a mapping at all.
    """
    c = _Collector(file)
    if not isinstance(raw, Mapping):
        c.add("", "the document must be a mapping with case_type, version, title, states, transitions")
        return None, c.errors
    _keys(
        c,
        "",
        raw,
        {
            "case_type", "version", "title", "description", "states", "transitions", "deadlines",
            "forms_in_all_states", "tasks",
        },
        {"case_type", "version", "title", "states", "transitions"},
    )
    case_type = _ident(c, "case_type", raw.get("case_type"), "case type")
    version = raw.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        c.add("version", "must be a whole number from 1")
        version = 0
    states = _parse_states(c, raw.get("states"))
    definition = Definition(
        file=file,
        case_type=case_type,
        version=version,
        title=_str(c, "title", raw.get("title"), default=case_type),
        description=_str(c, "description", raw.get("description"), default=" ").strip(),
        states=states,
        transitions=_parse_transitions(c, raw.get("transitions"), states),
        deadlines=_parse_deadlines(c, raw.get("deadlines")),
        forms_in_all_states=_parse_global_forms(c, raw.get("forms_in_all_states")),
        raw=raw,
        tasks=_parse_tasks(c, raw.get("tasks"), states),
    )
    return definition, c.errors
