"""Failed-login throttling that slows guessing without locking the rightful user out (ADR 0015).

Two counters, kept in a :class:`ThrottleStore` so that they survive restarts and are shared by
every process serving the data directory:

- per **(username, address) pair**: the first ``free_failures`` failures cost nothing; each one
  after that doubles a delay (``base_delay``, 2x, 4x, ... up to ``max_delay``) before that pair
  may try again. Someone guessing a username from their address slows only themselves: the
  rightful user, from any other address, logs in at once. A success clears the pair.
- per **address**: more than ``address_max_failures`` failures within ``window`` seconds, for any
  usernames, refuse that address until the window ends (password spraying). The address is the
  client's, read through trusted proxies only (``server.edge``), so a proxy is never the address.

Keys are HMACs of the username and address under a secret of the data directory: the throttle
file holds no usernames or addresses.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol


@dataclass(frozen=True)
class Failures:
    count: int
    first_at: float
    last_at: float


class ThrottleStore(Protocol):
    """Where failure counters live. SQLite in the data directory today; a PostgreSQL one can
    implement the same three calls (an upsert returning the row, a read, a delete)."""

    def record(self, key: str, now: float, window: float, sliding: bool) -> Failures:
        """Count one failure for ``key`` and return the new counter, atomically across processes.
        The count restarts when the last failure (``sliding``) or the first one is older than
        ``window``."""

    def get(self, key: str) -> Failures | None: ...

    def clear(self, key: str) -> None: ...


# ?4 chooses the window's anchor: the last failure (sliding) or the first (fixed)
_RECORD = """
INSERT INTO failures (key, count, first_at, last_at) VALUES (?1, 1, ?2, ?2)
ON CONFLICT (key) DO UPDATE SET
  count = CASE WHEN (CASE WHEN ?4 THEN last_at ELSE first_at END) < ?2 - ?3 THEN 1 ELSE count + 1 END,
  first_at = CASE WHEN (CASE WHEN ?4 THEN last_at ELSE first_at END) < ?2 - ?3 THEN ?2 ELSE first_at END,
  last_at = ?2
RETURNING count, first_at, last_at
"""


class SQLiteThrottleStore:
    """One small SQLite file (WAL), opened per thread; safe for several processes at once."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        with self._db() as db:
            db.execute("CREATE TABLE IF NOT EXISTS failures (key TEXT PRIMARY KEY, count INTEGER NOT NULL, "
                       "first_at REAL NOT NULL, last_at REAL NOT NULL)")

    def _db(self) -> sqlite3.Connection:
        db = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(self.path, timeout=10, isolation_level=None)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            self._local.db = db
        return db

    def record(self, key: str, now: float, window: float, sliding: bool) -> Failures:
        row = self._db().execute(_RECORD, (key, now, window, sliding)).fetchone()
        if row[0] == 1 and hash(key) % 64 == 0:  # now and then, whoever writes drops long-quiet rows
            self.prune(now - window * 4)
        return Failures(*row)

    def get(self, key: str) -> Failures | None:
        row = self._db().execute("SELECT count, first_at, last_at FROM failures WHERE key = ?", (key,)).fetchone()
        return Failures(*row) if row else None

    def clear(self, key: str) -> None:
        self._db().execute("DELETE FROM failures WHERE key = ?", (key,))

    def prune(self, before: float) -> None:
        self._db().execute("DELETE FROM failures WHERE last_at < ?", (before,))


@dataclass(frozen=True)
class ThrottlePolicy:
    free_failures: int = 5  # per (username, address) before delays begin
    base_delay: float = 30.0  # seconds after the first failure past the free ones; doubles each time
    max_delay: float = 900.0
    address_max_failures: int = 100  # per address within the window, any usernames
    window: float = 900.0  # seconds: a pair's failures older than this are forgotten


class LoginThrottle:
    def __init__(self, store: ThrottleStore, secret: bytes, policy: ThrottlePolicy = ThrottlePolicy(),
                 clock: Callable[[], float] = time.time):
        self.store = store
        self.policy = policy
        self._secret = secret
        self._clock = clock

    def _key(self, *parts: str) -> str:
        return hmac.new(self._secret, "\0".join(parts).encode(), hashlib.sha256).hexdigest()

    def _pair(self, username: str, address: str) -> str:
        return self._key("pair", username.lower(), address)

    def _address(self, address: str) -> str:
        return self._key("address", address)

    def pair_delay(self, count: int) -> float:
        """Seconds a pair waits after ``count`` failures in a row."""
        past = count - self.policy.free_failures
        if past < 0:
            return 0.0
        return min(self.policy.max_delay, self.policy.base_delay * 2 ** min(past, 32))

    def retry_after(self, username: str, address: str) -> int:
        """Whole seconds until this attempt may be made (0: now)."""
        now, wait = self._clock(), 0.0
        pair = self.store.get(self._pair(username, address))
        if pair is not None and now - pair.last_at <= self.policy.window:
            wait = pair.last_at + self.pair_delay(pair.count) - now
        addr = self.store.get(self._address(address))
        if addr is not None and addr.count >= self.policy.address_max_failures:
            wait = max(wait, addr.first_at + self.policy.window - now)
        return max(0, math.ceil(wait))

    def failed(self, username: str, address: str) -> None:
        now = self._clock()
        # a pair's streak ends after max_delay of quiet, or the window, whichever is longer
        self.store.record(self._pair(username, address), now, max(self.policy.window, self.policy.max_delay),
                          sliding=True)
        self.store.record(self._address(address), now, self.policy.window, sliding=False)

    def succeeded(self, username: str, address: str) -> None:
        self.store.clear(self._pair(username, address))
