"""The embedded store: a write-ahead journal in front of TinyDB shard files (docs/store.md).

Commit = append one record to the journal + fdatasync, then apply it to the in-memory index.
A checkpoint (background thread) writes the shards changed since the last one as new TinyDB
files, appends new audit entries, atomically replaces checkpoint.json, then deletes journal
segments and shard files the new checkpoint no longer needs. Opening loads the checkpointed
files and replays the journal after the checkpoint.

One module per concern:

============== ==============================================================
``store``      ``TinyStore``: state, reads, ``transaction()``, ``open_store``
``unit``       ``TinyUnitOfWork``: pending writes, compare-and-set, savepoints
``commit``     journal record, append + fdatasync, apply to memory
``checkpoint`` shard and audit files, ``checkpoint.json`` switch, clean-up
``recovery``   open: load the checkpoint, replay the journal, drop crash leftovers
``verify``     ``verify()`` and ``check_data_dir`` (``caseflow store check``)
``chain``      the one reader of the audit chain on disk (also ``store.auditcheck``)
``layout``     file names, checkpoint format, the directory lock, shard placement
``records``    the in-memory document record and shared helpers
``crash``      ``CASEFLOW_CRASH_AT`` hooks for the kill tests
``backup``     export / import (``store copy``) and the online backup of the files
============== ==============================================================
"""

from .backup import journal_files_snapshot
from .crash import CRASH_HOOKS
from .store import TinyStore, open_store
from .unit import TinyUnitOfWork
from .verify import check_data_dir

__all__ = ["CRASH_HOOKS", "TinyStore", "TinyUnitOfWork", "check_data_dir", "journal_files_snapshot", "open_store"]
