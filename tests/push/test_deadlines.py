"""Deadline reminders and escalation: lead times in working days, bank holidays, exactly once."""

from __future__ import annotations

import datetime as dt
import threading

import pytest

from server.auth.accounts import Accounts
from server.push.deadlines import reminder_day, scan_deadlines
from server.push.worker import close_sender, deliver_pending
from tests.push.casefixtures import (
    SENTINEL_DOBS,
    SENTINEL_NAMES,
    enter_state,
    london,
    make_case,
    make_deadline_services,
    record_delay_notice,
)
from tests.push.helpers import PASSWORD, add_device, vapid_public
from tests.push.pushservice import FakePushService

USERS = [
    ("esx.business", ["business_team"], None),
    ("esx.crg", ["crg_member"], None),
    ("esx.hos", ["la_head_of_safeguarding"], "esx-childrens-services"),
    ("esx.la-lead", ["statutory_lead"], "esx-childrens-services"),
    ("esx.health-lead", ["statutory_lead"], "nhs-sussex-icb"),
    ("esx.police-lead", ["statutory_lead"], "sussex-police"),
    ("esx.school-dsl", ["agency_safeguarding_lead"], "esx-schools"),
    ("esx.social-worker", ["practitioner"], "esx-childrens-services"),
]


@pytest.fixture
def svc(tmp_path):
    s = make_deadline_services(tmp_path / "data", london("2026-03-02"))
    accounts = Accounts(s.store, s.clock)
    accounts.add_partnership("east-sussex", "East Sussex")
    for agency, sector in (("esx-childrens-services", "local_authority"), ("nhs-sussex-icb", "health"),
                           ("sussex-police", "police"), ("esx-schools", "education")):
        accounts.add_agency(agency, "east-sussex", sector, agency)
    s.users = {name: accounts.add_user(name, PASSWORD, "east-sussex", roles, agency=agency)
               for name, roles, agency in USERS}
    yield s
    close_sender(s)
    s.store.close()


def _ids(svc, names):
    return sorted(svc.users[n]["user_id"] for n in names)


def _alerts(svc, kind=None):
    return sorted((d.data for d in svc.store.scan("alerts") if kind is None or d.data["kind"] == kind),
                  key=lambda a: a["alert_id"])


def _run_days(svc, first: str, last: str, times: int = 2) -> dict[str, list[str]]:
    """Scan each day (twice) from first to last; returns day -> alert ids written that day."""
    day, end, out = dt.date.fromisoformat(first), dt.date.fromisoformat(last), {}
    while day <= end:
        svc.clock.set(london(day.isoformat(), 10))
        before = {a["alert_id"] for a in _alerts(svc)}
        for _ in range(times):
            scan_deadlines(svc)
        out[day.isoformat()] = sorted({a["alert_id"] for a in _alerts(svc)} - before)
        day += dt.timedelta(days=1)
    return out


def test_reminder_day_counts_working_days_back():
    assert reminder_day(dt.date(2026, 3, 9), 0) == dt.date(2026, 3, 9)
    assert reminder_day(dt.date(2026, 3, 9), 2) == dt.date(2026, 3, 5)
    assert reminder_day(dt.date(2026, 3, 8), 0) == dt.date(2026, 3, 6)  # a Sunday due date: the Friday before
    assert reminder_day(dt.date(2026, 12, 30), 2) == dt.date(2026, 12, 24)  # over 25 and 28 December


