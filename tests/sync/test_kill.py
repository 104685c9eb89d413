"""SIGKILL of the server process during push batches, hundreds of times: a fork server starts a
fresh serving child on the same data dir after each kill (some children armed with a
``CASEFLOW_CRASH_AT`` hook, so they die at an exact point of the commit), devices keep retrying
whole batches, and at the end every mutation was applied exactly once and nothing acknowledged
was lost."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time

import pytest

from tests.support import ROOT
from tests.sync.harness import Fleet

KILLS = 220
HOOKS = ("before_journal_write", "mid_journal_write", "after_journal_write_before_fsync", "after_fsync_before_apply")


class ForkServer:
    def __init__(self, data_dir):
        self.proc = subprocess.Popen([sys.executable, "-m", "tests.sync.forkserver", str(data_dir)], cwd=ROOT,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1)
        line = self.proc.stdout.readline()
        if not line.strip().isdigit():
            self.proc.kill()
            raise RuntimeError(f"fork server failed: {line!r}")
        self.port = int(line)
        self.url = f"http://127.0.0.1:{self.port}"
        self.child: int | None = None
        self.hook_fired = 0

    @staticmethod
    def _dead(pid: int) -> bool:
        """A zombie already: its crash hook killed it at the named point of a commit."""
        try:
            with open(f"/proc/{pid}/stat") as f:
                return f.read().rsplit(")", 1)[1].split()[0] == "Z"
        except OSError:
            return False

    def _ask(self, line: str) -> int:
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()
        return int(self.proc.stdout.readline())

    def spawn(self, crash: str | None = None) -> int:
        self.child = self._ask(f"spawn {crash}" if crash else "spawn")
        return self.child

    def kill(self) -> int:
        """SIGKILL the serving child (if a crash hook has not already) and reap it: the signal."""
        self.hook_fired += self._dead(self.child)
        os.kill(self.child, signal.SIGKILL)
        sig = self._ask(f"wait {self.child}")
        self.child = None
        return sig

    def close(self) -> None:
        if self.child:
            self.kill()
        self.proc.stdin.write("quit\n")
        self.proc.stdin.flush()
        self.proc.wait(10)


@pytest.mark.slow
def test_sigkill_during_push_batches_applies_everything_exactly_once(tmp_path):
    seed = random.randrange(1 << 30)
    rng = random.Random(seed)
    data = tmp_path / "data"
    fs = ForkServer(data)
    kills = hooks_armed = rounds = 0
    started = time.monotonic()
    try:
        fs.spawn()
        fleet = Fleet(tmp_path, fs.url, rng)
        while kills < KILLS:
            rounds += 1
            fleet.queue_offline_work()
            # everyone syncs at once while the server is killed at random moments
            crash = None
            threads, errors = fleet.start_syncing()
            while any(t.is_alive() for t in threads):
                time.sleep(rng.uniform(0.0, 0.05))
                assert fs.kill() == signal.SIGKILL
                kills += 1
                crash = None
                if rng.random() < 0.3:
                    crash = f"{rng.choice(HOOKS)}:{rng.randint(1, 3)}"
                    hooks_armed += 1
                fs.spawn(crash)
            for t in threads:
                t.join()
            assert not errors, errors
            if crash:  # the armed hook may not have fired yet: start the next round clean
                fs.kill()
                fs.spawn()
        fleet.converge()
        fs.kill()
        stats = fleet.check_store(data)
    finally:
        fs.close()
    retries = fleet.retries
    print(f"\nkill test (seed {seed}): {kills} SIGKILLs during push/pull ({hooks_armed} children armed with a crash "
          f"hook, {fs.hook_fired} died by it), "
          f"{rounds} rounds, {retries} retried requests, {time.monotonic() - started:.1f}s; {stats}")
    assert kills >= 200 and retries > 0 and stats["applied"] > 0 and stats["values_kept"] > 0 and stats["conflicts"] > 0
