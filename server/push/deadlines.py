"""Deadline reminders and escalation: a scan over open cases that writes alerts, each exactly once.

For every running clock of every open case (``services.reader.deadlines``):

* **Reminders** at lead times in working days before the due date (default 2 and 0: two working
  days before, and on the due day; per deadline via ``CASEFLOW_REMINDER_LEAD_DAYS``). A due date
  that is not a working day counts from the working day before it. Only the latest lead time that
  has been reached is written, so a scan that catches up after downtime sends one reminder, not
  a burst.
* **Escalation** of a clock that is overdue (or stopped late, ``missed``) to the definition's
  ``notify_overdue`` targets plus ``CASEFLOW_ESCALATION_ROLES`` (default: the business team and the
  statutory leads), once each working day, until a final ``delay_notice`` for that deadline is on
  the case (``data.deadline == name``, in its current or any earlier final revision).

Alerts are written on working days only, from ``CASEFLOW_REMINDER_FROM_HOUR`` (England time) on.
Each alert is a **system mutation** (``deadline_alert``, :mod:`sync.system`) applied by the one write
path, ``WritePath.apply_system``, under the system actor: the same alert builder, id scheme and audit
shape as every other alert. Its id is deterministic, ``{case}.dl.{deadline}.{due}.r{lead}`` or
``...x{day}``, and it is the mutation's id: the store's atomic ``insert`` refuses a second one, so a
second, overlapping or restarted scan writes nothing twice. (Alerts written before this scheme,
``dl.{case}.…``, are still recognised, so an upgrade re-sends nothing.) A changed start date gives a
new due date and so new reminders. The alerts go to the pull feed and the push outbox like every
other alert.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from server import metrics
from server.push.config import PushConfig, push_config
from statemachines import calendar as wd
from sync.clock import LONDON
from sync.context import new_alert_id
from sync.recipients import Directory
from sync.service import Mutation, WritePath
from sync.system import DEADLINE_ALERT, DEADLINES

log = logging.getLogger("caseflow.push")

ALERTS, CASES, SUBMISSIONS, REVISIONS, STATE = "alerts", "cases", "submissions", "revisions", "push_state"
DELAY_NOTICE = "delay_notice"
RUNNING = ("pending", "due_soon", "overdue")
LATE = ("overdue", "missed")
WRITE_BATCH = 200


class _ScanDirectory(Directory):
    """The recipients directory with the partnership's users read once per scan, not once per case."""

    def __init__(self, store: Any):
        super().__init__(store)
        self._users: dict[str, list[dict]] = {}

    def active_users(self, partnership: str) -> list[dict]:
        if partnership not in self._users:
            self._users[partnership] = super().active_users(partnership)
        return self._users[partnership]


def reminder_day(due: dt.date, lead: int) -> dt.date:
    """The working day of the reminder ``lead`` working days before ``due`` (a due date on a
    weekend or bank holiday counts from the working day before it)."""
    base = due if wd.is_working_day(due) else wd.subtract_working_days(due, 1)
    return wd.subtract_working_days(base, lead)


def delay_notice_recorded(store: Any, case: Mapping[str, Any], deadline: str) -> bool:
    """A final ``delay_notice`` for ``deadline`` is on the case (now or in an earlier final revision)."""
    for sub_id, meta in case.get("submissions", {}).items():
        if meta.get("form_id") != DELAY_NOTICE:
            continue
        doc = store.get(SUBMISSIONS, sub_id)
        if doc is None:
            continue
        if doc.data.get("status") == "final" and (doc.data.get("data") or {}).get("deadline") == deadline:
            return True
        for version in range(doc.version - 1, 0, -1):
            rev = store.get(REVISIONS, f"{sub_id}@{version}")
            if rev and rev.data.get("status") == "final" and (rev.data.get("data") or {}).get("deadline") == deadline:
                return True
    return False


def _mutation(case: Mapping[str, Any], key: str, kind: str, dl: Mapping[str, Any], recipients: list[str],
              today: dt.date, **extra: Any) -> Mutation:
    """A deadline alert as a system mutation; its id is the alert's id (see :mod:`sync.system`)."""
    return Mutation(new_alert_id(case["case_id"], key), DEADLINE_ALERT, case["case_id"], {
        "kind": kind, "deadline": dl["name"], "due": dl["due"], "status": dl["status"], "day": today.isoformat(),
        "recipients": sorted(set(recipients)), **extra})


def _legacy_id(mutation_id: str) -> str:
    """The id this alert had before the one id scheme: ``dl.{case}.{deadline}…``."""
    case_id, key = mutation_id.split(".", 1)
    return f"dl.{case_id}.{key.removeprefix('dl.')}"