def test_reminders_two_working_days_before_and_on_the_due_day_then_daily_escalation(svc):
    case_id = make_case(svc, "2026-03-02")  # aware Monday 2 March: SIN due Monday 9 March
    written = _run_days(svc, "2026-03-02", "2026-03-17")
    prefix = f"{case_id}.dl.sin_notification.2026-03-09"
    assert written == {
        "2026-03-02": [], "2026-03-03": [], "2026-03-04": [],
        "2026-03-05": [f"{prefix}.r2"],  # Thursday: two working days before
        "2026-03-06": [], "2026-03-07": [], "2026-03-08": [],
        "2026-03-09": [f"{prefix}.r0"],  # the due day
        "2026-03-10": [f"{prefix}.x2026-03-10"], "2026-03-11": [f"{prefix}.x2026-03-11"],
        "2026-03-12": [f"{prefix}.x2026-03-12"], "2026-03-13": [f"{prefix}.x2026-03-13"],
        "2026-03-14": [], "2026-03-15": [],  # the weekend
        "2026-03-16": [f"{prefix}.x2026-03-16"], "2026-03-17": [f"{prefix}.x2026-03-17"],
    }
    reminder = next(a for a in _alerts(svc) if a["alert_id"] == f"{prefix}.r2")
    assert reminder["kind"] == "deadline_reminder" and reminder["status"] == "due_soon"
    assert reminder["due"] == "2026-03-09" and reminder["lead_days"] == 2 and reminder["delivery"] == "pending"
    # who the step waits for (the CRG in sin_consideration) and the deadline's owners (business team)
    assert reminder["recipients"] == _ids(svc, ["esx.business", "esx.crg"])
    escalation = next(a for a in _alerts(svc) if a["alert_id"] == f"{prefix}.x2026-03-16")
    assert escalation["kind"] == "deadline_overdue" and escalation["status"] == "overdue"
    assert escalation["days_overdue"] == 5
    assert escalation["recipients"] == _ids(svc, ["esx.business", "esx.la-lead", "esx.health-lead",
                                                  "esx.police-lead"])


def test_escalation_stops_when_the_delay_notice_is_recorded(svc):
    case_id = make_case(svc, "2026-03-02")
    _run_days(svc, "2026-03-10", "2026-03-10")
    record_delay_notice(svc, case_id, "some_other_deadline")
    assert _run_days(svc, "2026-03-11", "2026-03-11")["2026-03-11"]  # a notice for another deadline: still late
    record_delay_notice(svc, case_id, "sin_notification", status="draft")
    assert _run_days(svc, "2026-03-12", "2026-03-12")["2026-03-12"]  # a draft is not a recorded notice
    record_delay_notice(svc, case_id, "sin_notification")
    assert _run_days(svc, "2026-03-13", "2026-03-20") == {f"2026-03-{d}": [] for d in range(13, 21)}
    # amending the (single) delay notice for another deadline keeps the earlier final revision on record
    record_delay_notice(svc, case_id, "rapid_review_report")
    assert _run_days(svc, "2026-03-23", "2026-03-23") == {"2026-03-23": []}


def test_deadline_across_christmas_bank_holidays(svc):
    # aware Monday 21 Dec 2026; 25 Dec (Fri) and 28 Dec (Mon, Boxing Day substitute) are bank holidays:
    # 5 working days = 22, 23, 24, 29, 30 -> due Wednesday 30 December
    case_id = make_case(svc, "2026-12-21")
    written = _run_days(svc, "2026-12-21", "2027-01-05")
    prefix = f"{case_id}.dl.sin_notification.2026-12-30"
    nonempty = {day: ids for day, ids in written.items() if ids}
    assert nonempty == {
        "2026-12-24": [f"{prefix}.r2"],  # two working days before 30 Dec is Christmas Eve
        "2026-12-30": [f"{prefix}.r0"],
        "2026-12-31": [f"{prefix}.x2026-12-31"],
        # 1 Jan 2027 (Fri) is New Year's Day; then the weekend
        "2027-01-04": [f"{prefix}.x2027-01-04"],
        "2027-01-05": [f"{prefix}.x2027-01-05"],
    }


def test_met_stopped_final_and_minimum_period_clocks_are_quiet(svc):
    met = make_case(svc, "2026-03-02", n=1)
    closed = make_case(svc, "2026-03-02", state="closed", n=2)
    svc.clock.set(london("2026-03-04"))
    enter_state(svc, met, "rapid_review")  # SIN notified in time: the clock stopped, met
    assert _run_days(svc, "2026-03-05", "2026-03-12") == {f"2026-03-{d:02d}": [] for d in range(5, 13)}
    # a year on, the "kept available" minimum period has passed: no alert either
    assert _run_days(svc, "2027-03-02", "2027-03-03") == {"2027-03-02": [], "2027-03-03": []}
    assert closed


