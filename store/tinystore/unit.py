"""The embedded store's unit of work: pending writes, compare-and-set, savepoints."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from ..base import JSON, CommitResult, Document, DuplicateKey, StoreError, UnitOfWork, VersionConflict, Written
from ..fastjson import dumps_data, loads
from .records import EMPTY, MISSING, Key, Rec, check_name, dump_data

if TYPE_CHECKING:
    from .store import TinyStore


class TinyUnitOfWork(UnitOfWork):
    def __init__(self, store: TinyStore):
        self._store = store
        self._pending: dict[Key, Rec | None] = {}  # None: hard delete
        self._undo: list[tuple[Key, Any]] = []
        self._audit: list[tuple[str | None, JSON]] = []
        self._base_seq = store._last_seq
        self._next_seq = store._last_seq  # last seq allocated by this unit
        self._open = True
        self.result: CommitResult | None = None

    # -- reads -----------------------------------------------------------------
    def _current(self, key: Key) -> Rec | None:
        if key in self._pending:
            return self._pending[key]
        return self._store._colls.get(key[0], EMPTY).get(key[1])

    def get(self, collection: str, doc_id: str) -> Document | None:
        self._check()
        rec = self._current((collection, doc_id))
        if rec is None or rec.deleted:
            return None
        return Document(collection, doc_id, rec.version, loads(rec.data), rec.seq)  # type: ignore[arg-type]

    # -- writes ----------------------------------------------------------------
    def _check(self) -> None:
        if not self._open:
            raise StoreError("this unit of work has ended; start a new store.transaction()")

    def _seq_for(self, key: Key, publish: bool) -> int:
        if not publish:
            return 0
        prev = self._pending.get(key)
        if prev is not None and prev.seq > self._base_seq:
            return prev.seq  # written earlier in this unit: keep its position, no hole in the feed
        self._next_seq += 1
        return self._next_seq

    def _set(self, key: Key, rec: Rec | None) -> None:
        self._undo.append((key, self._pending.get(key, MISSING)))
        self._pending[key] = rec

    def insert(self, collection: str, doc_id: str, data: Mapping[str, Any], *, publish: bool = False) -> Document:
        self._check()
        check_name("collection", collection)
        check_name("document id", doc_id)
        text = dump_data(data)
        key = (collection, doc_id)
        if self._current(key) is not None:
            raise DuplicateKey(collection, doc_id)
        rec = Rec(1, self._seq_for(key, publish), False, text)
        self._set(key, rec)
        return Written(collection, doc_id, 1, text, rec.seq, loads)

    def _expect(self, key: Key, expected_version: int) -> Rec:
        """The live record at ``key``, if it is at ``expected_version`` (compare-and-set)."""
        cur = self._current(key)
        if cur is None or cur.deleted:
            raise VersionConflict(*key, expected_version, 0)
        if cur.version != expected_version:
            raise VersionConflict(*key, expected_version, cur.version)
        return cur

    def update(self, collection: str, doc_id: str, data: Mapping[str, Any], *, expected_version: int,
               publish: bool = False) -> Document:
        self._check()
        text = dump_data(data)
        key = (collection, doc_id)
        cur = self._expect(key, expected_version)
        rec = Rec(cur.version + 1, self._seq_for(key, publish), False, text)
        self._set(key, rec)
        return Written(collection, doc_id, rec.version, text, rec.seq, loads)

    def delete(self, collection: str, doc_id: str, *, expected_version: int, publish: bool = False) -> None:
        self._check()
        key = (collection, doc_id)
        cur = self._expect(key, expected_version)
        if publish:
            self._set(key, Rec(cur.version + 1, self._seq_for(key, True), True, None))
        else:
            self._set(key, None)

    def audit(self, entry: Mapping[str, Any], *, subject: str | None = None) -> None:
        self._check()
        if not isinstance(entry, Mapping):
            raise TypeError(f"audit entry must be a mapping, not {type(entry).__name__}")
        if subject is not None and not isinstance(subject, str):
            raise TypeError("audit subject must be a string or None")
        # a private copy, as JSON reads it back (the same value and refusals as via ``canonical``)
        self._audit.append((subject, loads(dumps_data(dict(entry), sort_keys=True))))

    @contextlib.contextmanager
    def savepoint(self) -> Iterator[None]:
        self._check()
        mark = (len(self._undo), self._next_seq, len(self._audit))
        try:
            yield
        except BaseException:
            self._rollback_to(mark)
            raise

    def _rollback_to(self, mark: tuple[int, int, int]) -> None:
        n_undo, next_seq, n_audit = mark
        while len(self._undo) > n_undo:
            key, prev = self._undo.pop()
            if prev is MISSING:
                del self._pending[key]
            else:
                self._pending[key] = prev
        self._next_seq = next_seq
        del self._audit[n_audit:]
