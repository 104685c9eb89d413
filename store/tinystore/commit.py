"""Committing a unit of work: one journal record appended and fdatasynced, then applied to memory.

A mixin of ``TinyStore``: it works on the store's state (see ``store.py`` for the attributes).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from .. import journal as jr
from ..audit import make_line
from ..base import CommitResult, Document, StoreError
from ..fastjson import loads
from .layout import key_hash
from .records import EMPTY, Key, Rec, jd, now, untrack_rec

if TYPE_CHECKING:
    from .unit import TinyUnitOfWork

_fsync_data = getattr(os, "fdatasync", os.fsync)
Op = tuple[str, str, Rec | None]
AuditLine = tuple[str, str | None, str]  # (canonical line, subject, hash)


class CommitMixin:
    def _commit(self, uow: TinyUnitOfWork) -> None:
        ops_text: list[str] = []
        ops: list[Op] = []
        for (coll, did), rec in uow._pending.items():
            if rec is None:
                if self._colls.get(coll, EMPTY).get(did) is None:
                    continue  # created and removed inside this unit
                ops_text.append(f'["del",{jd(coll)},{jd(did)},0,0,null]')
            elif rec.deleted:
                ops_text.append(f'["tomb",{jd(coll)},{jd(did)},{rec.version},{rec.seq},null]')
            else:
                ops_text.append(f'["put",{jd(coll)},{jd(did)},{rec.version},{rec.seq},{rec.data}]')
            ops.append((coll, did, rec))
        if not ops and not uow._audit:
            uow.result = CommitResult(self._last_seq, [])
            return
        txn = self._txn + 1
        last_seq = max(self._last_seq, uow._next_seq)
        at = now()
        audit_lines: list[AuditLine] = []
        prev, n = self._audit_head, len(self._audit_lines)
        for subject, entry in uow._audit:
            n += 1
            line, prev = make_line(prev, n, at, subject, entry)
            audit_lines.append((line, subject, prev))
        payload = (f'{{"t":{txn},"at":"{at}","last_seq":{last_seq},"ops":[{",".join(ops_text)}],'
                   f'"audit":[{",".join(a[0] for a in audit_lines)}]}}')
        data = jr.frame(payload.encode("ascii"))
        self._journal_append(data)
        self._hook("after_fsync_before_apply")
        try:
            self._apply(txn, last_seq, ops, audit_lines, len(data))
        except BaseException as exc:  # durable but not in memory: memory is now wrong
            self._failed = f"applying unit {txn} failed: {exc!r}"
            raise
        uow.result = _Result(last_seq, ops)

    def _journal_append(self, data: bytes) -> None:
        fd, start = self._seg_fd, self._seg_size
        self._hook("before_journal_write")
        try:
            view = memoryview(data)
            if self._crash is not None and self._crash.name == "mid_journal_write":
                first, view = view[: len(data) // 2], view[len(data) // 2 :]
                while first:
                    first = first[os.write(fd, first):]
                self._hook("mid_journal_write")  # not the N-th time: go on with the second half only
            while view:
                view = view[os.write(fd, view):]
            self._hook("after_journal_write_before_fsync")
            _fsync_data(fd)
        except OSError as exc:
            # Not acknowledged. Remove whatever reached the file so the next record does not land
            # after garbage; if even that fails, refuse further writes until reopened.
            try:
                os.ftruncate(fd, start)
                os.fsync(fd)
            except OSError as exc2:
                self._failed = f"journal write failed ({exc}) and could not be undone ({exc2})"
            raise StoreError(f"journal write failed, nothing was committed: {exc}") from exc
        self._seg_size = start + len(data)

    def _apply(self, txn: int, last_seq: int, ops: list[Op], audit_lines: list[AuditLine], nbytes: int,
               *, feed: bool = True) -> None:
        with self._state_lock:
            new_feed: list[tuple[int, Key]] = []
            for coll, did, rec in ops:
                c = self._colls.get(coll)
                if c is None:
                    c = self._colls[coll] = {}
                key = (coll, did)
                if rec is None:
                    old = c.pop(did, None)
                else:
                    old = c.get(did)
                    c[did] = rec
                    untrack_rec(rec)  # it lives as long as the document: no full collection should walk it
                if old is not None:
                    if not old.deleted:
                        self._live_docs -= 1
                    if old.seq:
                        self._feed_stale += 1
                    if old.data is not None:
                        self._doc_bytes -= len(old.data)
                if rec is not None:
                    if not rec.deleted:
                        self._live_docs += 1
                    if rec.seq:
                        new_feed.append((rec.seq, key))
                    if rec.data is not None:
                        self._doc_bytes += len(rec.data)
                shard = self._shard_for(key_hash(coll, did))
                if rec is None:
                    self._members[shard].discard(key)
                else:
                    self._members[shard].add(key)
                self._dirty.add(shard)
            if feed and new_feed:
                new_feed.sort()
                self._feed_seq.extend(s for s, _ in new_feed)
                self._feed_key.extend(k for _, k in new_feed)
            for line, subject, h in audit_lines:
                self._audit_lines.append(line)
                if subject is not None:
                    self._audit_subject.setdefault(subject, []).append(len(self._audit_lines) - 1)
                self._audit_head = h
            self._last_seq = last_seq
            self._txn = txn
            self._bytes_since += nbytes
            self._records_since += 1
            if feed and self._feed_stale > 4096 and self._feed_stale * 2 > len(self._feed_seq):
                self._rebuild_feed()

    def _rebuild_feed(self) -> None:
        entries = sorted(
            (rec.seq, (coll, did)) for coll, c in self._colls.items() for did, rec in c.items() if rec.seq
        )
        self._feed_seq = [s for s, _ in entries]
        self._feed_key = [k for _, k in entries]
        self._feed_stale = 0

    def _shard_for(self, h: int) -> tuple[int, int]:
        members = self._members
        for depth in range(self._min_depth, self._max_depth + 1):
            key = (depth, h & ((1 << depth) - 1))
            if key in members:
                return key
        raise AssertionError("shard keys do not cover the hash space")


class _Result(CommitResult):
    """The commit's result; its documents are parsed only when someone asks (the write path never does)."""

    def __init__(self, last_seq: int, ops: list[Op]):  # noqa: D107 - no dataclass __init__: documents is lazy
        self.last_seq = last_seq
        self._ops = ops
        self._docs: list[Document] | None = None

    @property
    def documents(self) -> list[Document]:  # type: ignore[override]
        if self._docs is None:
            self._docs = [Document(c, d, r.version, {} if r.deleted else loads(r.data), r.seq, r.deleted)  # type: ignore[arg-type]
                          for c, d, r in self._ops if r is not None]
        return self._docs

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, CommitResult):
            return NotImplemented
        return (self.last_seq, self.documents) == (other.last_seq, other.documents)

    __hash__ = None  # type: ignore[assignment]
