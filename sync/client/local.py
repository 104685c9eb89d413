"""The device's local file: outbox, results log, replica and cursor in one SQLite database.

Why SQLite (WAL, ``synchronous=FULL``) rather than a JSON file replaced atomically: queueing a
mutation, recording a push's results and applying a pulled page are each one small transaction, so
the cost of a write does not grow with the replica, and a crash (or a flat battery) leaves either
the old or the new state, never half of one. The seq allocation and the outbox insert are in the
same transaction, so a seq is never handed out twice nor skipped. The file holds tokens and case
data: it is created readable by its owner only.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS outbox (
    seq INTEGER PRIMARY KEY, mutation_id TEXT NOT NULL UNIQUE, kind TEXT NOT NULL, case_id TEXT,
    base_version INTEGER, payload TEXT NOT NULL, client_time TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS results (
    seq INTEGER PRIMARY KEY, mutation_id TEXT NOT NULL, kind TEXT NOT NULL, status TEXT NOT NULL,
    result TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS sent_forms (
    case_id TEXT NOT NULL, form_id TEXT NOT NULL, version INTEGER NOT NULL, data TEXT NOT NULL,
    PRIMARY KEY (case_id, form_id));
CREATE TABLE IF NOT EXISTS replica (
    entity TEXT NOT NULL, id TEXT NOT NULL, version INTEGER NOT NULL, data TEXT NOT NULL,
    PRIMARY KEY (entity, id));
"""


@dataclass(frozen=True)
class Queued:
    seq: int
    mutation_id: str
    kind: str
    case_id: str | None
    base_version: int | None
    payload: dict[str, Any]
    client_time: str

    def wire(self) -> dict[str, Any]:
        return {"mutation_id": self.mutation_id, "seq": self.seq, "kind": self.kind, "case_id": self.case_id,
                "base_version": self.base_version, "payload": self.payload, "client_time": self.client_time}


