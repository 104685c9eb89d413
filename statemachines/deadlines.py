"""Statutory clocks: a pure function of the form data, the state history and today's date.

A clock exists once its start date (a form field) is set; amending that date recomputes it. With
several start fields the first one set counts (so a clock can follow a planned date until the
actual one is recorded); with ``applies_if`` the clock exists only for the cases it concerns.
Its status is one of:

* ``pending``: running, not yet near the due date;
* ``due_soon``: running, within ``due_soon_working_days`` working days of the due date (or on it);
* ``overdue``: running and past the due date;
* ``met``: stopped on or before the due date;
* ``missed``: stopped after the due date.

A ``minimum_period`` (e.g. "publicly available for at least one year") is ``pending`` until its
due date and ``met`` from then on; stopped before the due date it is ``missed``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from . import calendar as wd
from .definition import DeadlineDef
from .expressions import resolve_path

__all__ = ["DeadlineStatus", "Status", "compute_deadlines", "parse_date"]

Status = Literal["pending", "due_soon", "overdue", "met", "missed"]


@dataclass(frozen=True)
class DeadlineStatus:
    name: str
    title: str
    starts: dt.date
    due: dt.date
    status: Status
    stopped_on: dt.date | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "title": self.title,
            "starts": self.starts.isoformat(),
            "due": self.due.isoformat(),
            "status": self.status,
            "stopped_on": self.stopped_on.isoformat() if self.stopped_on else None,
        }


def parse_date(value: Any) -> dt.date | None:
    """A date from a form value (``YYYY-MM-DD`` string, ``date`` or ``datetime``), else None."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str) and len(value) >= 10:
        try:
            return dt.date.fromisoformat(value[:10])
        except ValueError:
            return None
    return None


def _field_date(forms: Mapping[str, Any], path: str) -> dt.date | None:
    return parse_date(resolve_path(forms, path))


def _stop_date(dl: DeadlineDef, forms: Mapping[str, Any], history: Sequence[tuple[str, dt.date]]) -> dt.date | None:
    candidates: list[dt.date] = []
    set_dates = [d for d in (_field_date(forms, f) for f in dl.stop.when_set) if d is not None]
    if set_dates:
        candidates.append(min(set_dates))
    if dl.stop.when_all_set:
        all_dates = [_field_date(forms, f) for f in dl.stop.when_all_set]
        if all(d is not None for d in all_dates):
            candidates.append(max(d for d in all_dates if d is not None))
    if dl.stop.on_entering:
        stops = set(dl.stop.on_entering)
        entries = [parse_date(entered) for state, entered in history if state in stops]
        entries = [d for d in entries if d is not None]
        if entries:
            candidates.append(min(entries))
    return min(candidates) if candidates else None


def _status(dl: DeadlineDef, due: dt.date, stopped: dt.date | None, today: dt.date) -> Status:
    if dl.kind == "minimum_period":
        if stopped is not None and stopped < due:
            return "missed"
        return "met" if today >= due or stopped is not None else "pending"
    if stopped is not None:
        return "met" if stopped <= due else "missed"
    if today > due:
        return "overdue"
    if today >= wd.subtract_working_days(due, dl.due_soon_working_days):
        return "due_soon"
    return "pending"


def compute_deadlines(
    deadlines: Iterable[DeadlineDef],
    forms: Mapping[str, Any],
    state_history: Sequence[tuple[str, dt.date]],
    today: dt.date,
) -> list[DeadlineStatus]:
    """The status of every clock whose start date is set, in definition order."""
    out: list[DeadlineStatus] = []
    for dl in deadlines:
        if dl.applies_if is not None and not dl.applies_if.evaluate_on(forms):
            continue
        # the first start field that is set (e.g. the actual publication date, else the planned one)
        starts = next((d for d in (_field_date(forms, f) for f in dl.start_fields) if d is not None), None)
        if starts is None:
            continue
        due = dl.rule.due(starts)
        stopped = _stop_date(dl, forms, state_history)
        out.append(
            DeadlineStatus(
                name=dl.name,
                title=dl.title,
                starts=starts,
                due=due,
                status=_status(dl, due, stopped, today),
                stopped_on=stopped,
            )
        )
    return out
