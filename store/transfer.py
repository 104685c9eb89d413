"""Moving a whole store: ``copy_store`` (either store to either store, audit chain included and
verified) and ``backup_data_dir`` (an online, consistent backup of a running embedded store).

A copy reads a consistent snapshot of the source (``Store.export()``), writes it into an **empty**
target that takes the source's store id (the audit chain's genesis is bound to it) with
``Store.import_records()``, then compares every record and the chain head, and runs the target's
``verify()``. Nothing is changed on the source.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
from dataclasses import dataclass, field
from typing import Any

from .base import StoreError
from .tinystore import journal_files_snapshot


@dataclass
class Snapshot:
    """Everything a store holds: every document record (tombstones and unpublished ones included),
    the audit chain's canonical lines, the feed position and the store id."""

    store_id: str
    last_seq: int
    records: list[tuple[str, str, int, int, bool, str | None]]  # collection, id, version, seq, deleted, JSON
    audit: list[tuple[str | None, str]]  # (subject, canonical line), in chain order
    extra: dict[str, Any] = field(default_factory=dict)

    def digest(self) -> str:
        """A fingerprint of the content (records in key order, then the chain)."""
        h = hashlib.sha256(f"{self.store_id}\n{self.last_seq}\n".encode())
        for rec in sorted(self.records, key=lambda r: (r[0], r[1])):
            c, d, version, seq, deleted, data = rec
            h.update(f"{c}\0{d}\0{version}\0{seq}\0{int(deleted)}\0".encode("utf-8", "surrogatepass"))
            h.update(_normal(data).encode("utf-8", "surrogatepass") + b"\n")
        for _, line in self.audit:
            h.update(line.encode() + b"\n")
        return h.hexdigest()


def _normal(data: str | None) -> str:
    import json

    return "null" if data is None else json.dumps(json.loads(data), sort_keys=True, separators=(",", ":"))


@dataclass
class CopyReport:
    documents: int
    audit_entries: int
    last_seq: int
    digest: str
    problems: list[str]


def open_target(target: str | os.PathLike[str], store_id: str):
    """Open an empty target store taking ``store_id``; refuses one that already holds anything."""
    from . import open_store

    if isinstance(target, str) and target.startswith(("postgresql://", "postgres://")):
        st = open_store(target, store_id=store_id)
    else:
        path = os.fspath(target)
        if os.path.exists(path) and os.listdir(path):
            raise StoreError(f"{path} is not empty: a copy goes into a new, empty directory")
        st = open_store(path, store_id=store_id, background_checkpoint=False)
    if st.store_id != store_id or st.last_seq() != 0 or next(iter(st.audit_log()), None) is not None:
        st.close()
        raise StoreError("the target store is not empty: a copy goes into a new, empty store")
    return st


def copy_store(source, target: str | os.PathLike[str]) -> CopyReport:
    """Copy the open store ``source`` into ``target`` (a new data directory or an empty PostgreSQL
    database); returns what was copied and the problems the check after it found (empty: identical)."""
    snap = source.export()
    dst = open_target(target, snap.store_id)
    try:
        dst.import_records(snap)
        problems = dst.verify()
        back = dst.export()
        if back.digest() != snap.digest():
            problems.append("the copy differs from the source (documents, seqs or audit entries)")
        if list(dst.audit_log())[-1:] != list(source.audit_log())[-1:]:
            problems.append("the copy's audit chain head differs from the source's")
    finally:
        dst.close()
    return CopyReport(sum(1 for r in snap.records if not r[4]), len(snap.audit), snap.last_seq, snap.digest(),
                      problems)


def backup_data_dir(data_dir: str | os.PathLike[str], dest: str | os.PathLike[str], attempts: int = 20) -> str:
    """Copy a (possibly running) embedded store's files into the new directory ``dest``: a consistent
    snapshot, opened by ``open_store(dest)`` like a store after a crash. Returns ``dest``."""
    src, dst = os.path.abspath(os.fspath(data_dir)), os.path.abspath(os.fspath(dest))
    if os.path.exists(dst) and os.listdir(dst):
        raise StoreError(f"{dst} is not empty: a backup goes into a new, empty directory")
    for _ in range(attempts):
        with contextlib.suppress(FileNotFoundError):
            shutil.rmtree(dst)
        if journal_files_snapshot(src, dst):
            return dst
    raise StoreError(f"{src} kept checkpointing during {attempts} backup attempts; try again")