class LocalState:
    def __init__(self, path: str | os.PathLike[str]):
        self.path = Path(path)
        self._db: sqlite3.Connection | None = None
        self._open()

    def _open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        os.close(fd)
        db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=FULL")  # a committed queue/result/page survives power loss
        db.executescript(SCHEMA)
        self._db = db

    @property
    def db(self) -> sqlite3.Connection:
        if self._db is None:
            self._open()
        return self._db  # type: ignore[return-value]

    @contextmanager
    def tx(self) -> Iterator[sqlite3.Connection]:
        db = self.db
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    def wipe(self) -> None:
        """Delete the whole local file (device revoked): outbox, replica, tokens."""
        self.close()
        for suffix in ("", "-wal", "-shm"):
            with suppress(FileNotFoundError):
                os.remove(f"{self.path}{suffix}")

    # -- meta -----------------------------------------------------------------------------------
    def get(self, key: str, default: Any = None) -> Any:
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return json.loads(row[0]) if row else default

    def set(self, db: sqlite3.Connection | None = None, **values: Any) -> None:
        target = db or self.db
        for key, value in values.items():
            target.execute("INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = "
                           "excluded.value", (key, json.dumps(value)))

    # -- outbox ---------------------------------------------------------------------------------
    def enqueue(self, mutation_id: str, kind: str, case_id: str | None, base_version: int | None,
                payload: dict[str, Any], client_time: str) -> Queued:
        with self.tx() as db:
            seq = self.get("next_seq", 1)
            db.execute("INSERT INTO outbox(seq, mutation_id, kind, case_id, base_version, payload, client_time) "
                       "VALUES (?, ?, ?, ?, ?, ?, ?)",
                       (seq, mutation_id, kind, case_id, base_version, json.dumps(payload), client_time))
            self.set(db, next_seq=seq + 1)
        return Queued(seq, mutation_id, kind, case_id, base_version, payload, client_time)

    def outbox(self) -> list[Queued]:
        rows = self.db.execute("SELECT seq, mutation_id, kind, case_id, base_version, payload, client_time "
                               "FROM outbox ORDER BY seq").fetchall()
        return [Queued(r[0], r[1], r[2], r[3], r[4], json.loads(r[5]), r[6]) for r in rows]

    def mark_attempt(self, seqs: Iterable[int]) -> None:
        with self.tx() as db:
            db.executemany("UPDATE outbox SET attempts = attempts + 1 WHERE seq = ?", [(s,) for s in seqs])

    def record(self, sent: list[Queued], results: list[dict[str, Any]]) -> None:
        """Log each result; drop settled mutations from the outbox (``pending`` stays queued)."""
        by_seq = {q.seq: q for q in sent}
        with self.tx() as db:
            for r in results:
                q = by_seq.get(r.get("seq"))
                if q is None or r.get("mutation_id") != q.mutation_id:
                    continue  # not ours: never settle a mutation on someone else's answer
                db.execute("INSERT INTO results(seq, mutation_id, kind, status, result) VALUES (?, ?, ?, ?, ?) "
                           "ON CONFLICT(seq) DO UPDATE SET status = excluded.status, result = excluded.result",
                           (q.seq, q.mutation_id, q.kind, r["status"], json.dumps(r)))
                if r["status"] != "pending":
                    db.execute("DELETE FROM outbox WHERE seq = ?", (q.seq,))
                self._remember_sent(db, q, r)

    @staticmethod
    def _remember_sent(db: sqlite3.Connection, q: Queued, r: dict[str, Any]) -> None:
        """A form edit the server took: the device keeps showing it until a pull brings that version
        (the server counts a device's own edits as seen by it: ADR 0007)."""
        status = r.get("first_status", r["status"]) if r["status"] == "duplicate" else r["status"]
        if q.kind != "save_submission" or status not in ("applied", "conflict"):
            return
        if not isinstance(r.get("version"), int):
            return
        db.execute("INSERT INTO sent_forms(case_id, form_id, version, data) VALUES (?, ?, ?, ?) "
                   "ON CONFLICT(case_id, form_id) DO UPDATE SET version = excluded.version, data = excluded.data "
                   "WHERE excluded.version > sent_forms.version",
                   (q.case_id, q.payload["form_id"], r["version"], json.dumps(q.payload["data"])))

    def sent_form(self, case_id: str, form_id: str) -> tuple[int, dict[str, Any]] | None:
        row = self.db.execute("SELECT version, data FROM sent_forms WHERE case_id = ? AND form_id = ?",
                              (case_id, form_id)).fetchone()
        return (row[0], json.loads(row[1])) if row else None

    def results(self) -> list[dict[str, Any]]:
        rows = self.db.execute("SELECT seq, mutation_id, kind, status, result FROM results ORDER BY seq").fetchall()
        return [{"seq": r[0], "mutation_id": r[1], "kind": r[2], "status": r[3], "result": json.loads(r[4])}
                for r in rows]

    # -- replica --------------------------------------------------------------------------------
    def apply_page(self, changes: list[dict[str, Any]], cursor: str) -> None:
        """A pulled page and its cursor in one transaction: a crash never skips or half-applies one."""
        with self.tx() as db:
            for c in changes:
                if c.get("deleted"):
                    db.execute("DELETE FROM replica WHERE entity = ? AND id = ?", (c["entity"], c["id"]))
                else:
                    db.execute("INSERT INTO replica(entity, id, version, data) VALUES (?, ?, ?, ?) "
                               "ON CONFLICT(entity, id) DO UPDATE SET version = excluded.version, data = excluded.data",
                               (c["entity"], c["id"], c["version"], json.dumps(c["data"])))
            self.set(db, cursor=cursor)

    def clear_replica(self) -> None:
        with self.tx() as db:
            db.execute("DELETE FROM replica")
            self.set(db, cursor="")

    def forget_user(self) -> None:
        """Another person logs in on this device: nothing of the previous user's stays (their replica,
        cursor, the forms they sent, the answers they got, their tokens), and the new user gets a
        device identity of their own (the server binds a device id to one account)."""
        with self.tx() as db:
            for table in ("replica", "sent_forms", "results"):
                db.execute(f"DELETE FROM {table}")  # noqa: S608 - fixed table names
            db.execute("DELETE FROM meta WHERE key IN ('device_id', 'access_token', 'refresh_token', 'user')")
            self.set(db, cursor="", next_seq=1)

    def entity(self, entity: str, id_: str) -> tuple[int, dict[str, Any]] | None:
        row = self.db.execute("SELECT version, data FROM replica WHERE entity = ? AND id = ?",
                              (entity, id_)).fetchone()
        return (row[0], json.loads(row[1])) if row else None

    def entities(self, entity: str | None = None) -> dict[tuple[str, str], tuple[int, dict[str, Any]]]:
        sql, args = "SELECT entity, id, version, data FROM replica", ()
        if entity:
            sql, args = sql + " WHERE entity = ?", (entity,)
        return {(r[0], r[1]): (r[2], json.loads(r[3])) for r in self.db.execute(sql, args)}
