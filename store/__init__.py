"""caseflow's storage layer: the interface (``store.base``) and the embedded TinyDB store.

``open_store(data_dir)`` opens (or creates) the embedded store; ``check_data_dir(path)`` is the
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
from .tinystore import CRASH_HOOKS, TinyStore, TinyUnitOfWork, check_data_dir, open_store

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
