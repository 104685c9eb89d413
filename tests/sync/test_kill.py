"""SIGKILL of the server process during push batches, hundreds of times: a fork server starts a
fresh serving child on the same data dir after each kill and devices keep retrying whole batches.

Every kill lands on work in progress by construction, one of three ways, drawn per child:

* ``batch``: the child reports on an event pipe that a push batch has arrived; it is killed 0-10 ms
  later, somewhere in validating, applying or committing that batch;
* ``answer``: the child reports that a batch has committed and its answer is about to go out, and
  waits there until it is killed: the device's answer is lost after the commit;
* ``hook``: the child is armed with a ``CASEFLOW_CRASH_AT`` hook and the test waits for the hook to
  kill it at that exact point of a commit.

After each kill the next child opens the store, runs ``verify()`` and checks every answer the devices
got so far before it serves (tests/sync/forkserver.py): a failure names the kill that caused it. At
the end every mutation was applied exactly once and nothing acknowledged or typed was lost. The
floors below are the figures docs/testing.md quotes."""

from __future__ import annotations

import json
import os
import queue
import random
import signal
import subprocess
import sys
import threading
import time

import pytest

from tests.faults import at_least, floor, record_kills
from tests.support import ROOT
from tests.sync.harness import Fleet

KILLS = floor("test_sigkill_during_push_batches_applies_everything_exactly_once") + 5
PLANS, WEIGHTS = ("batch", "answer", "hook"), (0.45, 0.25, 0.30)
HOOKS = ("before_journal_write", "mid_journal_write", "after_journal_write_before_fsync", "after_fsync_before_apply")
VERIFY_EVERY = 5  # the store's full verify() after every 5th kill; answers are checked after every kill
WAIT = 30.0  # seconds any one kill point may take to come while devices push (a loaded CI box is slow)


class ForkServer:
    """The test's side of tests/sync/forkserver.py: every answer and event is awaited with a deadline
    that names what was awaited."""

    def __init__(self, data_dir, tmp_path):
        r, w = os.pipe()
        self.proc = subprocess.Popen([sys.executable, "-m", "tests.sync.forkserver", str(data_dir), str(w)],
                                     cwd=ROOT, pass_fds=(w,), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     text=True, bufsize=1)
        os.close(w)
        self.lines: queue.Queue[str] = queue.Queue()
        self.events: queue.Queue[tuple[int, str]] = queue.Queue()
        threading.Thread(target=self._read_lines, daemon=True).start()
        threading.Thread(target=self._read_events, args=(r,), daemon=True).start()
        line = self._line("its port", 120)
        if not line.strip().isdigit():
            self.proc.kill()
            raise AssertionError(f"fork server failed: {line!r}")
        self.port = int(line)
        self.url = f"http://127.0.0.1:{self.port}"
        self.check_file = tmp_path / "answered.json"
        self.child: int | None = None

    def _read_lines(self) -> None:
        for line in self.proc.stdout:
            self.lines.put(line)
        self.lines.put("")  # EOF: the fork server is gone

    def _read_events(self, fd: int) -> None:
        with os.fdopen(fd, "rb") as f:
            for line in f:
                pid, kind = line.split()
                self.events.put((int(pid), kind.decode()))

    def _line(self, what: str, timeout: float = WAIT) -> str:
        try:
            line = self.lines.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"the fork server did not answer within {timeout:.0f} s: waited for {what}") from None
        if not line:
            raise AssertionError(f"the fork server exited (code {self.proc.poll()}) while the test waited for {what}")
        return line

    def spawn(self, mode: str = "-", crash: str | None = None, answered: dict[str, str] | None = None,
              verify: bool = True) -> int:
        check = "-"
        if answered is not None:
            self.check_file.write_text(json.dumps(answered))
            check = str(self.check_file)
        self.proc.stdin.write(f"spawn {mode} {crash or '-'} {check} {'verify' if verify else '-'}\n")
        self.proc.stdin.flush()
        line = self._line("a new serving child")
        if line.startswith("died"):
            _, code, said = line.split(" ", 2)
            raise AssertionError(f"the serving child died before serving (status {code}): {json.loads(said)}")
        self.child = int(line)
        return self.child

    def drain_events(self) -> None:
        while not self.events.empty():
            self.events.get_nowait()

    def dead(self) -> bool:
        """The child is a zombie already: its crash hook killed it."""
        try:
            with open(f"/proc/{self.child}/stat") as f:
                return f.read().rsplit(")", 1)[1].split()[0] == "Z"
        except OSError:
            return False

    def wait_event(self, kind: str, busy) -> bool:
        """Until the current child reports ``kind``; False when the devices stopped pushing first."""
        deadline = time.monotonic() + WAIT
        while busy():
            try:
                pid, got = self.events.get(timeout=0.05)
            except queue.Empty:
                if time.monotonic() > deadline:
                    raise AssertionError(f"child {self.child} did not report a push {kind} within {WAIT:.0f} s "
                                         "while the devices were syncing") from None
                continue
            if pid == self.child and got == kind:
                return True
        return False

    def wait_hook(self, crash: str, busy) -> bool:
        """Until the armed child's crash hook has killed it; False when the devices stopped first."""
        deadline = time.monotonic() + WAIT
        while busy():
            if self.dead():
                return True
            if time.monotonic() > deadline:
                raise AssertionError(f"child {self.child} armed with {crash} did not die by it within {WAIT:.0f} s")
            time.sleep(0.002)
        return self.dead()

    def kill(self) -> int:
        """SIGKILL the serving child (a crash hook may have already) and reap it: the signal that ended it."""
        os.kill(self.child, signal.SIGKILL)
        self.proc.stdin.write(f"wait {self.child}\n")
        self.proc.stdin.flush()
        sig = int(self._line(f"child {self.child} to be reaped"))
        self.child = None
        return sig

    def close(self) -> None:
        try:
            if self.child:
                self.kill()
            self.proc.stdin.write("quit\n")
            self.proc.stdin.flush()
            self.proc.wait(10)
        except (OSError, AssertionError, subprocess.TimeoutExpired):
            self.proc.kill()
            self.proc.wait(10)


