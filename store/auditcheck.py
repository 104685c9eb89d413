"""Read-only check of a data directory's audit hash chain (``caseflow audit verify``).

The chain lives in two places: the audit segments a checkpoint wrote (``audit/*.jsonl``, listed
in ``checkpoint.json``) and, for entries committed since, inside the journal records after the
checkpoint. This module reads both in order (through ``store.tinystore.chain``, the same reader
recovery and ``verify()`` use) and recomputes every link from the store's genesis
hash, **without changing any file**: opening the store would recover (truncate a torn tail,
drop crash leftovers), which is the wrong thing for forensic evidence.

It holds the store's ``LOCK`` while it reads, so a running server cannot checkpoint (rewrite and
delete files) underneath it; with a server running it raises ``StoreLocked`` instead.

What it cannot see: an attacker who rewrites the whole chain from an entry onwards (recomputing
every hash and the checkpoint's checksum) leaves a chain that is consistent again. Recording the
printed head hash elsewhere and passing it back as ``anchor`` closes that gap for everything up to
the anchor. A damaged *last* journal record reads as a crash's torn tail (the store drops it on
open, as it was never acknowledged); it is reported as a note, not a broken link.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from .audit import genesis
from .base import AuditEntry, StoreCorrupt, StoreError
from .tinystore.chain import ChainRead, check_link, links
from .tinystore.layout import CHECKPOINT_FILE, acquire_lock, read_checkpoint

MAX_PROBLEMS = 20


@dataclass
class AuditReport(ChainRead):
    entries: int = 0
    head: str = ""
    first_broken: int | None = None  # position of the first entry that fails a check

    @property
    def intact(self) -> bool:
        return not self.problems


class _Locked:
    """The store's flock, held for the duration of a read-only check."""

    def __init__(self, path: str):
        self.path = path

    def __enter__(self) -> _Locked:
        self.fd = acquire_lock(self.path)  # raises StoreLocked while a server has the store open
        return self

    def __exit__(self, *exc: object) -> None:
        os.close(self.fd)


def _store_path(store_dir: str | os.PathLike[str]) -> str:
    path = os.path.abspath(os.fspath(store_dir))
    if not os.path.exists(os.path.join(path, CHECKPOINT_FILE)):
        raise StoreError(f"there is no store in {path}")
    return path


def verify_audit(store_dir: str | os.PathLike[str], anchor: str | None = None) -> AuditReport:
    """Recompute the whole chain; ``anchor``: a head hash recorded earlier that must still be in it.
    Raises StoreLocked (a server is running) or StoreError (no store); damage is in the report."""
    path = _store_path(store_dir)
    report = AuditReport()
    with _Locked(path):
        try:
            ck = read_checkpoint(os.path.join(path, CHECKPOINT_FILE))
        except StoreCorrupt as exc:
            report.problems.append(str(exc))
            return report
        prev = genesis(ck["store_id"])
        ckpt_n, anchored = ck["audit"]["n"], anchor is None
        for link in links(path, ck, report):
            problem = check_link(link, prev)
            if problem and len(report.problems) < MAX_PROBLEMS:
                report.problems.append(problem)
                report.first_broken = report.first_broken or link.position
            prev = link.raw.get("hash", "")
            anchored = anchored or prev == anchor
            report.entries = link.position
            if link.position == ckpt_n and prev != ck["audit"]["head"]:
                report.problems.append(f"entry {ckpt_n} is not the head {CHECKPOINT_FILE} recorded at the checkpoint")
                report.first_broken = report.first_broken or ckpt_n
    if report.entries < ckpt_n:
        report.problems.append(f"{CHECKPOINT_FILE} records {ckpt_n} checkpointed entries; {report.entries} were found")
        report.first_broken = report.first_broken or report.entries + 1
    if not anchored:
        report.problems.append("the anchor hash is not in the chain: history up to it was rewritten")
    report.head = prev
    return report


def audit_entries(store_dir: str | os.PathLike[str], subject: str | None = None) -> list[AuditEntry]:
    """The entries as stored (all, or one subject's), read without opening the store."""
    path = _store_path(store_dir)
    report = ChainRead()
    with _Locked(path):
        ck = read_checkpoint(os.path.join(path, CHECKPOINT_FILE))
        out = []
        for link in links(path, ck, report):
            d = link.raw
            if subject is None or d.get("subject") == subject:
                out.append(AuditEntry(n=d.get("n", link.position), at=d.get("at", ""), subject=d.get("subject"),
                                      entry=d.get("entry", {}), prev_hash=d.get("prev_hash", ""),
                                      hash=d.get("hash", "")))
    return out


__all__ = ["AuditReport", "audit_entries", "verify_audit"]
