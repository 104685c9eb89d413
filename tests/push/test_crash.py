"""A worker process killed between writing and delivering loses nothing and doubles nothing visible.

The worker runs as a real subprocess (``python -m server.push.cli push deliver``) on a data dir
written by this test; it is SIGKILLed either while a request is in flight at the push service, or
by the store's crash hooks (``CASEFLOW_CRASH_AT``) at the exact commits of the outbox:

* commit 1: alerts expanded into deliveries (+ cursor); commit 2: the cursor passes the re-published
  alerts; commit 3: deliveries claimed (``sending``); commit 4: the first group of results.

Then it is restarted and must finish the job. The one window that can repeat a send is a crash
after the push service answered 201 and before commit 4 is durable (``before_journal_write:4``):
that copy is re-sent with the same Topic and the same tag/alert_id, so the device replaces it;
the test proves both that only deliveries in that window repeat (each once) and that nothing else is ever doubled.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from server.push.worker import DELIVERIES, close_sender
from sync.clock import Clock
from tests.push.helpers import add_device, add_user, make_services, vapid_public, write_alert
from tests.push.pushservice import FakePushService

ROOT = Path(__file__).resolve().parents[2]


def _run_worker(data_dir: Path, crash_at: str | None = None, timeout: float = 60) -> subprocess.Popen:
    env = {**os.environ, "CASEFLOW_PUSH_ALLOW_HTTP_LOOPBACK": "1", "CASEFLOW_PUSH_SUBJECT": "mailto:ops@example.org",
           "CASEFLOW_PUSH_TIMEOUT_SECONDS": "5", "CASEFLOW_PUSH_CONCURRENCY": "2", "CASEFLOW_LOG_LEVEL": "INFO"}
    env.pop("CASEFLOW_CRASH_AT", None)
    if crash_at:
        env["CASEFLOW_CRASH_AT"] = crash_at
    log = open(data_dir.parent / "worker.log", "ab")  # noqa: SIM115 - handed to the child
    return subprocess.Popen([sys.executable, "-m", "server.push.cli", "push", "deliver", "--once", "--data",
                             str(data_dir)], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)


def _setup(tmp_path: Path, n_alerts: int = 4):
    data = tmp_path / "data"
    services = make_services(data, clock=Clock())  # real time: the subprocess uses real time too
    fake = FakePushService(vapid_public(data)).start()
    users = [add_user(services, f"user.{i}") for i in range(3)]
    subs = {u["user_id"]: [add_device(services, u, fake) for _ in range(2)] for u in users}
    expected = set()
    paths = {s["sub_id"]: s["path"] for ss in subs.values() for s in ss}
    for i in range(n_alerts):
        recipients = [u["user_id"] for u in users[: 1 + i % 3]]
        alert_id = write_alert(services, recipients, reference=f"ESX-2026-{i:04d}")
        expected |= {(s["path"], alert_id) for r in recipients for s in subs[r]}
    close_sender(services)
    services.store.close()
    return data, fake, expected, paths


def _states_after_crash(data: Path, paths: dict) -> dict[tuple[str, str], str]:
    """(path, alert_id) -> the delivery state the crashed process left durable."""
    services = make_services(data, clock=Clock())
    try:
        return {(paths[d.data["sub_id"]], d.data["alert_id"]): d.data["state"]
                for d in services.store.scan(DELIVERIES)}
    finally:
        services.store.close()


def _check_invariant(fake: FakePushService, durable: dict, first_run: Counter, accepted: Counter) -> None:
    """What a crash may and may not repeat."""
    for key, n in accepted.items():
        state = durable.get(key, "pending")
        if state == "sent":  # recorded before the crash: never sent again
            assert n == 1 and first_run[key] == 1, (key, n)
        elif state == "pending":  # never claimed: the first process cannot have sent it
            assert first_run[key] == 0 and n == 1, (key, n)
        else:  # claimed, outcome not durable: sent again at most once, as the same message
            assert state == "sending" and n <= 2 and n == first_run[key] + 1, (key, state, n)
            copies = [r for r in fake.accepted(key[0]) if r.payload["alert_id"] == key[1]]
            assert len({r.headers["topic"] for r in copies}) == 1
            assert len({r.payload["tag"] for r in copies}) == 1


def _finish(data: Path, fake: FakePushService, expected: set) -> Counter:
    proc = _run_worker(data)
    assert proc.wait(60) == 0, (data.parent / "worker.log").read_text()
    services = make_services(data, clock=Clock())
    try:
        states = Counter(d.data["state"] for d in services.store.scan(DELIVERIES))
        assert states == Counter({"sent": len(expected)}), states
    finally:
        services.store.close()
    assert fake.errors == []
    accepted = Counter((r.path, r.payload["alert_id"]) for r in fake.accepted())
    assert set(accepted) == expected  # nothing lost
    for path in {p for p, _ in expected}:  # what each device shows: newest per Topic
        shown = sorted(p["alert_id"] for p in fake.visible(path).values())
        assert shown == sorted(a for p, a in expected if p == path)
    return accepted


def test_killed_while_a_request_is_in_flight(tmp_path):
    data, fake, expected, paths = _setup(tmp_path, n_alerts=1)
    (path, _), *_ = sorted(expected)
    try:
        for p, _a in expected:
            fake.script(p, "hold" if p == path else ("slow", 0.2))
        proc = _run_worker(data)
        assert fake.held.wait(30), (data.parent / "worker.log").read_text()
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        fake.release.set()
        fake.settle()
        first_run = Counter((r.path, r.payload["alert_id"]) for r in fake.accepted())
        durable = _states_after_crash(data, paths)
        assert durable[(path, _a_of(expected, path))] == "sending"
        accepted = _finish(data, fake, expected)
        _check_invariant(fake, durable, first_run, accepted)
        # the held request was never acknowledged (no 201), so its re-send is its only accepted copy
        assert accepted[(path, _a_of(expected, path))] == 1
    finally:
        fake.stop()


def _a_of(expected, path):
    return next(a for p, a in expected if p == path)


@pytest.mark.parametrize("crash_at", [
    "before_journal_write:1",  # expansion not durable: alerts still pending
    "after_fsync_before_apply:1",  # expansion durable, nothing claimed
    "before_journal_write:3",  # claim not durable: nothing was sent
    "after_fsync_before_apply:3",  # claimed (sending) but nothing sent: re-sent at restart, once
])
def test_crash_before_anything_was_sent_loses_and_doubles_nothing(tmp_path, crash_at):
    data, fake, expected, paths = _setup(tmp_path)
    try:
        proc = _run_worker(data, crash_at)
        assert proc.wait(60) == -signal.SIGKILL, (data.parent / "worker.log").read_text()
        assert fake.accepted() == []
        accepted = _finish(data, fake, expected)
        assert set(accepted.values()) == {1}, accepted
    finally:
        fake.stop()


@pytest.mark.parametrize("crash_at", [
    "before_journal_write:4",  # the push service said 201, the first results are not durable
    "after_fsync_before_apply:4",  # the first results are durable, later requests may be in flight
    "before_journal_write:5",
])
def test_crash_while_sending_repeats_only_unrecorded_sends_as_the_same_message(tmp_path, crash_at):
    """The documented at-least-once window: a request the push service acknowledged whose outcome
    was not yet durable is sent again once, with the same Topic and tag (the device replaces it);
    a delivery recorded as sent is never repeated and a pending one was never sent."""
    data, fake, expected, paths = _setup(tmp_path, n_alerts=6)
    try:
        proc = _run_worker(data, crash_at)
        assert proc.wait(60) == -signal.SIGKILL, (data.parent / "worker.log").read_text()
        fake.settle()
        first_run = Counter((r.path, r.payload["alert_id"]) for r in fake.accepted())
        assert first_run  # the crash happened mid-delivery
        durable = _states_after_crash(data, paths)
        accepted = _finish(data, fake, expected)
        _check_invariant(fake, durable, first_run, accepted)
        repeated = [k for k, n in accepted.items() if n > 1]
        # Only claimed deliveries whose outcome was not durable can repeat (each once, checked above).
        # How many that is depends on timing, not on a constant: the pool goes on sending the claimed
        # jobs while a result group is being committed (group commit), so a slow fdatasync leaves more
        # answered sends unrecorded (CI once saw 6 of 24 with concurrency 2).
        in_doubt = [k for k, state in durable.items() if state == "sending"]
        assert set(repeated) <= set(in_doubt), (repeated, in_doubt)
        if crash_at == "before_journal_write:4":
            assert repeated  # the window is real: the first group's 201s were not recorded
    finally:
        fake.stop()
