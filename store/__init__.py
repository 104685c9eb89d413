"""caseflow storage: the interface and the embedded (TinyDB) implementation."""

from store.base import (
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
from store.tinystore import check_data_dir, open_store

__all__ = [
    "AuditEntry", "CommitResult", "Document", "DuplicateKey", "Store", "StoreCorrupt", "StoreError",
    "StoreLocked", "UnitOfWork", "VersionConflict", "check_data_dir", "open_store",
]
