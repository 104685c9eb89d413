"""Checkpoints: write the shards and audit entries changed since the last one, switch
``checkpoint.json`` atomically, then delete what it supersedes (docs/store.md, "Checkpoint").

A mixin of ``TinyStore``.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import threading
import time
from collections.abc import Iterator
from typing import NamedTuple

from .. import journal as jr
from ..base import StoreError
from ..files import AtomicJSONStorage, atomic_write, fsync_dir
from .layout import (
    AUDIT_SEGMENT_ENTRIES,
    CHECKPOINT_FILE,
    FORMAT,
    encode_checkpoint,
    key_hash,
    shard_file,
    shard_text,
)
from .records import Key, Rec, now

log = logging.getLogger("caseflow.store")


class Snapshot(NamedTuple):
    checkpoint_no: int
    txn: int
    last_seq: int
    journal_start: int
    audit_n: int
    audit_head: str
    audit_new: list[str]
    members: dict[tuple[int, int], list[Key]]  # the dirty shards' member keys, as of the snapshot
    colls: dict[str, dict[str, Rec]]  # the collections' records, as of the snapshot
    covered_bytes: int
    covered_records: int


class CheckpointMixin:
    def _checkpoint_threshold(self) -> int:
        if self._checkpoint_bytes is not None:
            return self._checkpoint_bytes
        return max(8 << 20, self._doc_bytes // 4)

    def _checkpoint_due(self) -> bool:
        return (self._bytes_since >= self._checkpoint_threshold()
                or self._records_since >= self._checkpoint_records)

    def _request_checkpoint(self) -> None:
        if self._background:
            self._wake.set()
        else:
            self.checkpoint()

    def _worker_loop(self) -> None:
        while True:
            self._wake.wait()
            self._wake.clear()
            if self._closed:
                return
            if not self._checkpoint_due():
                continue
            try:
                self.checkpoint()
            except Exception as exc:  # keep serving; the journal still holds everything
                self._ckpt_error = repr(exc)
                log.exception("checkpoint failed; will retry")
                time.sleep(1.0)
                self._wake.set()

    def checkpoint(self) -> bool:
        """Write changed shards and audit entries, then move the replay start forward.
        Returns False when there was nothing to do. Safe to call from any thread outside a unit."""
        if self._writer == threading.get_ident():
            raise StoreError("checkpoint() inside a transaction of the same thread")
        with self._ckpt_lock:
            if self._closed or self._failed:
                return False
            started = time.perf_counter()
            snap = self._snapshot()
            if snap is None:
                return False
            parts: list[tuple[int, int]] = []  # the halves of the shards it split
            try:
                self._write_checkpoint(snap, parts)
            except BaseException:  # the next checkpoint must cover all of it again
                with self._write_lock:
                    self._dirty.update(s for s in [*snap.members, *parts] if s in self._members)
                    self._bytes_since += snap.covered_bytes
                    self._records_since += snap.covered_records
                raise
            self._n_checkpoints += 1
            self._ckpt_error = None
            self._last_ckpt_ms = (time.perf_counter() - started) * 1000
            return True

    def _snapshot(self) -> Snapshot | None:
        """What the checkpoint writes, as of one committed unit. Under the write lock only what is
        cheap (C-speed copies of the dirty shards' member lists and of the collections' dicts, and
        the switch to a journal segment opened beforehand); the per-document work (placing, any
        shard split, the shard texts) happens shard by shard in ``_write_checkpoint``, with writers
        going on (ADR 0028, ADR 0036)."""
        if not self._dirty and self._records_since == 0 and len(self._audit_lines) == self._audit_ckpt_n:
            return None  # a hint read without the lock; checked again under it
        number, fd = self._open_next_segment()
        with self._write_lock:
            if not self._dirty and self._records_since == 0 and len(self._audit_lines) == self._audit_ckpt_n:
                os.close(fd)
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(os.path.join(self._jdir, jr.segment_name(number)))
                return None
            members = {shard: list(self._members[shard]) for shard in self._dirty if shard in self._members}
            colls = {name: dict(c) for name, c in self._colls.items()}
            os.close(self._seg_fd)
            self._seg_fd, self._seg_no, self._seg_size = fd, number, 0
            snap = Snapshot(
                checkpoint_no=self._ckpt_no + 1, txn=self._txn, last_seq=self._last_seq,
                journal_start=self._seg_no, audit_n=len(self._audit_lines), audit_head=self._audit_head,
                audit_new=self._audit_lines[self._audit_ckpt_n:], members=members, colls=colls,
                covered_bytes=self._bytes_since, covered_records=self._records_since,
            )
            self._dirty = set()
            self._bytes_since = 0
            self._records_since = 0
        return snap

    def _place(self, shard: tuple[int, int], keys: list[Key], colls: dict[str, dict[str, Rec]],
               parts: list[tuple[int, int]]) -> Iterator[tuple[tuple[int, int], list[Key]]]:
        """The shard's keys, or, if it has grown too big, its halves' (split in the live state),
        one (shard, keys) at a time. Every half a split creates goes into ``parts`` at once: if the
        checkpoint fails before writing it, the next one must (it has no file yet)."""
        too_big = len(keys) > self._shard_max_docs
        if not too_big and len(keys) > 1:
            nbytes = 64 * len(keys)
            for coll, did in keys:
                data = colls[coll][did].data
                if data is not None:
                    nbytes += len(data)
            too_big = nbytes > self._shard_max_bytes
        if too_big and len(keys) > 1 and shard[0] < 60:
            depth = shard[0]
            low, high = self._split(shard)
            parts += (low, high)
            k_low: list[Key] = []
            k_high: list[Key] = []
            for key in keys:
                (k_high if (key_hash(*key) >> depth) & 1 else k_low).append(key)
            yield from self._place(low, k_low, colls, parts)
            yield from self._place(high, k_high, colls, parts)
        else:
            yield shard, keys

    def _split(self, shard: tuple[int, int]) -> tuple[tuple[int, int], tuple[int, int]]:
        """Replace ``shard`` by its two halves in the live state (writers may be committing: the
        state lock keeps each unit's placement consistent); both halves are written by this
        checkpoint from its snapshot, and marked dirty for the next one only if a unit committed
        into the shard since the snapshot."""
        depth, bits = shard
        low, high = (depth + 1, bits), (depth + 1, bits | (1 << depth))
        with self._state_lock:
            m_low: set[Key] = set()
            m_high: set[Key] = set()
            for key in self._members[shard]:
                (m_high if (key_hash(*key) >> depth) & 1 else m_low).add(key)
            del self._members[shard]
            self._members[low] = m_low
            self._members[high] = m_high
            self._min_depth = min(k[0] for k in self._members)
            self._max_depth = max(self._max_depth, depth + 1)
            if shard in self._dirty:  # a unit committed into it after the snapshot: rewrite both next time
                self._dirty.discard(shard)
                self._dirty.update((low, high))
        return low, high

    def _open_next_segment(self) -> tuple[int, int]:
        """Create the next journal segment (durably) before the write lock is taken. Only the
        checkpoint (under its lock) moves ``_seg_no``; a segment created but left unused is empty
        and harmless (replay reads it as nothing, and the next appends go into it)."""
        number = self._seg_no + 1
        fd = os.open(os.path.join(self._jdir, jr.segment_name(number)),
                     os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND | os.O_CLOEXEC, 0o600)
        try:
            fsync_dir(self._jdir)
        except BaseException:
            os.close(fd)
            raise
        return number, fd

    def _write_checkpoint(self, snap: Snapshot, parts: list[tuple[int, int]]) -> None:
        """Write the snapshot's shards one at a time: each shard's texts are built just before its
        file is written and dropped after it, so the checkpoint holds no per-document objects for
        long (a full garbage collection walks every one of them: a pause for every thread), and its
        CPU comes in small pieces between the file system calls that release the GIL (ADR 0036)."""
        written: dict[tuple[int, int], dict] = {}
        for shard, keys in snap.members.items():
            for part, part_keys in self._place(shard, keys, snap.colls, parts):
                name = shard_file(part, snap.checkpoint_no)
                text = shard_text(part_keys, snap.colls)
                AtomicJSONStorage(os.path.join(self._sdir, name), sync_dir=False).write_text(text)
                written[part] = {"key": list(part), "file": name, "docs": len(part_keys),
                                 "sha256": hashlib.sha256(text.encode()).hexdigest()}
        if written:
            fsync_dir(self._sdir)
        with self._state_lock:  # only this thread (under the checkpoint lock) adds or removes shards
            shard_keys = list(self._members)
        segments = [dict(s) for s in self._audit_segments]
        if snap.audit_new:
            self._append_audit(segments, snap.audit_new, snap.audit_n - len(snap.audit_new) + 1)
        self._hook("during_checkpoint")
        shards = [written.get(k) or self._shard_files[k] for k in shard_keys]
        body = {
            "format": FORMAT, "store_id": self.store_id, "checkpoint": snap.checkpoint_no, "txn": snap.txn,
            "last_seq": snap.last_seq, "journal_start": snap.journal_start, "written_at": now(),
            "audit": {"n": snap.audit_n, "head": snap.audit_head, "segments": segments},
            "shards": shards,
        }
        atomic_write(os.path.join(self.path, CHECKPOINT_FILE), encode_checkpoint(body))
        # The new checkpoint is durable: forget what it supersedes.
        old_files = {i["file"] for i in self._shard_files.values() if i.get("file")}
        self._shard_files = {tuple(i["key"]): i for i in shards}  # type: ignore[misc]
        self._audit_segments = segments
        self._audit_ckpt_n = snap.audit_n
        self._ckpt_no = snap.checkpoint_no
        self._ckpt_start = snap.journal_start
        keep = {i["file"] for i in shards if i.get("file")}
        for name in old_files - keep:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(os.path.join(self._sdir, name))
        for number in jr.list_segments(self._jdir):
            if number < snap.journal_start:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(os.path.join(self._jdir, jr.segment_name(number)))

    def _append_audit(self, segments: list[dict], lines: list[str], first_n: int) -> None:
        i = 0
        while i < len(lines):
            new = not segments or segments[-1]["count"] >= AUDIT_SEGMENT_ENTRIES
            if new:
                segments.append({"file": f"{first_n + i:012d}.jsonl", "first": first_n + i, "count": 0, "bytes": 0})
            seg = segments[-1]
            chunk = lines[i : i + AUDIT_SEGMENT_ENTRIES - seg["count"]]
            blob = ("\n".join(chunk) + "\n").encode("ascii")
            fd = os.open(os.path.join(self._adir, seg["file"]), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            try:
                os.ftruncate(fd, seg["bytes"])  # drop anything a failed checkpoint appended
                os.lseek(fd, seg["bytes"], os.SEEK_SET)
                view = memoryview(blob)
                while view:
                    view = view[os.write(fd, view):]
                os.fsync(fd)
            finally:
                os.close(fd)
            if new:
                fsync_dir(self._adir)
            seg["count"] += len(chunk)
            seg["bytes"] += len(blob)
            i += len(chunk)