@pytest.mark.slow
@pytest.mark.kills
@pytest.mark.timeout(900)  # a hang ceiling for a loaded machine; each wait has its own deadline
def test_sigkill_during_push_batches_applies_everything_exactly_once(tmp_path, request):
    seed = random.randrange(1 << 30)
    rng = random.Random(seed)
    data = tmp_path / "data"
    fs = ForkServer(data, tmp_path)
    count = dict.fromkeys(("kills", "batch", "answer", "armed", "died_by_hook", "unfired"), 0)
    rounds = 0
    started = time.monotonic()
    fleet = None
    try:
        fs.spawn()
        fleet = Fleet(tmp_path, fs.url, rng)
        plan, crash = "batch", None

        def next_child(after: str) -> tuple[str, str | None]:
            # the last child just serves: an answer held or a hook armed would stall the round's end
            plan = rng.choices(PLANS, WEIGHTS)[0] if count["kills"] < KILLS else "-"
            crash = f"{rng.choice(HOOKS)}:{rng.randint(1, 3)}" if plan == "hook" else None
            count["armed"] += plan == "hook"
            try:
                fs.spawn(plan if plan != "hook" else "-", crash, dict(fleet.answered),
                         verify=count["kills"] % VERIFY_EVERY == 0)
            except AssertionError as exc:
                raise AssertionError(f"after {after}: {exc}") from None
            return plan, crash

        fs.kill()
        fs.spawn(plan)
        while count["kills"] < KILLS:
            rounds += 1
            fleet.queue_offline_work()
            fs.drain_events()  # only what the child reports from now on marks work in progress
            threads, errors = fleet.start_syncing()

            def busy(threads=threads):
                return any(t.is_alive() for t in threads)

            while busy() and count["kills"] < KILLS:
                if plan == "hook":
                    hit = fs.wait_hook(crash, busy)
                    count["died_by_hook"] += hit
                else:
                    hit = fs.wait_event(plan, busy)
                    if hit and plan == "batch":
                        time.sleep(rng.uniform(0.0, 0.01))
                    count[plan] += hit
                if not hit:
                    break  # the round synced before this kill point came: the child serves on
                what = f"kill #{count['kills'] + 1} ({plan}{' ' + crash if crash else ''}, seed {seed})"
                sig = fs.kill()
                assert sig == signal.SIGKILL, f"{what}: the child ended with {sig}, not SIGKILL"
                count["kills"] += 1
                plan, crash = next_child(what)
            for t in threads:
                t.join(WAIT * 4)
                assert not t.is_alive(), (f"a device was still syncing {WAIT * 4:.0f} s after the round's last kill "
                                          f"({count})")
            assert not errors, errors
            if plan == "hook" and count["kills"] < KILLS:
                # the round synced before the armed hook was reached: not a kill of work in progress, so it
                # is not counted; a hook that never fires at all leaves died_by_hook below its floor
                fs.kill()
                count["unfired"] += 1
                assert count["unfired"] <= 5 + count["died_by_hook"], (
                    f"{count['unfired']} armed children outlived their round, {count['died_by_hook']} died by their "
                    "hook: the crash hooks do not fire")
                plan, crash = next_child(f"an unfired {crash} child")
        fs.kill()
        try:
            fs.spawn("-", None, dict(fleet.answered))
        except AssertionError as exc:
            raise AssertionError(f"after kill #{count['kills']} (the last, seed {seed}): {exc}") from None
        fleet.converge()
        fs.kill()
        stats = fleet.check_store(data)
    finally:
        if fleet:
            fleet.stop.set()
        fs.close()
    retries = fleet.retries
    # a first answer of "duplicate": the push was committed but its answer died with the server
    cut = sum(r["status"] == "duplicate" for r in fleet.acked.values())
    print(f"\nkill test (seed {seed}): {count['kills']} SIGKILLs ({count['batch']} 0-10 ms into a push batch, "
          f"{count['answer']} between a batch's commit and its answer, {count['died_by_hook']} of "
          f"{count['armed']} armed children died by their crash hook, {count['unfired']} outlived their round), "
          f"{cut} answers lost after commit, "
          f"{rounds} rounds, {retries} retried requests, {time.monotonic() - started:.1f}s; {stats}")
    record_kills(request, count["kills"], what="fork-server kill test")
    at_least("kills during a push batch", count["batch"], 60, "a kill must land while a batch is being applied")
    at_least("kills between commit and answer", count["answer"], 30, "the answer-lost-after-commit window")
    at_least("children killed by their crash hook", count["died_by_hook"], 30,
             "each hook kills at an exact point of the commit; a hook that never fires tests nothing")
    at_least("answers lost after commit (first answer `duplicate`)", cut, 20,
             "the retry of a committed batch must answer its first result")
    at_least("retried requests", retries, count["kills"], "every kill interrupts at least one device's request")
    at_least("mutations applied", stats.get("applied", 0), 100, "the devices' work got through")
    at_least("typed values kept", stats.get("values_kept", 0), 50, "edits reached the record")
    at_least("conflicts recorded", stats.get("conflicts", 0), 1, "concurrent edits of one field met")
