"""``record_task``: a person records a duty of the case type (a task) with its evidence.

Payload ``{task, date?, choice?, note?}``: which evidence each task takes is declared in the case
type (``tasks:``, docs/case-types.md). Applied through the one write path like every mutation, so
``POST /cases/{id}/tasks`` and an offline push behave the same. The engine decides (pure): the task
exists, is open in the case's state, the actor's role may record it, it applies to this case, and
the evidence is what the task asks for. Recording again replaces the record (the latest counts);
the audit trail keeps every recording, with ids and which evidence was given, never the note.

The record lives on the case document (``case["tasks"][task_id]``), so the case view shows it and
the pull feed carries it with the case, and the engine reads it for ``required_before`` and guards.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sync.context import CASES, Ctx
from sync.problems import Problem

EVIDENCE = ("date", "choice", "note")
_STATUS = {"unknown_task": 422, "not_in_state": 409, "role": 403, "not_applicable": 409, "invalid": 422}
_SLUG = {"unknown_task": "unknown-task", "not_in_state": "task-not-open", "role": "forbidden-role",
         "not_applicable": "task-not-applicable", "invalid": "invalid-task-evidence"}


def _task_id(payload: Mapping[str, Any]) -> str:
    task = payload.get("task")
    if not isinstance(task, str) or not task:
        raise Problem(422, "validation-error", "Name the task to record.", title="Your request has invalid fields",
                      errors=[{"path": "/payload/task", "message": "This field is required (a task id)."}])
    return task


def record_task(ctx: Ctx, case_id: str | None, payload: Mapping[str, Any], base_version: int | None) -> dict:
    task_id = _task_id(payload)
    case_doc = ctx.case_for_write(case_id)
    case = case_doc.data
    ct = ctx.case_type_of(case)
    evidence = {k: v for k, v in payload.items() if k != "task"}
    kind, errors = ct.check_task_record(case["state"], task_id, ctx.engine_actor, evidence,
                                        ctx.final_forms(case), ctx.engine_context(case), ctx.today)
    if kind is not None:
        detail = "; ".join(message for _, message in errors)
        raise Problem(_STATUS[kind], _SLUG[kind], detail,
                      errors=[{"path": f"/payload/{name}", "message": message} for name, message in errors])
    record = {k: evidence[k] for k in EVIDENCE if k in evidence}
    record.update({"recorded_by": ctx.actor.user_id, "recorded_at": ctx.at, "state": case["state"]})
    tasks = {**(case.get("tasks") or {}), task_id: record}
    doc = ctx.uow.update(CASES, case["case_id"], {**case, "tasks": tasks, "updated_at": ctx.at},
                         expected_version=case_doc.version, publish=True)
    ctx.audit("task.record", case["case_id"], task=task_id, state=case["state"],
              evidence=sorted(k for k in EVIDENCE if k in evidence))
    return {"status": "applied", "task": task_id, "version": doc.version, "state": case["state"]}