def alerts_for_case(services: Any, case: Mapping[str, Any], today: dt.date, config: PushConfig,
                    directory: Directory, skip: Callable[[str], bool] = lambda alert_id: False) -> list[Mutation]:
    """The reminder and escalation alerts this case should have on ``today``, as system mutations
    (ids deterministic); ``skip(alert_id)`` true means it is already written (its recipients are
    then not resolved)."""
    ct = services.case_types.get(case["case_type"], case["case_type_version"])
    if ct.is_final(case["state"]) or not wd.is_working_day(today):
        return []
    defs = {d.name: d for d in ct.definition.deadlines}
    out = []
    for dl in services.reader.deadlines(case, today=today):
        definition = defs.get(dl["name"])
        if definition is None or definition.kind != "deadline":
            continue  # a minimum period (e.g. "published for a year") needs no reminder
        due = dt.date.fromisoformat(dl["due"])
        prefix = f"dl.{dl['name']}.{dl['due']}"
        cid = case["case_id"]
        if dl["status"] in RUNNING and today <= due:
            reached = [lead for lead in config.leads_for(dl["name"]) if reminder_day(due, lead) <= today]
            if not reached:
                continue
            lead = min(reached)
            if skip(new_alert_id(cid, f"{prefix}.r{lead}")):
                continue
            targets = tuple(ct.notifications_on_enter(case["state"])) + tuple(definition.notify_overdue)
            recipients = directory.resolve(case, targets)
            if recipients:
                out.append(_mutation(case, f"{prefix}.r{lead}", "deadline_reminder", dl, recipients, today,
                                     lead_days=lead))
        elif dl["status"] in LATE and today > due:
            key = f"{prefix}.x{today.isoformat()}"
            if skip(new_alert_id(cid, key)) or delay_notice_recorded(services.store, case, dl["name"]):
                continue
            recipients = set(directory.resolve(case, definition.notify_overdue))
            recipients |= set(directory.users_with(case["partnership"], config.escalation_roles))
            if recipients:
                out.append(_mutation(case, key, "deadline_overdue", dl,
                                     sorted(recipients), today, days_overdue=wd.working_days_between(due, today)))
    return out


def _write(write_path: WritePath, mutations: list[Mutation], stats: dict[str, int]) -> None:
    """Apply the alerts through the one write path, WRITE_BATCH to a unit of work."""
    for start in range(0, len(mutations), WRITE_BATCH):
        for result in write_path.apply_system(DEADLINES, mutations[start:start + WRITE_BATCH]):
            if result["status"] == "duplicate":
                stats["already"] += 1
            elif result["status"] == "applied":
                stats["reminders" if result["kind"] == "deadline_reminder" else "escalations"] += 1
            else:  # the case went away between the scan and the write: nothing to remind about
                stats["failed"] = stats.get("failed", 0) + 1


def _write_path(services: Any) -> WritePath:
    """The app's write path, or one over the same store for the CLI and tests (no forms needed)."""
    write_path = getattr(services, "write_path", None)
    if write_path is None:
        write_path = WritePath(services.store, getattr(services, "forms", None), services.case_types, services.clock)
    return write_path


def scan_deadlines(services: Any, today: dt.date | None = None, *, force: bool = False) -> dict[str, int]:
    """Write today's reminder and escalation alerts for every open case; returns counters.

    ``today`` defaults to the services' clock (England date); without ``force`` nothing is written
    before ``from_hour`` England time, so nobody is woken at midnight."""
    config = push_config(services)
    now = services.clock.now()
    stats = {"cases": 0, "reminders": 0, "escalations": 0, "already": 0, "skipped": 0}
    if getattr(services, "case_types", None) is None:
        log.warning("deadline scan skipped: no case types loaded", extra={"event": "deadlines.skip"})
        stats["skipped"] = 1
        return stats
    if today is None:
        today = services.clock.today()
        if not force and now.astimezone(LONDON).hour < config.from_hour:
            stats["skipped"] = 1
            return stats
    started = time.perf_counter()
    write_path = _write_path(services)
    directory = _ScanDirectory(services.store)
    pending: list[dict[str, Any]] = []

    def written(alert_id: str) -> bool:  # a cheap pre-check; the insert below is what guarantees "once"
        if services.store.get(ALERTS, alert_id) is None and services.store.get(ALERTS, _legacy_id(alert_id)) is None:
            return False
        stats["already"] += 1
        return True

    for doc in services.store.scan(CASES):
        stats["cases"] += 1
        try:
            pending.extend(alerts_for_case(services, doc.data, today, config, directory, written))
        except Exception as exc:  # noqa: BLE001 - one broken case (unknown type, bad date) must not stop the rest
            log.error("deadline scan skipped case %s: %s", doc.id, type(exc).__name__,
                      extra={"case_id": doc.id, "event": "deadlines.skip"})
        if len(pending) >= WRITE_BATCH:
            _write(write_path, pending, stats)
            pending = []
    _write(write_path, pending, stats)
    metrics.count_scan(stats)
    log.info("deadline scan for %s: %d cases, %d reminders, %d escalations written, %d already written (%.0f ms)",
             today.isoformat(), stats["cases"], stats["reminders"], stats["escalations"], stats["already"],
             (time.perf_counter() - started) * 1000, extra={"event": "deadlines.scan"})
    return stats


def start_scheduler(app_or_services: Any) -> Callable[[], None]:
    """Run the (idempotent) scan now and then every ``scan_minutes`` in a thread; returns ``stop()``."""
    extensions = getattr(app_or_services, "extensions", None)
    services = extensions["caseflow"] if extensions is not None else app_or_services
    config = push_config(services)
    stop_event = threading.Event()

    def loop() -> None:
        while not stop_event.is_set():
            try:
                scan_deadlines(services)
            except Exception as exc:  # noqa: BLE001 - keep the scheduler alive; the next run catches up
                log.error("deadline scan failed: %s", type(exc).__name__, extra={"event": "deadlines.error"})
            stop_event.wait(config.scan_minutes * 60)

    thread = threading.Thread(target=loop, name="deadline-scheduler", daemon=True)
    thread.start()

    def stop() -> None:
        stop_event.set()
        thread.join(timeout=30)

    return stop


__all__ = ["alerts_for_case", "delay_notice_recorded", "reminder_day", "scan_deadlines",
           "start_scheduler"]
