"""The embedded store's checkpoints during a ``bench.sync`` run: when they ran, seen from outside
the server (:class:`CheckpointWatch`), and what the pushes did meanwhile (:func:`during_run`)."""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path


class CheckpointWatch:
    """When the embedded store's checkpoints run, seen from outside the server: a checkpoint opens
    the next journal segment when it begins and replaces ``checkpoint.json`` when it is done. Polled
    every few ms (two ``stat``-sized calls) from its own thread during the timed run."""

    def __init__(self, data: Path, every: float = 0.004):
        self.journal, self.ckpt = data / "store" / "journal", data / "store" / "checkpoint.json"
        self.every = every
        self.windows: list[list[float | None]] = []  # [begun, done or None]
        self._stop = threading.Event()
        self._seg, self._ino = self._state()
        self._started = time.perf_counter()
        self._thread = threading.Thread(target=self._run, daemon=True, name="checkpoint-watch")

    def _state(self) -> tuple[int, int]:
        try:
            seg = max((int(n.split(".")[0]) for n in os.listdir(self.journal) if n.endswith(".log")), default=0)
            return seg, os.stat(self.ckpt).st_ino
        except (OSError, ValueError):
            return 0, 0

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            seg, ino = self._state()
            now = time.perf_counter()
            if seg > self._seg and seg:  # a checkpoint began (one new segment each)
                self.windows.extend([now, None] for _ in range(seg - self._seg))
                self._seg = seg
            if ino != self._ino and ino:  # one was done
                self._ino = ino
                open_ = [w for w in self.windows if w[1] is None]
                if open_:
                    open_[0][1] = now
                else:  # began before the watch (or between two polls): it ran at least since the watch began
                    self.windows.append([self._started, now])

    def start(self) -> CheckpointWatch:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


def during_run(windows: list[list[float | None]], t0: float, answers: list[float]) -> dict:
    """The checkpoints that ran during a timed run from ``t0`` to its last answer (begun before the
    last answer, not done before the start) and the longest interval between two answers that
    overlaps one of them; ``answers``: ``t0`` and every push's answer time, sorted."""
    end = answers[-1]
    spans = [(b, e if e is not None else float("inf")) for b, e in windows]
    spans = [(b, e) for b, e in spans if b < end and e > t0]
    gaps = list(zip(answers, answers[1:], strict=False))
    pause = max((b - a for a, b in gaps if any(a < we and b > wb for wb, we in spans)), default=float("nan"))
    return {"checkpoints": len(spans), "ckpt_running": len(spans),
            "ckpt_begun": sum(1 for b, _ in spans if b >= t0), "ckpt_done": sum(1 for _, e in spans if e <= end),
            "ckpt_pause": pause * 1000, "ckpt_s": sum(min(e, end) - max(b, t0) for b, e in spans)}


def checkpoint_no(data: Path) -> int:
    """The number of the store's last checkpoint (0: none yet, or not the embedded store)."""
    try:
        return json.loads((data / "store" / "checkpoint.json").read_text())["body"]["checkpoint"]
    except (OSError, ValueError, KeyError):
        return 0


def checkpoint_note(r: dict) -> str:
    if r["store"] != "embedded" or not r["checkpoints"]:
        return ""
    return (f"  checkpoints running {r['ckpt_s']:.1f} s of the run ({r['ckpt_begun']} begun, {r['ckpt_done']} done): "
            f"longest pause meanwhile {r['ckpt_pause']:.1f} ms")
