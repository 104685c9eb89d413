"""An injectable clock: tests (and the deadline scheduler) step it across bank holidays."""

from __future__ import annotations

import datetime as dt
import threading
from zoneinfo import ZoneInfo

LONDON = ZoneInfo("Europe/London")


class Clock:
    """Real time unless pinned; ``today()`` is the calendar date in England."""

    def __init__(self, fixed: dt.datetime | None = None):
        self._fixed = fixed
        self._lock = threading.Lock()

    def now(self) -> dt.datetime:
        with self._lock:
            fixed = self._fixed
        return fixed if fixed is not None else dt.datetime.now(dt.UTC)

    def today(self) -> dt.date:
        return self.now().astimezone(LONDON).date()

    def set(self, when: dt.datetime | None) -> None:
        if when is not None and when.tzinfo is None:
            raise ValueError("clock times must be timezone-aware")
        with self._lock:
            self._fixed = when


def rfc3339(when: dt.datetime) -> str:
    return when.astimezone(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