def test_rapid_review_reminders_go_to_the_involved_agencies(svc):
    case_id = make_case(svc, "2026-03-02", state="rapid_review", involved=["esx-schools"], notified_on="2026-03-04",
                        history=[("referred", "2026-03-02"), ("sin_consideration", "2026-03-02"),
                                 ("rapid_review", "2026-03-04")])
    # 15 working days after Wed 4 March = Wed 25 March; 2 working days before = Mon 23 March
    written = _run_days(svc, "2026-03-23", "2026-03-23")
    (alert_id,) = written["2026-03-23"]
    assert alert_id == f"{case_id}.dl.rapid_review_report.2026-03-25.r2"
    (alert,) = [a for a in _alerts(svc) if a["alert_id"] == alert_id]
    assert alert["recipients"] == _ids(svc, ["esx.business", "esx.school-dsl"])


def test_a_changed_start_date_gives_new_reminders(svc):
    case_id = make_case(svc, "2026-03-02")
    _run_days(svc, "2026-03-05", "2026-03-05")
    with svc.store.transaction() as uow:  # the referral's date is amended to a day later
        sub_id = f"{case_id}.crg_referral"
        doc = uow.get("submissions", sub_id)
        uow.update("submissions", sub_id, {**doc.data, "data": {**doc.data["data"], "la_aware_date": "2026-03-03"}},
                   expected_version=doc.version, publish=True)
    written = _run_days(svc, "2026-03-06", "2026-03-06")
    assert written["2026-03-06"] == [f"{case_id}.dl.sin_notification.2026-03-10.r2"]


def test_only_the_latest_reached_lead_time_is_written_after_downtime(svc):
    case_id = make_case(svc, "2026-03-02")
    # the server was down from Wednesday to the due day: one reminder (due today), not two
    written = _run_days(svc, "2026-03-09", "2026-03-09")
    assert written["2026-03-09"] == [f"{case_id}.dl.sin_notification.2026-03-09.r0"]


def test_lead_times_are_configurable_per_deadline(svc):
    svc.extra["push_config"].leads = {"default": (2, 0), "sin_notification": (3, 1)}
    case_id = make_case(svc, "2026-03-02")
    written = {d: ids for d, ids in _run_days(svc, "2026-03-02", "2026-03-09").items() if ids}
    prefix = f"{case_id}.dl.sin_notification.2026-03-09"
    assert written == {"2026-03-04": [f"{prefix}.r3"], "2026-03-06": [f"{prefix}.r1"]}


def test_nothing_before_the_working_day_starts_unless_forced(svc):
    make_case(svc, "2026-03-02")
    svc.extra["push_config"].from_hour = 8
    svc.clock.set(london("2026-03-09", 6))
    assert scan_deadlines(svc)["skipped"] == 1 and _alerts(svc) == []
    assert scan_deadlines(svc, dt.date(2026, 3, 9), force=True)["reminders"] == 1


