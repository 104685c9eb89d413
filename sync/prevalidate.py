"""Form validation done before the store's write lock is taken (ADR 0012).

Units of work are serialised: whatever a handler does under the lock, every other writer waits
for. Validating a form is the one costly step whose input the payload already holds, so the write
path validates each mutation's forms here first, with no lock held, and the handler under the lock
looks the answer up (:meth:`Validations.run`): an identity check for the payload's own data, an
equality check for data built from stored state. Only what changed in between (a race) is
validated under the lock, and that is bounded too (every array and string has a limit).

The handler still decides, in its own order, whether validation matters at all: access and
state checks come first, so a caller learns nothing about a case from an early validation.
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
from sync.problems import MAX_LISTED_ERRORS

Outcome = list[FieldError] | FormError
_Entry = tuple[str, Any, bool, dt.date, Any, Outcome]


class Validations:
    """The validations of one request: done once, looked up by the handlers."""

    def __init__(self, forms: FormRegistry) -> None:
        self.forms = forms
        self._done: list[_Entry] = []
        # one budget of jsonschema errors for the whole request: a push of 200 invalid forms costs
        # what one costs; once spent, an invalid form is still refused, with fewer errors listed
        self.walk_budget = WALK_FACTOR * MAX_LISTED_ERRORS

    def run(self, form_id: str, version: Any, data: Any, *, final: bool, today: dt.date) -> list[FieldError]:
        """``FormRegistry.validate``, answered from an earlier identical call when there was one."""
        # the same object first (a push's own mutation), then an equal one: comparing every earlier
        # form of a batch of 50 by value made the lookups quadratic (issue #15)
        outcome = next((o for f, v, fin, day, d, o in self._done
                        if d is data and f == form_id and v == version and fin is final and day == today), None)
        if outcome is None:
            outcome = next((o for f, v, fin, day, d, o in self._done
                            if f == form_id and v == version and fin is final and day == today and d == data), None)
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
        self._done.append((form_id, version, final, today, data, outcome))
        return outcome

    def warm(self, form_id: Any, version: Any, data: Any, *, final: bool, today: dt.date) -> None:
        if isinstance(form_id, str) and isinstance(data, dict):
            self._validate(form_id, version, data, final, today)


def _create_case(v: Validations, store: Store, payload: Mapping[str, Any], today: dt.date) -> None:
    referral = payload.get("referral")
    if isinstance(referral, dict):
        v.warm(referral.get("form_id"), referral.get("form_version"), referral.get("data"), final=True, today=today)


def _save_submission(v: Validations, store: Store, payload: Mapping[str, Any], today: dt.date) -> None:
    if payload.get("status") in ("draft", "final"):
        v.warm(payload.get("form_id"), payload.get("form_version"), payload.get("data"),
               final=payload["status"] == "final", today=today)


def _resolve_conflict(v: Validations, store: Store, payload: Mapping[str, Any], today: dt.date) -> None:
    from sync.commands import resolved_data  # the handler's own merge, on committed state
    from sync.context import CONFLICTS, SUBMISSIONS

    if payload.get("choose") not in ("incoming", "value") or not isinstance(payload.get("conflict_id"), str):
        return
    conflict = store.get(CONFLICTS, payload["conflict_id"])
    sub = store.get(SUBMISSIONS, conflict.data["submission_id"]) if conflict is not None else None
    if sub is None:
        return
    data = resolved_data(sub.data["data"], conflict.data, payload)
    if data is not None:
        v.warm(sub.data["form_id"], sub.data["form_version"], data, final=sub.data["status"] == "final", today=today)


_WARMERS: dict[str, Callable[[Validations, Store, Mapping[str, Any], dt.date], None]] = {
    "create_case": _create_case, "save_submission": _save_submission, "resolve_conflict": _resolve_conflict,
}


def prevalidate(validations: Validations, store: Store, kind: str, payload: Any, today: dt.date) -> None:
    """Validate the forms a mutation of ``kind`` will need, before any lock. Anything odd about the
    payload is left for the handler to name."""
    warm = _WARMERS.get(kind)
    if warm is None or not isinstance(payload, Mapping):
        return
    with contextlib.suppress(Exception):  # the handler meets the same input under the lock and names the fault
        warm(validations, store, payload, today)
