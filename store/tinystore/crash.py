"""Crash hooks for the kill tests: ``CASEFLOW_CRASH_AT=name`` (or ``name:N``) SIGKILLs the process there."""

from __future__ import annotations

import os
import signal

#: Names accepted by ``CASEFLOW_CRASH_AT`` (``name`` or ``name:N`` = on the N-th time it is reached).
CRASH_HOOKS = (
    "before_journal_write",
    "mid_journal_write",  # half of the record's bytes written: a torn record
    "after_journal_write_before_fsync",
    "after_fsync_before_apply",
    "during_checkpoint",  # shard and audit files written, checkpoint.json not yet replaced
)


class Crash:
    __slots__ = ("name", "left")

    def __init__(self, spec: str):
        name, _, count = spec.partition(":")
        if name not in CRASH_HOOKS:
            raise ValueError(f"CASEFLOW_CRASH_AT={spec!r}: unknown hook; known: {', '.join(CRASH_HOOKS)}")
        self.name = name
        self.left = int(count) if count else 1

    def hit(self, name: str) -> None:
        if name == self.name:
            self.left -= 1
            if self.left <= 0:
                os.kill(os.getpid(), signal.SIGKILL)
