"""The storage interface every caseflow store implements.

Documents live in named collections under string ids. Every document has a
``version`` (1 on create, +1 per write) used for compare-and-set, and a
``seq``: the position of its latest write in the store-wide change sequence
(0 for collections that are not published to the sync feed). A delete of a
published document leaves a tombstone so the feed can tell clients.

All writes happen inside a unit of work (``Store.transaction()``): everything
written in it becomes durable together, or not at all, before the ``with``
block returns. Units of work are serialised (one writer at a time), so change
seqs are assigned and become visible strictly in order and a reader of the
feed can never skip a change that commits later with a lower seq.

Nothing here names TinyDB or PostgreSQL: adapters live in sibling modules.
"""

from __future__ import annotations

import abc
import functools
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any

JSON = dict[str, Any]


@dataclass(frozen=True)
class Document:
    collection: str
    id: str
    version: int
    data: JSON
    seq: int = 0
    deleted: bool = False


class Written(Document):
    """The document a unit of work's ``insert``/``update`` returns: its ``data`` is parsed from the
    text just stored only when read (the write path mostly reads ``version``; ADR 0035). It equals
    the :class:`Document` with the same fields, and each read gives that one parsed copy, as before."""

    def __init__(self, collection: str, id: str, version: int, text: str, seq: int,  # noqa: A002 - as Document
                 parse: Callable[[str], Any]) -> None:
        # the frozen dataclass's fields, set as its generated __init__ does, without its per-field calls
        self.__dict__.update(collection=collection, id=id, version=version, seq=seq, deleted=False,
                             _text=text, _parse=parse)

    @functools.cached_property
    def data(self) -> JSON:  # type: ignore[override]
        return self._parse(self._text)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Document):
            return NotImplemented
        return (self.collection, self.id, self.version, self.data, self.seq, self.deleted) == (
            other.collection, other.id, other.version, other.data, other.seq, other.deleted)

    __hash__ = Document.__hash__


@dataclass(frozen=True)
class AuditEntry:
    """One link of the append-only, hash-chained audit log."""

    n: int
    at: str  # RFC 3339 UTC, assigned by the store at commit
    subject: str | None  # e.g. a case id, for per-subject history
    entry: JSON  # who/role/device/what: ids only, never personal data
    prev_hash: str
    hash: str


@dataclass
class CommitResult:
    last_seq: int
    documents: list[Document] = field(default_factory=list)


class StoreError(Exception):
    """Base class of every storage failure."""


class VersionConflict(StoreError):
    def __init__(self, collection: str, doc_id: str, expected: int, actual: int):
        super().__init__(f"{collection}/{doc_id}: expected version {expected}, found {actual}")
        self.collection, self.doc_id, self.expected, self.actual = collection, doc_id, expected, actual


class DuplicateKey(StoreError):
    """``insert`` of an id that already exists (the uniqueness guard for idempotency keys)."""

    def __init__(self, collection: str, doc_id: str):
        super().__init__(f"{collection}/{doc_id} already exists")
        self.collection, self.doc_id = collection, doc_id


class StoreLocked(StoreError):
    """Another process holds the data directory."""


class StoreCorrupt(StoreError):
    """The store cannot be opened safely; the message says what and where."""


