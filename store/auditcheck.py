"""Read-only check of a data directory's audit hash chain (``caseflow audit verify``).

The chain lives in two places: the audit segments a checkpoint wrote (``audit/*.jsonl``, listed
in ``checkpoint.json``) and, for entries committed since, inside the journal records after the
checkpoint. This module reads both in order and recomputes every link from the store's genesis
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

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field

from . import journal as jr
from .audit import entry_hash, genesis
from .base import AuditEntry, StoreCorrupt, StoreError
from .tinystore import AUDIT_DIR, CHECKPOINT_FILE, JOURNAL_DIR, _acquire_lock, _read_checkpoint

MAX_PROBLEMS = 20


@dataclass
class Link:
    """One audit entry as found on disk, and where."""

    position: int  # 1-based place in the chain as read
    where: str  # file (and line or record offset) it was read from
    raw: dict


@dataclass
class AuditReport:
    entries: int = 0
    head: str = ""
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    first_broken: int | None = None  # position of the first entry that fails a check

    @property
    def intact(self) -> bool:
        return not self.problems


class _Locked:
    """The store's flock, held for the duration of a read-only check."""

    def __init__(self, path: str):
        self.path = path

    def __enter__(self) -> _Locked:
        self.fd = _acquire_lock(self.path)  # raises StoreLocked while a server has the store open
        return self

    def __exit__(self, *exc: object) -> None:
        os.close(self.fd)


def _store_path(store_dir: str | os.PathLike[str]) -> str:
    path = os.path.abspath(os.fspath(store_dir))
    if not os.path.exists(os.path.join(path, CHECKPOINT_FILE)):
        raise StoreError(f"there is no store in {path}")
    return path


def _links(path: str, ck: dict, report: AuditReport) -> Iterator[Link]:
    position = 0
    segments = ck["audit"]["segments"]
    for i, seg in enumerate(segments):
        file = os.path.join(path, AUDIT_DIR, seg["file"])
        try:
            with open(file, "rb") as f:
                lines = f.read().split(b"\n")
        except FileNotFoundError:
            report.problems.append(f"audit segment {file} listed in {CHECKPOINT_FILE} is missing")
            return
        tail = lines.pop()  # text after the last newline: a partial line a failed checkpoint left
        if tail:
            report.notes.append(f"{file} ends with a partial line (a checkpoint that did not complete)")
        if i == len(segments) - 1 and len(lines) > seg["count"]:
            report.notes.append(f"{file} holds {len(lines) - seg['count']} line(s) past the checkpoint "
                                "(a checkpoint that did not complete; the journal still has them)")
            lines = lines[: seg["count"]]
        for lineno, line in enumerate(lines, 1):
            position += 1
            where = f"{file} line {lineno}"
            try:
                raw = json.loads(line)
            except ValueError:
                raw = {}
            yield Link(position, where, raw if isinstance(raw, dict) else {})
    start = ck["journal_start"]
    numbers = [n for n in jr.list_segments(os.path.join(path, JOURNAL_DIR)) if n >= start]
    for j, number in enumerate(numbers):
        file = os.path.join(path, JOURNAL_DIR, jr.segment_name(number))
        try:
            scan = jr.scan_segment(file, last=j == len(numbers) - 1)
        except StoreCorrupt as exc:
            report.problems.append(f"{exc} (audit entries after entry {position} cannot be read)")
            return
        if scan.torn:
            report.notes.append(f"{file} ends with an unacknowledged torn record at byte offset {scan.end} "
                                f"({scan.torn}); opening the store drops it")
        for off, payload in scan.records:
            try:
                entries = json.loads(payload)["audit"]
            except (ValueError, KeyError, TypeError):
                report.problems.append(f"{file} record at byte offset {off} is not a unit of work")
                return
            for k, raw in enumerate(entries):
                position += 1
                yield Link(position, f"{file} record at byte offset {off}, audit entry {k + 1}",
                           raw if isinstance(raw, dict) else {})


def _check(link: Link, prev: str) -> str | None:
    d = link.raw
    try:
        n, at, subject, entry, prev_hash, h = d["n"], d["at"], d["subject"], d["entry"], d["prev_hash"], d["hash"]
        expect = entry_hash(prev_hash, n, at, subject, entry)
    except (KeyError, TypeError, ValueError):
        return f"entry {link.position} ({link.where}) is not a readable audit record"
    if n != link.position:
        return (f"entry {link.position} ({link.where}) is numbered {n}: "
                "an entry was removed, inserted or moved here")
    if prev_hash != prev:
        return f"entry {link.position} ({link.where}) does not link to the entry before it (prev_hash differs)"
    if h != expect:
        return f"entry {link.position} ({link.where}) was altered: its hash does not match its content"
    return None


def verify_audit(store_dir: str | os.PathLike[str], anchor: str | None = None) -> AuditReport:
    """Recompute the whole chain; ``anchor``: a head hash recorded earlier that must still be in it.
    Raises StoreLocked (a server is running) or StoreError (no store); damage is in the report."""
    path = _store_path(store_dir)
    report = AuditReport()
    with _Locked(path):
        try:
            ck = _read_checkpoint(os.path.join(path, CHECKPOINT_FILE))
        except StoreCorrupt as exc:
            report.problems.append(str(exc))
            return report
        prev = genesis(ck["store_id"])
        ckpt_n, anchored = ck["audit"]["n"], anchor is None
        for link in _links(path, ck, report):
            problem = _check(link, prev)
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
    report = AuditReport()
    with _Locked(path):
        ck = _read_checkpoint(os.path.join(path, CHECKPOINT_FILE))
        out = []
        for link in _links(path, ck, report):
            d = link.raw
            if subject is None or d.get("subject") == subject:
                out.append(AuditEntry(n=d.get("n", link.position), at=d.get("at", ""), subject=d.get("subject"),
                                      entry=d.get("entry", {}), prev_hash=d.get("prev_hash", ""),
                                      hash=d.get("hash", "")))
    return out


__all__ = ["AuditReport", "audit_entries", "verify_audit"]
