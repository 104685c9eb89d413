"""Deadline alerts are system mutations through the one write path (issue #14 item 6)."""

from __future__ import annotations

import pytest

from server.auth.accounts import Accounts
from server.push.deadlines import scan_deadlines
from sync.actor import Actor
from sync.problems import Problem
from sync.service import Mutation, WritePath, parse_batch
from sync.system import DEADLINE_ALERT, DEADLINES
from tests.push.casefixtures import london, make_case, make_deadline_services
from tests.push.helpers import PASSWORD


@pytest.fixture
def svc(tmp_path):
    s = make_deadline_services(tmp_path / "data", london("2026-03-02"))
    accounts = Accounts(s.store, s.clock)
    accounts.add_partnership("east-sussex", "East Sussex")
    s.business = accounts.add_user("esx.business", PASSWORD, "east-sussex", ["business_team"])
    accounts.add_user("esx.crg", PASSWORD, "east-sussex", ["crg_member"])
    yield s
    s.store.close()


def test_a_scan_writes_alerts_as_system_mutations_audited_by_the_system_actor_once(svc):
    case_id = make_case(svc, "2026-03-02")  # SIN due Mon 9 March; reminder two working days before
    first = scan_deadlines(svc, london("2026-03-05").date())
    again = scan_deadlines(svc, london("2026-03-05").date())
    assert first["reminders"] == 1 and again["reminders"] == 0 and again["already"] == 1
    (alert,) = [d.data for d in svc.store.scan("alerts")]
    assert alert["alert_id"].startswith(f"{case_id}.dl.sin_notification.")  # the one id scheme: case id first
    entries = [e.entry for e in svc.store.audit_log(subject=case_id) if e.entry["action"].startswith("alert.")]
    assert len(entries) == 1
    (entry,) = entries
    assert entry["by"]["user_id"] == "system" and entry["by"]["roles"] == ["system"]
    assert entry["mutation_id"] == alert["alert_id"] and entry["alert_id"] == alert["alert_id"]


def test_an_alert_written_under_the_old_id_is_not_written_again(svc):
    case_id = make_case(svc, "2026-03-02")
    with svc.store.transaction() as uow:  # as the scan wrote it before the one id scheme
        uow.insert("alerts", f"dl.{case_id}.sin_notification.2026-03-09.r2", {"kind": "deadline_reminder"})
    stats = scan_deadlines(svc, london("2026-03-05").date())
    assert stats["reminders"] == 0 and stats["already"] == 1


def test_only_the_system_actor_makes_system_mutations_and_no_push_carries_one(svc):
    case_id = make_case(svc, "2026-03-02")
    wp = WritePath(svc.store, None, svc.case_types, svc.clock)
    person = Actor(user_id=svc.business["user_id"], username="esx.business", partnership="east-sussex",
                   roles=frozenset({"business_team"}))
    mutation = Mutation(f"{case_id}.dl.x.2026-03-09.r2", DEADLINE_ALERT, case_id,
                        {"kind": "deadline_reminder", "recipients": [svc.business["user_id"]]})
    with pytest.raises(Problem) as refused:
        wp.apply_system(person, [mutation])
    assert refused.value.status == 403 and not list(svc.store.scan("alerts"))
    with pytest.raises(Problem) as invalid:
        parse_batch({"device_id": "d1", "mutations": [
            {"mutation_id": "0f0e0d0c-0b0a", "seq": 1, "kind": DEADLINE_ALERT, "case_id": case_id, "payload": {}}]})
    assert invalid.value.status == 422
    (result,) = wp.apply_system(DEADLINES, [mutation])
    assert result["status"] == "applied"
    (again,) = wp.apply_system(DEADLINES, [mutation])
    assert again["status"] == "duplicate" and len(list(svc.store.scan("alerts"))) == 1
    (gone,) = wp.apply_system(DEADLINES, [Mutation("nope.dl.x", DEADLINE_ALERT, "nope", {"kind": "deadline_reminder"})])
    assert gone["status"] == "rejected" and gone["problem"]["status"] == 404
