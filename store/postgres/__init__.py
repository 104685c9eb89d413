"""The PostgreSQL store (ADR 0024): ``PostgresStore`` behind the same interface as the embedded store.

============ ==================================================================
``store``    ``PostgresStore``: the pool, reads, ``transaction()``, ``verify()``
``unit``     ``PgUnitOfWork``: pending writes, savepoints, the commit (feed lock + CAS)
``schema``   numbered migrations, applied at open under an advisory lock
``verify``   the audit chain recomputed, the feed's invariants
============ ==================================================================
"""

from .store import PostgresStore, is_postgres_url, open_postgres, redact

__all__ = ["PostgresStore", "is_postgres_url", "open_postgres", "redact"]
