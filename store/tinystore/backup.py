"""Export, import and online backup of the embedded store (``store.transfer`` uses them).

Export is a snapshot of the in-memory state taken under the state lock (a unit is applied whole
or not at all). Import writes the records and the audit chain's lines verbatim into an empty store
as journal records, then checkpoints. The online backup copies a running store's files without its
lock: shard files are immutable once written, ``checkpoint.json`` is replaced atomically, audit
segments and the newest journal segment only grow; a checkpoint during the copy is detected (the
checkpoint file or the set of journal segments changed) and the copy is retried.
"""

from __future__ import annotations

import json
import os
import shutil
from typing import TYPE_CHECKING

from .. import journal as jr
from ..audit import canonical
from ..base import StoreError
from .layout import AUDIT_DIR, CHECKPOINT_FILE, JOURNAL_DIR, SHARD_DIR, read_checkpoint
from .records import Rec, jd, now

if TYPE_CHECKING:
    from ..transfer import Snapshot

IMPORT_CHUNK = 2000


def _text(data: str) -> str:
    """The embedded store's JSON text of a document (ASCII, compact), whatever store wrote it."""
    return json.dumps(json.loads(data), separators=(",", ":"), allow_nan=False)


class BackupMixin:
    def export(self) -> Snapshot:
        from ..transfer import Snapshot

        self._usable()
        with self._state_lock:
            records = [(c, d, r.version, r.seq, r.deleted, r.data) for c, docs in self._colls.items()
                       for d, r in docs.items()]
            lines = list(self._audit_lines)
            last_seq = self._last_seq
        audit = [(json.loads(line)["subject"], line) for line in lines]
        return Snapshot(self.store_id, last_seq, records, audit)

    def import_records(self, snap: Snapshot) -> None:
        """Write ``snap`` into this empty store (same store id), verbatim, durably."""
        with self._write_lock:
            if self._txn or self._audit_lines or self.store_id != snap.store_id:
                raise StoreError("import_records needs a new, empty store with the source's store id")
            # in seq order, so the feed index is built in order across the import's units
            ops = [(c, d, Rec(v, s, dl, None if data is None else _text(data)))
                   for c, d, v, s, dl, data in sorted(snap.records, key=lambda r: r[3])]
            lines = list(snap.audit)
            i = j = 0
            while i < len(ops) or j < len(lines) or self._txn == 0:
                chunk, audit_chunk = ops[i:i + IMPORT_CHUNK], lines[j:j + IMPORT_CHUNK]
                i, j = i + len(chunk), j + len(audit_chunk)
                self._import_unit(chunk, audit_chunk, snap.last_seq)
        self.checkpoint()

    def _import_unit(self, ops: list, lines: list[tuple[str | None, str]], last_seq: int) -> None:
        head, audit_lines = self._audit_head, []
        for subject, line in lines:
            d = json.loads(line)
            if d["prev_hash"] != head or d["n"] != len(self._audit_lines) + len(audit_lines) + 1:
                raise StoreError(f"audit entry {d['n']} does not continue the chain being imported")
            head = d["hash"]
            audit_lines.append((canonical(d), subject, head))
        ops_text = [
            f'["tomb",{jd(c)},{jd(d)},{r.version},{r.seq},null]' if r.deleted
            else f'["put",{jd(c)},{jd(d)},{r.version},{r.seq},{r.data}]'
            for c, d, r in ops
        ]
        txn = self._txn + 1
        payload = (f'{{"t":{txn},"at":"{now()}","last_seq":{last_seq},"ops":[{",".join(ops_text)}],'
                   f'"audit":[{",".join(a[0] for a in audit_lines)}]}}')
        data = jr.frame(payload.encode("ascii"))
        self._journal_append(data)
        self._apply(txn, last_seq, ops, audit_lines, len(data))


def _copy_prefix(src: str, dst: str, size: int | None = None) -> int:
    """Copy the first ``size`` bytes (all when None) of ``src``; returns the bytes copied."""
    with open(src, "rb") as f:
        raw = f.read() if size is None else f.read(size)
    with open(dst, "wb") as out:
        out.write(raw)
        out.flush()
        os.fsync(out.fileno())
    return len(raw)


def journal_files_snapshot(src: str, dst: str) -> bool:
    """One attempt at copying the store in ``src`` to ``dst``; False when a checkpoint interfered."""
    ck_path = os.path.join(src, CHECKPOINT_FILE)
    try:
        with open(ck_path, "rb") as f:
            ck_raw = f.read()
        ck = read_checkpoint(ck_path)
    except FileNotFoundError:
        raise StoreError(f"there is no store in {src}") from None
    jdir = os.path.join(src, JOURNAL_DIR)
    segments = [n for n in jr.list_segments(jdir) if n >= ck["journal_start"]]
    for d in (dst, os.path.join(dst, JOURNAL_DIR), os.path.join(dst, SHARD_DIR), os.path.join(dst, AUDIT_DIR)):
        os.makedirs(d, mode=0o700, exist_ok=True)
    try:
        for info in ck["shards"]:
            if info["file"]:
                shutil.copyfile(os.path.join(src, SHARD_DIR, info["file"]), os.path.join(dst, SHARD_DIR, info["file"]))
        for seg in ck["audit"]["segments"]:
            name = seg["file"]
            _copy_prefix(os.path.join(src, AUDIT_DIR, name), os.path.join(dst, AUDIT_DIR, name), seg["bytes"])
        # older segments are closed; the newest is copied last, up to where it is now (a torn last
        # record is what a crash leaves: the copy's recovery drops it, it was not acknowledged yet)
        for n in segments:
            _copy_prefix(os.path.join(jdir, jr.segment_name(n)), os.path.join(dst, JOURNAL_DIR, jr.segment_name(n)))
    except FileNotFoundError:
        return False  # a checkpoint removed a file it superseded: try again
    with open(ck_path, "rb") as f:
        if f.read() != ck_raw:
            return False
    if [n for n in jr.list_segments(jdir) if n >= ck["journal_start"]] != segments:
        return False  # a checkpoint rotated the journal while the older segment was copied
    with open(os.path.join(dst, CHECKPOINT_FILE), "wb") as out:
        out.write(ck_raw)
        out.flush()
        os.fsync(out.fileno())
    return True
