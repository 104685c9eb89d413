"""Hash chaining of the audit log.

Each entry's ``hash`` is ``sha256(prev_hash + canonical_json({"n", "at", "subject", "entry"}))``
(hex). The first entry's ``prev_hash`` is a genesis value derived from the store id, so a chain
cannot be spliced from one store into another. Canonical JSON: sorted keys, no whitespace,
ASCII only, no NaN/Infinity.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from .base import AuditEntry


def canonical(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False)


def genesis(store_id: str) -> str:
    return hashlib.sha256(f"caseflow-audit-genesis:{store_id}".encode()).hexdigest()


def entry_hash(prev_hash: str, n: int, at: str, subject: str | None, entry: Any) -> str:
    body = canonical({"n": n, "at": at, "subject": subject, "entry": entry})
    return hashlib.sha256((prev_hash + body).encode("ascii")).hexdigest()


def make_line(prev_hash: str, n: int, at: str, subject: str | None, entry: Any) -> tuple[str, str]:
    """The persisted form (one canonical JSON line, no newline) and the entry's hash."""
    h = entry_hash(prev_hash, n, at, subject, entry)
    line = canonical({"n": n, "at": at, "subject": subject, "entry": entry, "prev_hash": prev_hash, "hash": h})
    return line, h


def parse_line(line: str | bytes) -> AuditEntry:
    d = json.loads(line)
    return AuditEntry(n=d["n"], at=d["at"], subject=d["subject"], entry=d["entry"],
                      prev_hash=d["prev_hash"], hash=d["hash"])