def test_concurrent_scans_write_each_alert_once(svc):
    for i in range(60):
        make_case(svc, "2026-03-02", n=i)
    svc.clock.set(london("2026-03-10"))
    threads = [threading.Thread(target=scan_deadlines, args=(svc,)) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stats = scan_deadlines(svc)
    assert stats["escalations"] == 0 and stats["already"] == 60
    assert len(_alerts(svc, "deadline_overdue")) == 60


def test_clock_tick_to_decrypted_payload_with_no_personal_data(svc, caplog):
    from server.logs import JsonFormatter

    fake = FakePushService(vapid_public(svc.settings.data_dir))
    fake.start()
    try:
        devices = {name: add_device(svc, svc.users[name], fake) for name, _, _ in USERS}
        case_ids = [make_case(svc, "2026-03-02", n=i) for i in range(2)]
        svc.clock.set(london("2026-03-05", 10))
        with caplog.at_level("INFO"):
            scan_deadlines(svc)
            scan_deadlines(svc)
            stats = deliver_pending(svc)
            deliver_pending(svc)
        assert stats["sent"] == 4 and fake.errors == []
        got = {(r.path, r.payload["case_id"]) for r in fake.accepted()}
        assert got == {(devices[n]["path"], c) for n in ("esx.business", "esx.crg") for c in case_ids}
        assert len(fake.accepted()) == 4  # once each
        payload = fake.payloads(devices["esx.crg"]["path"])[0]
        assert payload["kind"] == "deadline_reminder" and payload["deadline"] == "sin_notification"
        assert payload["due"] == "2026-03-09" and payload["url"].startswith("https://caseflow.example/cases/")
        receipt = fake.accepted(devices["esx.crg"]["path"])[0]
        # Thursday 10:00 -> until the end of Monday 9 March (London, GMT)
        assert int(receipt.headers["ttl"]) == int((dt.datetime(2026, 3, 10, tzinfo=dt.UTC)
                                                   - london("2026-03-05", 10)).total_seconds())
        # an escalation a week later is urgent and replaces the reminder on the device (same Topic)
        svc.clock.set(london("2026-03-10", 10))
        scan_deadlines(svc)
        deliver_pending(svc)
        late = [r for r in fake.accepted(devices["esx.business"]["path"]) if r.payload["kind"] == "deadline_overdue"]
        assert len(late) == 2 and all(r.headers["urgency"] == "high" for r in late)
        assert len(fake.visible(devices["esx.business"]["path"])) == 2  # one per case and deadline
        # no personal data anywhere: decrypted payloads, alert documents, log lines
        formatter = JsonFormatter()
        haystacks = [repr(p) for p in fake.payloads()] + [repr(a) for a in _alerts(svc)]
        haystacks += [formatter.format(r) for r in caplog.records] + [r.getMessage() for r in caplog.records]
        for needle in (*SENTINEL_NAMES, *SENTINEL_DOBS, "Sentinel"):
            assert not any(needle in h for h in haystacks), needle
        assert caplog.records  # the scan and the deliveries did log
    finally:
        fake.stop()


@pytest.mark.parametrize("crash_at", ["before_journal_write:2", "after_fsync_before_apply:2"])
def test_a_scan_killed_half_way_then_rerun_writes_each_alert_once(tmp_path, crash_at):
    import json
    import os
    import signal
    import subprocess
    import sys
    from pathlib import Path

    data = tmp_path / "data"
    s = make_deadline_services(data, london("2026-03-02"))
    Accounts(s.store, s.clock).add_partnership("east-sussex", "East Sussex")
    Accounts(s.store, s.clock).add_user("esx.business", PASSWORD, "east-sussex", ["business_team"])
    for i in range(450):
        make_case(s, "2026-03-02", n=i)
    s.store.close()
    root = Path(__file__).resolve().parents[2]
    args = [sys.executable, "-m", "tests.push.scan_proc", str(data), "2026-03-10"]
    crashed = subprocess.run(args, cwd=root, env={**os.environ, "CASEFLOW_CRASH_AT": crash_at},
                             capture_output=True, timeout=120)
    assert crashed.returncode == -signal.SIGKILL, crashed.stderr
    env = {k: v for k, v in os.environ.items() if k != "CASEFLOW_CRASH_AT"}
    rerun = subprocess.run(args, cwd=root, env=env, capture_output=True, timeout=120, text=True)
    assert rerun.returncode == 0, rerun.stderr
    stats = json.loads(rerun.stdout)
    durable_before = 200 if crash_at.startswith("before") else 400
    assert stats["already"] == durable_before and stats["escalations"] == 450 - durable_before
    again = subprocess.run(args, cwd=root, env=env, capture_output=True, timeout=120, text=True)
    assert json.loads(again.stdout)["already"] == 450
    s = make_deadline_services(data, london("2026-03-10"))
    try:
        ids = [d.id for d in s.store.scan("alerts")]
        assert len(ids) == len(set(ids)) == 450
    finally:
        s.store.close()


def test_a_broken_case_is_logged_by_id_and_does_not_stop_the_scan(svc, caplog):
    good = make_case(svc, "2026-03-02", n=1)
    bad = make_case(svc, "2026-03-02", n=2)
    with svc.store.transaction() as uow:
        doc = uow.get("cases", bad)
        uow.update("cases", bad, {**doc.data, "case_type_version": 99}, expected_version=doc.version)
    svc.clock.set(london("2026-03-10"))
    with caplog.at_level("ERROR", logger="caseflow.push"):
        stats = scan_deadlines(svc)
    assert stats["escalations"] == 1 and svc.store.get("alerts", f"{good}.dl.sin_notification.2026-03-09.x2026-03-10")
    (record,) = [r for r in caplog.records if r.levelname == "ERROR"]
    assert bad in record.getMessage() and not any(n in record.getMessage() for n in SENTINEL_NAMES)
