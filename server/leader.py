"""One background-jobs leader per installation (the deadline scheduler and the push worker).

On the embedded store there is one process, so it leads. On PostgreSQL every server process runs a
``Leadership`` thread that tries ``pg_try_advisory_lock`` on a **dedicated** connection (a session
lock belongs to its connection: on a pooled one it would follow the connection to the next borrower).
The winner starts the jobs and checks its connection every ``heartbeat`` seconds; if the check fails
it stops the jobs and competes again. When the holder dies its connection closes and the lock is
free at once, so another process takes over at its next try (ADR 0025).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

log = logging.getLogger("caseflow.leader")

#: pg_try_advisory_lock key of the jobs leader ("cfjobs")
LEADER_LOCK = 0x63666A6F6273

Jobs = Callable[[], list[Callable[[], None]]]  # starts the jobs, returns their stop() functions


class Leadership:
    def __init__(self, url: str, start_jobs: Jobs, *, heartbeat: float = 2.0, retry: float = 2.0):
        self.url, self._start_jobs = url, start_jobs
        self.heartbeat, self.retry = heartbeat, retry
        self.leading = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="jobs-leader", daemon=True)

    def start(self) -> Leadership:
        self._thread.start()
        return self

    def _run(self) -> None:
        import psycopg

        while not self._stop.is_set():
            stops: list[Callable[[], None]] = []
            try:
                with psycopg.connect(self.url, autocommit=True, connect_timeout=10,
                                     keepalives=1, keepalives_idle=10, keepalives_interval=5,
                                     keepalives_count=3) as conn:
                    while not self._stop.is_set():
                        if conn.execute("SELECT pg_try_advisory_lock(%s)", (LEADER_LOCK,)).fetchone()[0]:
                            break
                        self._stop.wait(self.retry)
                    else:
                        return
                    log.info("this process now runs the background jobs", extra={"event": "leader.elected"})
                    stops = self._start_jobs()
                    self.leading.set()
                    while not self._stop.wait(self.heartbeat):
                        conn.execute("SELECT 1")  # raises when the connection (and with it the lock) is gone
            except Exception as exc:  # noqa: BLE001 - step down, compete again
                log.warning("background-jobs leadership lost: %s", type(exc).__name__,
                            extra={"event": "leader.lost"})
            finally:
                self.leading.clear()
                for stop in stops:
                    stop()
            self._stop.wait(self.retry)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=60)


def start_background_jobs(app) -> Callable[[], None]:
    """Start the push worker and the deadline scheduler here, or (PostgreSQL) once per installation.
    Returns ``stop()``."""
    from server.push import start_push_worker, start_scheduler
    from store.postgres import PostgresStore

    services = app.extensions["caseflow"]

    def start_jobs() -> list[Callable[[], None]]:
        stops = [start_push_worker(app)]
        if services.case_types is not None:
            stops.append(start_scheduler(app))
        return stops

    if isinstance(services.store, PostgresStore):
        leadership = Leadership(services.store.url, start_jobs).start()
        services.extra["leadership"] = leadership
        return leadership.stop
    stops = start_jobs()

    def stop_all() -> None:
        for stop in stops:
            stop()

    return stop_all
