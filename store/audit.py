"""Hash chaining of the audit log.

Each entry's ``hash`` is ``sha256(prev_hash + canonical_json({"n", "at", "subject", "entry"}))``
(hex). The first entry's ``prev_hash`` is a genesis value derived from the store id, so a chain
cannot be spliced from one store into another. Canonical JSON: sorted keys, no whitespace,
ASCII only, no NaN/Infinity.
"""

from __future__ import annotations

import hashlib
import json
from json.encoder import encode_basestring_ascii
from typing import Any

from .base import AuditEntry

_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False)


def canonical(obj: Any) -> str:
    """``json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False)``."""
    return _CANONICAL.encode(obj)


def genesis(store_id: str) -> str:
    return hashlib.sha256(f"caseflow-audit-genesis:{store_id}".encode()).hexdigest()


def entry_hash(prev_hash: str, n: int, at: str, subject: str | None, entry: Any) -> str:
    body = canonical({"n": n, "at": at, "subject": subject, "entry": entry})
    return hashlib.sha256((prev_hash + body).encode("ascii")).hexdigest()


def make_line(prev_hash: str, n: int, at: str, subject: str | None, entry: Any) -> tuple[str, str]:
    """The persisted form (one canonical JSON line, no newline) and the entry's hash.

    The entry is encoded once: the hashed body and the line are the canonical JSON of their
    objects, keys in sorted order, spelt out around it (the same text as ``canonical`` of each)."""
    if type(n) is not int or type(at) is not str or type(prev_hash) is not str \
            or (subject is not None and type(subject) is not str):
        h = entry_hash(prev_hash, n, at, subject, entry)
        line = canonical({"n": n, "at": at, "subject": subject, "entry": entry, "prev_hash": prev_hash, "hash": h})
        return line, h
    head = f'{{"at":{encode_basestring_ascii(at)},"entry":{canonical(entry)}'
    number = f',"n":{n}'
    about = f',"subject":{"null" if subject is None else encode_basestring_ascii(subject)}}}'
    h = hashlib.sha256((prev_hash + head + number + about).encode("ascii")).hexdigest()
    return f'{head},"hash":"{h}"{number},"prev_hash":{encode_basestring_ascii(prev_hash)}{about}', h


def parse_line(line: str | bytes) -> AuditEntry:
    d = json.loads(line)
    return AuditEntry(n=d["n"], at=d["at"], subject=d["subject"], entry=d["entry"],
                      prev_hash=d["prev_hash"], hash=d["hash"])
