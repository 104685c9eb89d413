"""The login throttle's counters in the PostgreSQL store's database (table ``login_failures``,
schema migration 2), so that every server process on every host shares them (ADR 0025)."""

from __future__ import annotations

from server.auth.throttle import Failures

_RECORD = """
INSERT INTO login_failures (key, count, first_at, last_at) VALUES (%(k)s, 1, %(now)s, %(now)s)
ON CONFLICT (key) DO UPDATE SET
  count = CASE WHEN (CASE WHEN %(sliding)s THEN login_failures.last_at ELSE login_failures.first_at END)
               < %(now)s - %(window)s THEN 1 ELSE login_failures.count + 1 END,
  first_at = CASE WHEN (CASE WHEN %(sliding)s THEN login_failures.last_at ELSE login_failures.first_at END)
               < %(now)s - %(window)s THEN %(now)s ELSE login_failures.first_at END,
  last_at = %(now)s
RETURNING count, first_at, last_at
"""


class PostgresThrottleStore:
    """``ThrottleStore`` on the store's connection pool: one atomic upsert per failure."""

    def __init__(self, store):
        self._store = store

    def record(self, key: str, now: float, window: float, sliding: bool) -> Failures:
        with self._store._conn() as conn:
            row = conn.execute(_RECORD, {"k": key, "now": now, "window": window, "sliding": sliding}).fetchone()
            if row[0] == 1 and hash(key) % 64 == 0:  # now and then, drop long-quiet rows
                conn.execute("DELETE FROM login_failures WHERE last_at < %s", (now - window * 4,))
        return Failures(*row)

    def get(self, key: str) -> Failures | None:
        with self._store._conn() as conn:
            row = conn.execute("SELECT count, first_at, last_at FROM login_failures WHERE key = %s",
                               (key,)).fetchone()
        return Failures(*row) if row else None

    def clear(self, key: str) -> None:
        with self._store._conn() as conn:
            conn.execute("DELETE FROM login_failures WHERE key = %s", (key,))
