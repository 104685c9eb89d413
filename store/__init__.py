"""caseflow's storage layer: the interface (``store.base``), the embedded TinyDB store
(``store.tinystore``) and the PostgreSQL store (``store.postgres``).

``open_store(data_dir_or_url)`` opens (or creates) either; ``check_data_dir(path)`` is the
integrity check behind ``caseflow store check``. Design: docs/store.md.
"""

from .base import (
    JSON,
    AuditEntry,
    CommitResult,
    Document,
    DuplicateKey,
    Store,
    StoreCorrupt,
    StoreError,
    StoreLocked,
    UnitOfWork,
    VersionConflict,
)
from .tinystore import CRASH_HOOKS, TinyStore, TinyUnitOfWork, check_data_dir
from .tinystore import open_store as open_embedded


def open_store(target, **options) -> Store:
    """Open (creating if needed) a store: a ``postgresql://`` URL opens ``PostgresStore``, anything
    else is a data directory for the embedded store. Options go to the store's constructor."""
    import os

    if isinstance(target, str) and target.startswith(("postgresql://", "postgres://")):
        from .postgres import PostgresStore  # psycopg is imported only when PostgreSQL is used

        return PostgresStore(target, **options)
    return open_embedded(os.fspath(target), **options)

__all__ = [
    "CRASH_HOOKS",
    "JSON",
    "AuditEntry",
    "CommitResult",
    "Document",
    "DuplicateKey",
    "Store",
    "StoreCorrupt",
    "StoreError",
    "StoreLocked",
    "TinyStore",
    "TinyUnitOfWork",
    "UnitOfWork",
    "VersionConflict",
    "check_data_dir",
    "open_store",
]
