"""The write-ahead journal: append-only segment files of framed records.

A record frame is a 16-byte header followed by the payload (UTF-8 JSON of one unit of work)::

    magic "CFJ1" | payload length (u32 LE) | CRC32 of payload (u32 LE) | CRC32 of the 12 bytes before (u32 LE)

The header has its own CRC so that a damaged length field is recognised as damage instead of
being mistaken for a record that runs past the end of the file.

Reading a segment (``scan_segment``) distinguishes:

* a **torn tail**: the last frame of the newest written segment is incomplete (the writer died while
  appending it, so it was never acknowledged), its payload CRC fails while it is the very last
  thing in the file, or the rest of the file is zero bytes (a power loss can leave
  allocated-but-unwritten blocks). The caller truncates it away;
* **corruption**: anything else (bad header, bad CRC followed by more data, a problem in an older
  segment). ``StoreCorrupt`` names the file and the byte offset.

The newest *written* segment is not always the newest file: a checkpoint creates the next segment
before it takes the write lock (ADR 0028), so a writer can die mid-append in segment N while an empty
segment N+1 already exists. ``tail_segment`` finds the segment whose tail may be torn.
"""

from __future__ import annotations

import os
import struct
import zlib
from dataclasses import dataclass, field

from .base import StoreCorrupt

MAGIC = b"CFJ1"
_HEAD = struct.Struct("<4sII")
_HCRC = struct.Struct("<I")
HEADER_SIZE = _HEAD.size + _HCRC.size  # 16
MAX_RECORD = 1 << 31
SUFFIX = ".log"


def frame(payload: bytes) -> bytes:
    if len(payload) >= MAX_RECORD:
        raise ValueError(f"unit of work too large for one journal record ({len(payload)} bytes)")
    head = _HEAD.pack(MAGIC, len(payload), zlib.crc32(payload))
    return head + _HCRC.pack(zlib.crc32(head)) + payload


def segment_name(number: int) -> str:
    return f"{number:012d}{SUFFIX}"


def list_segments(directory: str) -> list[int]:
    """Segment numbers present in ``directory``, ascending."""
    out = []
    for name in os.listdir(directory):
        if name.endswith(SUFFIX) and name[: -len(SUFFIX)].isdigit():
            out.append(int(name[: -len(SUFFIX)]))
    return sorted(out)


def tail_segment(directory: str, numbers: list[int]) -> int | None:
    """The segment among ``numbers`` whose last record may be torn: the newest one holding any bytes
    (empty segments after it were created by a checkpoint that had not yet switched to them), or
    the newest one if all are empty. ``None`` for no segments."""
    for number in reversed(numbers):
        if os.path.getsize(os.path.join(directory, segment_name(number))) > 0:
            return number
    return numbers[-1] if numbers else None


@dataclass
class SegmentScan:
    path: str
    records: list[tuple[int, bytes]] = field(default_factory=list)  # (offset, payload)
    end: int = 0  # offset just after the last good record
    size: int = 0  # file size as found
    torn: str | None = None  # why the bytes after ``end`` are a torn tail (None: no tail)


def _tail(scan: SegmentScan, data: bytes, off: int, last: bool, why: str, *, tearable: bool) -> None:
    """Classify a bad frame at ``off``: torn tail of the newest segment, or corruption."""
    if last and (tearable or data.count(0, off) == len(data) - off):
        scan.torn = why
        return
    raise StoreCorrupt(f"journal segment {scan.path} is corrupt at byte offset {off}: {why}")


def scan_segment(path: str, *, last: bool) -> SegmentScan:
    """Read every record of one segment. ``last``: this is the newest segment (may have a torn tail)."""
    with open(path, "rb") as f:
        data = f.read()
    scan = SegmentScan(path=path, size=len(data))
    off = 0
    n = len(data)
    while off < n:
        if n - off < HEADER_SIZE:
            _tail(scan, data, off, last, f"incomplete record header ({n - off} of {HEADER_SIZE} bytes)",
                  tearable=True)
            break
        head = data[off : off + _HEAD.size]
        (hcrc,) = _HCRC.unpack_from(data, off + _HEAD.size)
        magic, length, pcrc = _HEAD.unpack(head)
        if magic != MAGIC or zlib.crc32(head) != hcrc:
            _tail(scan, data, off, last, "bad record header (magic or header CRC)", tearable=False)
            break
        start = off + HEADER_SIZE
        if start + length > n:
            _tail(scan, data, off, last,
                  f"incomplete record (header says {length} payload bytes, {n - start} present)", tearable=True)
            break
        payload = data[start : start + length]
        if zlib.crc32(payload) != pcrc:
            # A CRC failure is a torn write only if nothing follows it in the newest segment.
            _tail(scan, data, off, last, "payload CRC mismatch", tearable=start + length == n)
            break
        scan.records.append((off, payload))
        off = start + length
    scan.end = off
    return scan
