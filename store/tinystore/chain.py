"""The one reader of the audit chain as it lies on disk.

The chain lives in two places: the audit segments a checkpoint wrote (``audit/*.jsonl``, listed in
``checkpoint.json``) and, for entries committed since, inside the journal records after the
checkpoint. Opening the store (recovery), ``verify()`` and ``caseflow audit verify`` all read it
through here; they differ only in what they do about damage (refuse, report, or report read-only).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field

from .. import journal as jr
from ..audit import entry_hash
from ..base import StoreCorrupt
from ..fastjson import loads
from .layout import AUDIT_DIR, CHECKPOINT_FILE, JOURNAL_DIR


@dataclass
class Segment:
    """One audit segment file as read: every complete line, and what follows the last one."""

    file: str
    listed: dict  # its entry in checkpoint.json: file, first, count, bytes
    lines: list[tuple[int, bytes]]  # (byte offset, line without its newline)
    size: int

    def end(self, count: int) -> int:
        """Byte offset just after the first ``count`` lines."""
        if count <= 0:
            return 0
        off, line = self.lines[count - 1]
        return off + len(line) + 1


def read_segments(path: str, ck: dict) -> Iterator[Segment]:
    """The audit segments ``ck`` lists, in order; a missing one raises StoreCorrupt."""
    for seg in ck["audit"]["segments"]:
        file = os.path.join(path, AUDIT_DIR, seg["file"])
        try:
            with open(file, "rb") as f:
                raw = f.read()
        except FileNotFoundError:
            raise StoreCorrupt(f"audit segment {file} listed in {CHECKPOINT_FILE} is missing") from None
        lines, pos = [], 0
        while (nl := raw.find(b"\n", pos)) >= 0:
            lines.append((pos, raw[pos:nl]))
            pos = nl + 1
        yield Segment(file, seg, lines, len(raw))


def parse(line: bytes | str) -> dict:
    """An audit line as a dict ({} when it is not a JSON object)."""
    try:
        d = loads(line)
    except ValueError:
        return {}
    return d if isinstance(d, dict) else {}


@dataclass
class Link:
    """One audit entry as found on disk, and where."""

    position: int  # 1-based place in the chain as read
    where: str  # file (and line or record offset) it was read from
    raw: dict


@dataclass
class ChainRead:
    """Problems and notes met while reading the whole chain read-only."""

    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def links(path: str, ck: dict, report: ChainRead) -> Iterator[Link]:
    """Every entry in chain order (segments, then the journal), changing no file. Lines a checkpoint
    that did not complete left past the last segment's count are noted and skipped; damage that stops
    the reading is added to ``report.problems``."""
    position = 0
    try:
        segments = list(read_segments(path, ck))
    except StoreCorrupt as exc:
        report.problems.append(str(exc))
        return
    for i, seg in enumerate(segments):
        if seg.end(len(seg.lines)) != seg.size:
            report.notes.append(f"{seg.file} ends with a partial line (a checkpoint that did not complete)")
        lines = seg.lines
        count = seg.listed["count"]
        if i == len(segments) - 1 and len(lines) > count:
            report.notes.append(f"{seg.file} holds {len(lines) - count} line(s) past the checkpoint "
                                "(a checkpoint that did not complete; the journal still has them)")
            lines = lines[:count]
        for lineno, (_, line) in enumerate(lines, 1):
            position += 1
            yield Link(position, f"{seg.file} line {lineno}", parse(line))
    start = ck["journal_start"]
    numbers = [n for n in jr.list_segments(os.path.join(path, JOURNAL_DIR)) if n >= start]
    tail = jr.tail_segment(os.path.join(path, JOURNAL_DIR), numbers)
    for number in numbers:
        file = os.path.join(path, JOURNAL_DIR, jr.segment_name(number))
        try:
            scan = jr.scan_segment(file, last=number == tail)
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


def check_link(link: Link, prev: str) -> str | None:
    """What is wrong with ``link`` following an entry whose hash is ``prev`` (None: it is sound).
    Messages start ``entry N (where)``."""
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