class UnitOfWork(abc.ABC):
    """Reads see this unit's own writes; nothing is visible to others until commit."""

    #: set when the unit has committed (after the ``with`` block of ``Store.transaction()``)
    result: CommitResult | None = None

    @abc.abstractmethod
    def get(self, collection: str, doc_id: str) -> Document | None: ...

    @abc.abstractmethod
    def insert(self, collection: str, doc_id: str, data: Mapping[str, Any], *, publish: bool = False) -> Document:
        """Create; raises DuplicateKey if the id exists (tombstones count as existing)."""

    @abc.abstractmethod
    def update(
        self, collection: str, doc_id: str, data: Mapping[str, Any], *, expected_version: int,
        publish: bool = False,
    ) -> Document:
        """Replace the data if the stored version equals ``expected_version`` (else VersionConflict)."""

    @abc.abstractmethod
    def delete(self, collection: str, doc_id: str, *, expected_version: int, publish: bool = False) -> None:
        """Remove; with ``publish`` a tombstone keeps the id in the change feed."""

    @abc.abstractmethod
    def audit(self, entry: Mapping[str, Any], *, subject: str | None = None) -> None:
        """Append an audit entry; it is chained and timestamped at commit."""

    def prefetch(self, keys: Iterable[tuple[str, str]]) -> None:
        """A hint: these (collection, id) documents are about to be read. A store whose reads cost a
        round trip (PostgreSQL) reads them all at once; the embedded store reads from memory and
        ignores it. Reads answer the same either way."""
        del keys

    @abc.abstractmethod
    def savepoint(self) -> AbstractContextManager[None]:
        """A nested scope: an exception inside it undoes only the writes (documents and audit
        entries) made inside it, then propagates; the enclosing unit of work may catch it, go on
        and commit. Savepoints nest."""


class Store(abc.ABC):
    #: a random id fixed when the store is created; sync cursors embed it
    store_id: str

    @abc.abstractmethod
    def get(self, collection: str, doc_id: str) -> Document | None:
        """Committed state by id (tombstones are returned as None). Cost must not grow with size."""

    @abc.abstractmethod
    def scan(self, collection: str, where: Callable[[JSON], bool] | None = None) -> Iterator[Document]:
        """Committed live documents of a collection (no tombstones), in no promised order, each at
        most once and at a committed version. A store may read a large collection in pages so the
        memory a scan needs does not grow with the collection (PostgreSQL does): then a document
        written while the scan runs may be seen before or after that write, and one created or
        deleted meanwhile may be missed or seen; every document live throughout is seen once."""

    @abc.abstractmethod
    def transaction(self) -> AbstractContextManager[UnitOfWork]:
        """A unit of work; durable when the ``with`` block exits without an exception.

        An exception inside the block discards every write of the unit and propagates.
        After a successful exit the unit's ``result`` holds the ``CommitResult``."""

    @abc.abstractmethod
    def changes_since(self, after_seq: int, limit: int) -> list[Document]:
        """Published documents (tombstones included) whose latest write has seq > after_seq,
        in seq order, each once, at its latest version."""

    def version_of(self, collection: str, doc_id: str) -> int | None:
        """The current version of a live document (None when absent), without reading its data:
        lets a reader keep a parsed copy and know cheaply whether it is still current."""
        doc = self.get(collection, doc_id)
        return None if doc is None else doc.version

    def scan_changes(self, after_seq: int, limit: int,
                     keep: Callable[[str, str, bool], bool]) -> tuple[list[Document], int]:
        """Like ``changes_since`` over at most ``limit`` feed entries, returning only those for which
        ``keep(collection, id, deleted)`` is true, and the seq scanned up to (``after_seq`` when
        nothing is left). Implementations call ``keep`` before reading a document's data, so a reader
        that sees little of the feed does not pay for what it skips."""
        docs = self.changes_since(after_seq, limit)
        scanned = docs[-1].seq if docs else after_seq
        return [d for d in docs if keep(d.collection, d.id, d.deleted)], scanned

    @abc.abstractmethod
    def last_seq(self) -> int: ...

    @abc.abstractmethod
    def audit_log(self, subject: str | None = None) -> Iterator[AuditEntry]:
        """The audit chain in order, all of it or one subject's entries."""

    @abc.abstractmethod
    def verify(self) -> list[str]:
        """Integrity check; returns problems found (empty when healthy)."""

    @abc.abstractmethod
    def close(self) -> None: ...

    def stats(self) -> dict[str, Any]:
        """Implementation-specific counters for operators and benchmarks (may be empty)."""
        return {}

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
