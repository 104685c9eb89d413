"""The files of a data directory: their names, the checkpoint file's format, the lock and shard placement.

::

    LOCK                         flock'ed by the process that has the store open (holds its pid)
    checkpoint.json              what the shard/audit files hold and where journal replay starts
    journal/000000000007.log     append-only segments of framed records, one record per unit of work
    shards/d03-5.c00000012.json  TinyDB files (one table per collection, documents keyed by id)
    audit/000000000001.jsonl     the hash-chained audit log, one canonical JSON line per entry
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import json
import os
from collections.abc import Mapping

from ..audit import canonical
from ..base import StoreCorrupt, StoreLocked
from .records import Key, Rec, jd

FORMAT = 1
CHECKPOINT_FILE = "checkpoint.json"
LOCK_FILE = "LOCK"
JOURNAL_DIR, SHARD_DIR, AUDIT_DIR = "journal", "shards", "audit"
AUDIT_SEGMENT_ENTRIES = 20_000


def key_hash(collection: str, doc_id: str) -> int:
    """The 64-bit hash that places a document in a shard."""
    raw = f"{collection}\x00{doc_id}".encode("utf-8", "surrogatepass")
    return int.from_bytes(hashlib.blake2b(raw, digest_size=8).digest(), "little")


def shard_file(key: tuple[int, int], checkpoint_no: int) -> str:
    depth, bits = key
    return f"d{depth:02d}-{bits:0{max(1, (depth + 3) // 4)}x}.c{checkpoint_no:08d}.json"


def shard_text(keys: list[Key], colls: Mapping[str, Mapping[str, Rec]]) -> str:
    """A TinyDB database (one table per collection, ids as keys) of the documents ``keys`` as ``colls``
    holds them, built from their JSON texts in memory (no per-document tuples)."""
    by_coll: dict[str, list[str]] = {}
    for coll, did in keys:
        ids = by_coll.get(coll)
        if ids is None:
            ids = by_coll[coll] = []
        ids.append(did)
    tables = []
    for coll in sorted(by_coll):
        recs = colls[coll]
        ids = by_coll[coll]
        ids.sort()
        parts = []
        for did in ids:
            r = recs[did]
            parts.append(f'{jd(did)}:{{"version":{r.version},"seq":{r.seq},'
                         f'"deleted":{"true" if r.deleted else "false"},'
                         f'"data":{r.data if r.data is not None else "null"}}}')
        tables.append(f"{jd(coll)}:{{{','.join(parts)}}}")
    return "{" + ",".join(tables) + "}"


def encode_checkpoint(body: dict) -> bytes:
    text = canonical(body)
    return canonical({"body": body, "sha256": hashlib.sha256(text.encode()).hexdigest()}).encode()


def read_checkpoint(path: str) -> dict:
    try:
        with open(path, "rb") as f:
            raw = f.read()
        wrapper = json.loads(raw)
        body = wrapper["body"]
        ok = hashlib.sha256(canonical(body).encode()).hexdigest() == wrapper["sha256"]
    except (ValueError, KeyError, TypeError) as exc:
        raise StoreCorrupt(f"{path} is unreadable: {exc}") from None
    if not ok:
        raise StoreCorrupt(f"{path} fails its checksum (modified or damaged)")
    if body.get("format") != FORMAT:
        raise StoreCorrupt(f"{path} has format {body.get('format')!r}; this code reads format {FORMAT}")
    return body


def acquire_lock(path: str) -> int:
    """flock the directory's LOCK file (raises StoreLocked when another process holds it); returns its fd."""
    lock_path = os.path.join(path, LOCK_FILE)
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        holder = ""
        with contextlib.suppress(OSError, ValueError):
            holder = os.pread(fd, 64, 0).decode().strip()
        os.close(fd)
        if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
            who = f"process {holder}" if holder else "another process"
            raise StoreLocked(
                f"data directory {path} is in use by {who} (lock file {lock_path}); "
                "only one process may open the embedded store: stop the other one or use another directory"
            ) from None
        raise
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    return fd


def has_store(path: str) -> bool:
    """Whether ``path`` looks like a data directory (a checkpoint, or journal segments)."""
    jdir = os.path.join(path, JOURNAL_DIR)
    return os.path.exists(os.path.join(path, CHECKPOINT_FILE)) or (os.path.isdir(jdir) and bool(os.listdir(jdir)))
