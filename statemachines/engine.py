"""The pure case engine: one :class:`CaseType` per (case_type, version) definition.

It knows states, transitions, forms, roles, approvals, clocks and notification targets. It knows
nothing of HTTP, storage or users beyond an :class:`Actor`'s role names and sector. The caller (the
server) supplies, for every call:

* ``forms``: ``{form_id: data of the latest FINAL submission of that form on the case}``;
* ``context``: values the server counts, e.g. ``{"returns": {"expected": 3, "received": 2,
  "missing": 1, "missing_agencies": ["uh-sussex"], "all_received": False}}`` (see ``CONTEXT_FIELDS``);
* ``votes``: the approval decisions recorded so far for the pending event;
* ``timeline`` (optional): the states the case entered, in order, and when (as a position in that
  list) each final form was last submitted, so that a state's ``fresh_forms`` count only when
  submitted in the current round (without it, every state is taken to be on its first visit);
* ``today`` for clocks (an injectable clock: the engine never reads the system time).

Every transition runs through a python-statemachine ``StateMachine`` (not ``StateChart``): a
disallowed event raises, and a failed guard/validator leaves the state unchanged. The machine
class is generated from the definition and cached on the :class:`CaseType`; guards are the
definition's safe expressions (``cond``) and roles, required forms and approvals are validators.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from statemachine import State, StateMachine
from statemachine.exceptions import TransitionNotAllowed

from .approvals import approval_status
from .deadlines import DeadlineStatus, compute_deadlines
from .definition import (
    ApprovalSlot,
    Definition,
    NotifyTarget,
    StateDef,
    TransitionDef,
)
from .expressions import resolve_path
from .tasks import normalise, record_errors, task_applies
from .values import Actor, Decision, Problem, Timeline, TransitionRefused, UnknownState, Vote

__all__ = ["CaseType"]


# ---------------------------------------------------------------------------------------------
# the case type


@dataclass(frozen=True)
class _Inputs:
    """What the generated machine's callbacks receive (``send(event, evaluation=...)``)."""

    actor: Actor
    forms: Mapping[str, Any]
    context: Mapping[str, Any]
    votes: tuple[Vote, ...] = field(default=())
    #: the state's fresh forms whose latest final is from an earlier round (left out of ``forms``)
    stale: frozenset[str] = frozenset()


def _roles_text(roles: Iterable[str]) -> str:
    return ", ".join(sorted(roles))


