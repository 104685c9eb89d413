"""Tasks: duties inside a state, declared in the case type (``tasks:``), recorded by a person.

A task says who may record it, what evidence it takes (a date, a choice, a note), in which
states it may be recorded, which events it must precede (``required_before``), which cases it
concerns (``applies_if``) and the paragraph it comes from. This module is pure: the server passes
the records it keeps on the case (``{task_id: {"date", "choice", "note", "recorded_by",
"recorded_at"}}``) and this module says whether each is done, checks a new record, and lists the
tasks for the case view. Guards read ``tasks.<id>.done|date|choice|note``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from .definition import TaskDef

__all__ = ["EVIDENCE_KEYS", "MAX_NOTE", "is_done", "normalise", "record_errors", "task_applies"]

EVIDENCE_KEYS = ("date", "choice", "note")
MAX_NOTE = 2000


def is_done(task: TaskDef, record: Mapping[str, Any] | None) -> bool:
    """Recorded, with every piece of evidence the task requires."""
    if not record:
        return False
    ev = task.evidence
    if ev.date == "required" and not record.get("date"):
        return False
    if ev.note == "required" and not record.get("note"):
        return False
    return not (ev.choice and record.get("choice") not in ev.choice)


def normalise(tasks: Iterable[TaskDef], records: Mapping[str, Any] | None) -> dict[str, dict[str, Any]]:
    """``{task_id: {done, date, choice, note}}`` for every declared task (guards read these)."""
    records = records if isinstance(records, Mapping) else {}
    out: dict[str, dict[str, Any]] = {}
    for t in tasks:
        rec = records.get(t.id) if isinstance(records.get(t.id), Mapping) else None
        out[t.id] = {"done": is_done(t, rec), **{k: (rec or {}).get(k) for k in EVIDENCE_KEYS}}
    return out


def task_applies(task: TaskDef, lookup: Callable[[str], Any]) -> bool:
    return task.applies_if is None or task.applies_if.evaluate(lookup)


def _date(value: Any) -> dt.date | None:
    if not isinstance(value, str) or len(value) != 10:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        return None


def record_errors(task: TaskDef, evidence: Mapping[str, Any], today: dt.date) -> list[tuple[str, str]]:
    """``(field, message)`` for every problem with the evidence offered for ``task``.

    Unknown fields and evidence the task does not take are refused, so a client learns at once
    that it sent something the definition does not ask for.
    """
    errors: list[tuple[str, str]] = []
    ev = task.evidence
    asked = {"date": ev.date, "note": ev.note, "choice": "required" if ev.choice else None}
    for key in evidence:
        if key not in EVIDENCE_KEYS:
            errors.append((key, "Remove this field: a task records only date, choice and note."))
        elif asked[key] is None:
            errors.append((key, f"Remove this field: the task '{task.id}' does not take a {key}."))
    for key, need in asked.items():
        if need == "required" and evidence.get(key) in (None, ""):
            errors.append((key, "This field is required for this task."))
    if "date" in evidence and asked["date"] is not None:
        day = _date(evidence["date"])
        if day is None:
            errors.append(("date", "Enter a date as YYYY-MM-DD."))
        elif day > today:
            errors.append(("date", "Enter a date that is not in the future."))
    if "choice" in evidence and ev.choice and evidence["choice"] not in ev.choice:
        errors.append(("choice", "Choose one of: " + ", ".join(ev.choice) + "."))
    if "note" in evidence and asked["note"] is not None:
        note = evidence["note"]
        if not isinstance(note, str) or not note.strip():
            errors.append(("note", "Write the note as text."))
        elif len(note) > MAX_NOTE:
            errors.append(("note", f"Keep the note to {MAX_NOTE} characters."))
    return sorted(set(errors))
