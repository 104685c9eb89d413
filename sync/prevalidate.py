"""Form validation done before the store's write lock is taken (ADR 0012).

Units of work are serialised: whatever a handler does under the lock, every other writer waits
for. Validating a form is the one costly step whose input the payload already holds, so the write
path validates each mutation's forms here first, with no lock held, and the handler under the lock
looks the answer up (:meth:`Validations.run`): an identity check for the payload's own data, an
equality check for data built from stored state. Only what changed in between (a race) is
validated under the lock, and that is bounded too (every array and string has a limit).

The handler still decides, in its own order, whether validation matters at all: access and
state checks come first, so a caller learns nothing about a case from an early validation. The
same checks are asked here first, on committed state (ADR 0032): a form the case's state, the
caller's roles or agency refuse is not validated at all, so a refusal costs a read, not a walk of
the body. When a race changes the answer (an earlier mutation of the same batch opens the form),
the handler validates under the lock as before: the gate only decides what is done early.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Callable, Mapping
from typing import Any

from forms.errors import FieldError, FormError
from forms.registry import FormRegistry
from forms.validation import WALK_FACTOR
from store import Store
from sync import access
from sync.commands import referral_gate, submission_gate  # the handlers' own checks
from sync.context import CASES, CONFLICTS, SUBMISSIONS
from sync.merge import resolved_data  # and the resolution they apply
from sync.problems import MAX_LISTED_ERRORS

Outcome = list[FieldError] | FormError
_Entry = tuple[str, Any, bool, dt.date, Any, Outcome]


class Validations:
    """The validations of one request: done once, looked up by the handlers."""

    def __init__(self, forms: FormRegistry) -> None:
        self.forms = forms
        self._done: list[_Entry] = []
        self._by_data: dict[int, _Entry] = {}  # by the id of the data validated (kept alive in _done)
        self.cases: dict[str, Any] = {}  # committed cases the gate read, once per request (None: absent)
        # one budget of jsonschema errors for the whole request: a push of 200 invalid forms costs
        # what one costs; once spent, an invalid form is still refused, with fewer errors listed
        self.walk_budget = WALK_FACTOR * MAX_LISTED_ERRORS

    def run(self, form_id: str, version: Any, data: Any, *, final: bool, today: dt.date) -> list[FieldError]:
        """``FormRegistry.validate``, answered from an earlier identical call when there was one:
        the one made for this very data object first (each mutation's own answer, so identical
        payloads repeated in a batch each take their share of the request's budget, ADR 0032),
        else one made for equal data (a merge built from stored state)."""
        key = (form_id, version, final, today)
        own = self._by_data.get(id(data))
        outcome = own[5] if own is not None and own[4] is data and own[:4] == key else None
        if outcome is None:
            outcome = next((o for *k, d, o in self._done if tuple(k) == key and d == data), None)
        if outcome is None:
            outcome = self._validate(form_id, version, data, final, today)
        if isinstance(outcome, FormError):
            raise outcome
        return outcome

    def _validate(self, form_id: str, version: Any, data: Any, final: bool, today: dt.date) -> Outcome:
        try:
            outcome: Outcome = self.forms.validate(form_id, version, data, final=final, today=today,
                                                   limit=MAX_LISTED_ERRORS, walk=self.walk_budget)
            self.walk_budget = max(0, self.walk_budget - getattr(outcome, "walked", 0))
        except FormError as exc:
            outcome = exc
        entry = (form_id, version, final, today, data, outcome)
        self._done.append(entry)
        self._by_data[id(data)] = entry
        return outcome

    def warm(self, form_id: Any, version: Any, data: Any, *, final: bool, today: dt.date) -> None:
        if isinstance(form_id, str) and isinstance(data, dict):
            self._validate(form_id, version, data, final, today)


class Gate:
    """What a handler checks before it validates, asked of committed state with no lock held.
    Each method raises (a :class:`~sync.problems.Problem`, or anything on odd input) when the
    handler would refuse the mutation before validating its form."""

    def __init__(self, store: Store, case_types: Any, actor: Any, case_id: Any, cases: dict[str, Any]) -> None:
        self.store, self.case_types, self.actor, self.case_id, self.cases = store, case_types, actor, case_id, cases

    def writable_case(self) -> Mapping[str, Any]:
        if isinstance(self.case_id, str) and self.case_id not in self.cases:
            self.cases[self.case_id] = self.store.get(CASES, self.case_id)
        doc = self.cases[self.case_id] if isinstance(self.case_id, str) else None
        if doc is None or not access.can_see_case(self.actor, doc.data) \
                or not access.can_write_case(self.actor, doc.data):
            raise LookupError("a case the handler refuses (404 or 403)")
        return doc.data

    def case_type(self, case: Mapping[str, Any]) -> Any:
        return self.case_types.get(case["case_type"], case["case_type_version"])


def _create_case(v: Validations, gate: Gate, payload: Mapping[str, Any], today: dt.date) -> None:
    referral = payload.get("referral")
    if isinstance(referral, dict):
        referral_gate(gate.case_types, gate.actor, payload)
        v.warm(referral.get("form_id"), referral.get("form_version"), referral.get("data"), final=True, today=today)


def _save_submission(v: Validations, gate: Gate, payload: Mapping[str, Any], today: dt.date) -> None:
    if payload.get("status") in ("draft", "final"):
        case = gate.writable_case()
        submission_gate(v.forms, gate.case_type(case), gate.actor, case, payload)
        v.warm(payload.get("form_id"), payload.get("form_version"), payload.get("data"),
               final=payload["status"] == "final", today=today)


def _resolve_conflict(v: Validations, gate: Gate, payload: Mapping[str, Any], today: dt.date) -> None:
    if payload.get("choose") not in ("incoming", "value") or not isinstance(payload.get("conflict_id"), str):
        return
    case = gate.writable_case()
    conflict = gate.store.get(CONFLICTS, payload["conflict_id"])
    sub = gate.store.get(SUBMISSIONS, conflict.data["submission_id"]) if conflict is not None else None
    if sub is None or conflict.data["case_id"] != case["case_id"] or conflict.data["resolved"] \
            or not access.can_see_submission(gate.actor, case, sub.data) \
            or not gate.case_type(case).form_open(sub.data["form_id"], case["state"], gate.actor.roles):
        return
    data = resolved_data(sub.data["data"], conflict.data, payload)
    if data is not None:
        v.warm(sub.data["form_id"], sub.data["form_version"], data, final=sub.data["status"] == "final", today=today)


_WARMERS: dict[str, Callable[[Validations, Gate, Mapping[str, Any], dt.date], None]] = {
    "create_case": _create_case, "save_submission": _save_submission, "resolve_conflict": _resolve_conflict,
}


def prevalidate(validations: Validations, store: Store, kind: str, payload: Any, today: dt.date, *,
                case_types: Any, actor: Any, case_id: Any) -> None:
    """Validate the forms a mutation of ``kind`` will need, before any lock, unless the handler
    would refuse it before validating (:class:`Gate`). Anything odd about the payload is left for
    the handler to name."""
    warm = _WARMERS.get(kind)
    if warm is None or not isinstance(payload, Mapping):
        return
    with contextlib.suppress(Exception):  # the handler meets the same input under the lock and names the fault
        warm(validations, Gate(store, case_types, actor, case_id, validations.cases), payload, today)