class CaseType:
    """A loaded, checked case-type definition with its generated state machine."""

    def __init__(self, definition: Definition) -> None:
        self.definition = definition
        self.case_type = definition.case_type
        self.version = definition.version
        self.title = definition.title
        self._states: Mapping[str, StateDef] = definition.states
        self._by_source: dict[str, list[TransitionDef]] = {}
        for t in definition.transitions:
            for src in t.sources:
                self._by_source.setdefault(src, []).append(t)
        self._events = tuple(dict.fromkeys(t.event for t in definition.transitions))
        self._tasks = {t.id: t for t in definition.tasks}
        self._tasks_before: dict[str, list[Any]] = {}
        for task in definition.tasks:
            for ev in task.required_before:
                self._tasks_before.setdefault(ev, []).append(task)
        # form id -> every role any of its entries opens it to, per state (form_access's index)
        self._form_roles: dict[str, dict[str, frozenset[str]]] = {}
        for state in self._states:
            roles_of: dict[str, set[str]] = {}
            for fid, fa_roles in self._form_entries(state):
                roles_of.setdefault(fid, set()).update(fa_roles)
            self._form_roles[state] = {fid: frozenset(r) for fid, r in roles_of.items()}
        self._machine_class = self._build_machine_class()
        self._diagram: str | None = None

    def __repr__(self) -> str:
        return f"<CaseType {self.case_type} v{self.version}>"

    # -- structure ---------------------------------------------------------------------------
    @property
    def initial_state(self) -> str:
        return self.definition.initial_state

    @property
    def states(self) -> tuple[str, ...]:
        return tuple(self._states)

    @property
    def final_states(self) -> tuple[str, ...]:
        return tuple(s.id for s in self._states.values() if s.final)

    @property
    def events(self) -> tuple[str, ...]:
        return self._events

    def is_final(self, state: str) -> bool:
        return self._state(state).final

    def _state(self, state: str) -> StateDef:
        try:
            return self._states[state]
        except KeyError:
            raise UnknownState(f"{state!r} is not a state of {self.case_type} v{self.version}") from None

    def transitions_from(self, state: str) -> list[TransitionDef]:
        self._state(state)
        return list(self._by_source.get(state, ()))

    # -- forms -------------------------------------------------------------------------------
    def clock_name_errors(self, form_id: str, data: Any) -> list[tuple[str, str]]:
        """``(field, message)`` where ``data`` of ``form_id`` names a clock this case type does not
        have (``forms_in_all_states.<form>.clock_field``); an absent value is the form's business."""
        names = [dl.name for dl in self.definition.deadlines]
        out = []
        for g in self.definition.forms_in_all_states:
            if g.form_id != form_id or g.clock_field is None or not isinstance(data, Mapping):
                continue
            value = data.get(g.clock_field)
            if isinstance(value, str) and value not in names:
                out.append((g.clock_field, f"Name a clock of this case type: {', '.join(names)}."))
        return out

    def open_forms(self, state: str, roles: Iterable[str] | None = None) -> list[tuple[str, tuple[str, ...]]]:
        """``(form_id, roles that may fill it)`` for the forms open in ``state``.

        With ``roles``, only the forms at least one of those roles may fill.
        """
        wanted = None if roles is None else set(roles)
        out: dict[str, tuple[str, ...]] = {}
        for fid, fa_roles in self._form_entries(state):
            if fid in out:
                continue
            if wanted is None or wanted & set(fa_roles):
                out[fid] = fa_roles
        return list(out.items())

    def _form_entries(self, state: str) -> Iterator[tuple[str, tuple[str, ...]]]:
        """The state's own form entries, then the forms open in every state (a final state's only
        when they say so), in that order, duplicates included."""
        s = self._state(state)
        for fa in s.forms:
            yield fa.form_id, fa.roles
        for g in self.definition.forms_in_all_states:
            if not s.final or g.include_final:
                yield g.form_id, g.roles

    def form_access(self, form_id: str, state: str, roles: Iterable[str]) -> tuple[bool, bool]:
        """``(form_open(form_id, state), form_open(form_id, state, roles))`` in one look-up: each
        state's form entries are indexed once, when the definition is loaded (a save asks both,
        twice; the walk of a state's entries was a few per cent of a saved draft, ADR 0038)."""
        index = self._form_roles.get(state)
        if index is None:
            self._state(state)  # raises UnknownState
        allowed = index.get(form_id)  # type: ignore[union-attr]
        if allowed is None:
            return False, False
        return True, not allowed.isdisjoint(roles)

    def form_open(self, form_id: str, state: str, roles: Iterable[str] | None = None) -> bool:
        """True if ``form_id`` may be filled in ``state`` (by one of ``roles``, when given)."""
        if roles is None:
            return self.form_access(form_id, state, ())[0]
        return self.form_access(form_id, state, roles)[1]

    # -- events ------------------------------------------------------------------------------
    def allowed_events(
        self,
        state: str,
        actor: Actor,
        forms: Mapping[str, Any] | None = None,
        context: Mapping[str, Any] | None = None,
    ) -> list[str]:
        """Events from ``state`` that ``actor``'s roles may fire (guards are not applied: a UI
        can show the failing guards' reasons via :meth:`evaluate`)."""
        out: list[str] = []
        for t in self.transitions_from(state):
            if t.event not in out and actor.roles & set(t.roles):
                out.append(t.event)
        return out

    def evaluate_all(
        self,
        state: str,
        actor: Actor,
        forms: Mapping[str, Any],
        context: Mapping[str, Any] | None = None,
        timeline: Timeline | None = None,
    ) -> list[Decision]:
        """A :class:`Decision` for each of :meth:`allowed_events`."""
        return [
            self.evaluate(state, e, actor, forms, context, timeline=timeline) for e in self.allowed_events(state, actor)
        ]

    def stale_forms(self, state: str, forms: Mapping[str, Any], timeline: Timeline | None) -> frozenset[str]:
        """The fresh forms of ``state`` whose latest final was submitted in an earlier round."""
        fresh = self._state(state).fresh_forms
        if not fresh or timeline is None:
            return frozenset()
        start = timeline.round_start(state)
        return frozenset(f for f in fresh if f in forms and timeline.final_at.get(f, 0) < start)

    def _inputs(self, state, actor, forms, context, votes, timeline) -> _Inputs:
        stale = self.stale_forms(state, forms, timeline)
        current = {k: v for k, v in forms.items() if k not in stale} if stale else forms
        context = dict(context or {})
        context["tasks"] = normalise(self.definition.tasks, context.get("tasks"))
        return _Inputs(actor, current, context, tuple(votes), stale)

    def evaluate(
        self,
        state: str,
        event: str,
        actor: Actor,
        forms: Mapping[str, Any],
        context: Mapping[str, Any] | None = None,
        votes: Iterable[Vote] = (),
        timeline: Timeline | None = None,
    ) -> Decision:
        """What firing ``event`` now would do, with every reason it cannot (yet)."""
        self._state(state)
        inputs = self._inputs(state, actor, forms, context, votes, timeline)
        if event not in self._events:
            return Decision(event, state, None, (Problem("unknown_event", f"There is no event {event!r}."),))
        candidates = [t for t in self._by_source.get(state, ()) if t.event == event]
        if not candidates:
            sources = sorted({s for t in self.definition.transitions if t.event == event for s in t.sources})
            return Decision(
                event,
                state,
                None,
                (
                    Problem(
                        "not_from_state",
                        f"{event!r} is not possible in state {state!r} (only in: {', '.join(sources)}).",
                    ),
                ),
            )
        chosen = self._first_guard_ok(candidates, inputs)
        if chosen is not None:
            problems = self._requirement_problems(chosen, inputs)
            status = approval_status(chosen.approvals, inputs.votes) if chosen.approvals else None
            return Decision(event, state, chosen.target_of(state), tuple(problems), chosen.approvals, status)
        # no alternative holds: explain those that apply to this case (all of them if none does)
        relevant = [t for t in candidates if self._applies(t, inputs)] or candidates
        problems: list[Problem] = []
        for t in relevant:
            for p in self._requirement_problems(t, inputs, with_approvals=False, guard_failed=True):
                if p not in problems:
                    problems.append(p)
        for t in relevant:
            p = Problem("guard", t.reason)
            if p not in problems:
                problems.append(p)
        target = relevant[0].target_of(state) if len(relevant) == 1 else None
        return Decision(event, state, target, tuple(problems), relevant[0].approvals if target else ())

    def chosen_transition(
        self,
        state: str,
        event: str,
        forms: Mapping[str, Any],
        context: Mapping[str, Any] | None = None,
        timeline: Timeline | None = None,
    ) -> TransitionDef | None:
        """The alternative of ``event`` from ``state`` the case takes now (its ``applies_if`` and
        guard hold; the first in file order), or None; the caller reads its ``hand_off``."""
        inputs = self._inputs(state, Actor(()), forms, context, (), timeline)
        return self._first_guard_ok([t for t in self._by_source.get(state, ()) if t.event == event], inputs)

    def approval_slots(
        self,
        state: str,
        event: str,
        forms: Mapping[str, Any],
        context: Mapping[str, Any] | None = None,
        timeline: Timeline | None = None,
    ) -> tuple[ApprovalSlot, ...]:
        """The approvals the transition ``event`` would take from ``state`` needs now."""
        return self.evaluate(state, event, Actor(()), forms, context, timeline=timeline).approvals_needed

    @staticmethod
    def _lookup(inputs: _Inputs, path: str) -> Any:
        root = path.split(".", 1)[0].split("[]", 1)[0]
        source = inputs.context if root in inputs.context and root not in inputs.forms else inputs.forms
        return resolve_path(source, path)

    def _resolver(self, inputs: _Inputs) -> Any:
        return lambda path: self._lookup(inputs, path)

    def _applies(self, t: TransitionDef, inputs: _Inputs) -> bool:
        if t.applies_if is None:
            return True
        return t.applies_if.evaluate(lambda path: self._lookup(inputs, path))

    def _first_guard_ok(self, candidates: list[TransitionDef], inputs: _Inputs) -> TransitionDef | None:
        """The alternative the case takes: the first, in file order, whose guard holds."""
        return next((t for t in candidates if self._guard_ok(t, inputs)), None)

    def _guard_ok(self, t: TransitionDef, inputs: _Inputs) -> bool:
        """The transition's whole condition: it applies to the case and its guard holds."""
        if not self._applies(t, inputs):
            return False
        if t.guard is None:
            return True
        return t.guard.evaluate(lambda path: self._lookup(inputs, path))

    def _requirement_problems(
        self, t: TransitionDef, inputs: _Inputs, *, with_approvals: bool = True, guard_failed: bool = False
    ) -> list[Problem]:
        problems: list[Problem] = []
        if not inputs.actor.roles & set(t.roles):
            have = _roles_text(inputs.actor.roles) or "no role"
            problems.append(Problem("role", f"{t.title}: only {_roles_text(t.roles)} may do this (you have: {have})."))
        # a stale form the failed guard read explains the failure as much as a required one
        read = {f.split(".", 1)[0].split("[]", 1)[0] for f in t.fields()} if guard_failed else set()
        for fid in [*t.requires_forms, *sorted(read - set(t.requires_forms))]:
            if fid in inputs.stale:
                problems.append(Problem(
                    "form_stale",
                    f"The form {fid!r} was submitted in an earlier round: submit it again (final) in this round.",
                ))
            elif fid in t.requires_forms and not inputs.forms.get(fid):
                problems.append(Problem("form_missing", f"The form {fid!r} needs a final submission first."))
        for task in self._tasks_before.get(t.event, ()):
            if not inputs.context["tasks"][task.id]["done"] and task_applies(task, self._resolver(inputs)):
                problems.append(Problem("task_missing", f"Record first: {task.title} ({task.source})."))
        if with_approvals and t.approvals:
            status = approval_status(t.approvals, inputs.votes)
            for v in status.rejected_by:
                who = ApprovalSlot(v.role, v.sector).label
                problems.append(Problem("approval_rejected", f"Rejected by {who}: {t.title} cannot go ahead."))
            if status.missing and not status.rejected_by:
                labels = ", ".join(s.label for s in status.missing)
                problems.append(Problem("approval_missing", f"Waiting for approval from: {labels}."))
        return problems

    # -- tasks -------------------------------------------------------------------------------
    @property
    def tasks(self) -> tuple[Any, ...]:
        return self.definition.tasks

    def check_task_record(
        self,
        state: str,
        task_id: str,
        actor: Actor,
        evidence: Mapping[str, Any],
        forms: Mapping[str, Any],
        context: Mapping[str, Any] | None,
        today: dt.date,
    ) -> tuple[str | None, list[tuple[str, str]]]:
        """Whether ``actor`` may record ``task_id`` now with ``evidence``: ``(None, [])`` when yes,
        else a problem kind (``unknown_task``, ``not_in_state``, ``role``, ``not_applicable``,
        ``invalid``) with ``(field, message)`` pairs."""
        self._state(state)
        task = self._tasks.get(task_id)
        if task is None:
            return "unknown_task", [("task", "This case type has no such task.")]
        if state not in task.states:
            return "not_in_state", [("task", f"This task is recorded in: {', '.join(task.states)}.")]
        if not actor.roles & set(task.roles):
            return "role", [("task", f"Only {_roles_text(task.roles)} may record this task.")]
        inputs = self._inputs(state, actor, forms, context, (), None)
        if not task_applies(task, self._resolver(inputs)):
            return "not_applicable", [("task", "This task does not apply to this case.")]
        errors = record_errors(task, evidence, today)
        return ("invalid", errors) if errors else (None, [])

    def task_view(
        self, state: str, actor: Actor, forms: Mapping[str, Any], context: Mapping[str, Any] | None
    ) -> list[dict[str, Any]]:
        """Every task that applies to the case: its definition, whether it is done, what was
        recorded, and whether ``actor`` may record it in ``state``."""
        inputs = self._inputs(state, actor, forms, context, (), None)
        records = (context or {}).get("tasks") or {}
        out = []
        for task in self.definition.tasks:
            if not task_applies(task, self._resolver(inputs)):
                continue
            rec = records.get(task.id) if isinstance(records.get(task.id), Mapping) else None
            out.append({
                "task": task.id, "title": task.title, "description": task.description or None,
                "source": task.source, "roles": list(task.roles), "states": list(task.states),
                "evidence": task.evidence.to_dict(), "required_before": list(task.required_before),
                "done": inputs.context["tasks"][task.id]["done"],
                "recorded": dict(rec) if rec else None,
                "open_here": state in task.states,
                "you_can_record": state in task.states and bool(actor.roles & set(task.roles)),
            })
        return out

    # -- the python-statemachine machine -----------------------------------------------------
    def _build_machine_class(self, *, for_diagram: bool = False) -> type[StateMachine]:
        """Generate the ``StateMachine`` subclass; ``for_diagram`` leaves out the events that keep
        the state (they would draw a loop on every state)."""
        states = {
            s.id: State(name=s.title, value=s.id, initial=s.initial, final=s.final) for s in self._states.values()
        }
        attrs: dict[str, Any] = dict(states)
        for t in self.definition.transitions:
            if for_diagram and t.stays:
                continue
            cond, validator = self._callbacks(t)
            for src in t.sources:
                target = states[t.target_of(src)]
                # an unguarded transition gets no cond (the diagram then shows no [label])
                conds = [cond] if t.guard is not None or t.applies_if is not None else []
                tl = states[src].to(target, event=t.event, cond=conds, validators=[validator])
                attrs[t.event] = attrs[t.event] | tl if t.event in attrs else tl
        name = "".join(part.capitalize() for part in self.case_type.split("_")) + f"V{self.version}"
        return type(name, (StateMachine,), attrs)

    def _callbacks(self, t: TransitionDef) -> tuple[Any, Any]:
        def guard(evaluation: _Inputs | None = None, **_: Any) -> bool:
            return evaluation is not None and self._guard_ok(t, evaluation)

        def requirements(evaluation: _Inputs | None = None, source: Any = None, **_: Any) -> None:
            src = getattr(source, "id", None) or "?"
            if evaluation is None:
                problem = Problem("guard", "The engine needs the actor, forms and votes to decide.")
                raise TransitionRefused(Decision(t.event, src, t.target_of(src), (problem,)))
            if not self._guard_ok(t, evaluation):
                return  # not this transition: its cond rejects it and the next one is tried
            problems = self._requirement_problems(t, evaluation)
            if problems:
                status = approval_status(t.approvals, evaluation.votes) if t.approvals else None
                decision = Decision(t.event, src, t.target_of(src), tuple(problems), t.approvals, status)
                raise TransitionRefused(decision)

        guard.__name__ = "guard"
        requirements.__name__ = "requirements"
        return guard, requirements

    @property
    def machine_class(self) -> type[StateMachine]:
        """The generated ``StateMachine`` subclass (cached; one per case type version)."""
        return self._machine_class

    def machine(self, state: str | None = None) -> StateMachine:
        """A machine restored at ``state`` (the initial state when None)."""
        if state is not None:
            self._state(state)
            return self._machine_class(start_value=state)
        return self._machine_class()

    def fire(
        self,
        state: str,
        event: str,
        *,
        actor: Actor,
        forms: Mapping[str, Any],
        context: Mapping[str, Any] | None = None,
        votes: Iterable[Vote] = (),
        timeline: Timeline | None = None,
    ) -> str:
        """Run ``event`` on the machine restored at ``state``; return the new state.

        Raises :class:`TransitionRefused` (a ``TransitionNotAllowed``) with the reasons when the
        event is unknown or not possible here, the actor's role may not fire it, a required
        final form is missing or (for the state's ``fresh_forms``) from an earlier round, the
        guard is false, or an approval is missing or was rejected.
        """
        self._state(state)
        inputs = self._inputs(state, actor, forms, context, votes, timeline)
        sm = self.machine(state)
        try:
            sm.send(event, evaluation=inputs)
        except TransitionRefused as refused:
            # the machine's validator refused: explain with the full decision
            raise TransitionRefused(self.evaluate(state, event, actor, forms, context, votes, timeline)) from refused
        except TransitionNotAllowed as exc:
            decision = self.evaluate(state, event, actor, forms, context, votes, timeline)
            if decision.complete:  # pragma: no cover - would mean engine and machine disagree
                raise
            raise TransitionRefused(decision) from exc
        return str(sm.current_state_value)

    # -- clocks and alerts -------------------------------------------------------------------
    def deadlines(
        self,
        forms: Mapping[str, Any],
        state_history: Sequence[tuple[str, dt.date]],
        today: dt.date,
    ) -> list[DeadlineStatus]:
        """The status of each clock whose start date is recorded (see :mod:`.deadlines`)."""
        return compute_deadlines(self.definition.deadlines, forms, state_history, today)

    def notifications_on_enter(self, state: str) -> tuple[NotifyTarget, ...]:
        """Who is alerted when a case enters ``state`` (declarative targets)."""
        return self._state(state).notify

    def notifications_on_overdue(self, deadline: str) -> tuple[NotifyTarget, ...]:
        """Who is alerted when the clock ``deadline`` is overdue (business team by default)."""
        for dl in self.definition.deadlines:
            if dl.name == deadline:
                return dl.notify_overdue
        raise KeyError(deadline)

    # -- rendering ---------------------------------------------------------------------------
    def describe(self) -> dict[str, Any]:
        """The JSON of ``GET /api/v1/case-types/{case_type}``."""
        d = self.definition
        return {
            "case_type": d.case_type,
            "version": d.version,
            "title": d.title,
            "description": d.description,
            "initial_state": self.initial_state,
            "states": [
                {
                    "id": s.id,
                    "title": s.title,
                    "description": s.description,
                    "initial": s.initial,
                    "final": s.final,
                    "forms": [{"form_id": fid, "roles": list(roles)} for fid, roles in self.open_forms(s.id)],
                    "fresh_forms": list(s.fresh_forms),
                    "notify_on_enter": [n.to_dict() for n in s.notify],
                }
                for s in d.states.values()
            ],
            "transitions": [
                {
                    "event": t.event,
                    "title": t.title,
                    "from": list(t.sources),
                    "to": t.target or None,
                    "stays": t.stays,
                    "roles": list(t.roles),
                    "approvals_needed": [a.to_dict() for a in t.approvals],
                    "forms_needed": list(t.requires_forms),
                    "applies_if": t.applies_if.source if t.applies_if else None,
                    "guard": t.guard.source if t.guard else None,
                    "reason": t.reason if t.guard or t.applies_if else None,
                    "hand_off": t.hand_off.to_dict() if t.hand_off else None,
                }
                for t in d.transitions
            ],
            "deadlines": [
                {
                    "name": dl.name,
                    "title": dl.title,
                    "kind": dl.kind,
                    "starts": dl.starts,
                    "starts_first_set_of": list(dl.start_fields),
                    "applies_if": dl.applies_if.source if dl.applies_if else None,
                    "due": dl.rule.to_dict(),
                    "due_soon_working_days": dl.due_soon_working_days,
                    "stop": dl.stop.to_dict(),
                    "notify_overdue": [n.to_dict() for n in dl.notify_overdue],
                    "source": dl.source or None,
                }
                for dl in d.deadlines
            ],
            "forms_in_all_states": [
                {"form_id": g.form_id, "roles": list(g.roles), "include_final": g.include_final,
                 **({"clock_field": g.clock_field} if g.clock_field else {})}
                for g in d.forms_in_all_states
            ],
            "tasks": [
                {
                    "task": t.id, "title": t.title, "description": t.description or None, "states": list(t.states),
                    "roles": list(t.roles), "evidence": t.evidence.to_dict(),
                    "required_before": list(t.required_before),
                    "applies_if": t.applies_if.source if t.applies_if else None, "source": t.source,
                }
                for t in d.tasks
            ],
        }

    def mermaid(self) -> str:
        """A Mermaid ``stateDiagram-v2`` of the machine, rendered by python-statemachine.

        Events that keep the state (``stays: true``) are listed as ``%%`` comments instead of
        drawing a loop on every state.
        """
        if self._diagram is None:
            text = format(self._build_machine_class(for_diagram=True), "mermaid").rstrip("\n")
            stays = [t for t in self.definition.transitions if t.stays]
            notes = [
                f"    %% {t.event}: keeps the state; from "
                + ("every non-final state" if t.from_any else ", ".join(t.sources))
                for t in stays
            ]
            self._diagram = "\n".join([text, *notes]) + "\n"
        return self._diagram
