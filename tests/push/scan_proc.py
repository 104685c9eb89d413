"""``python -m tests.push.scan_proc DATA_DIR YYYY-MM-DD``: one deadline scan in a process of its own
(so a test can SIGKILL it half way through with ``CASEFLOW_CRASH_AT``)."""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path

from server.push.deadlines import scan_deadlines
from tests.push.casefixtures import london, make_deadline_services


def main() -> None:
    data_dir, day = Path(sys.argv[1]), sys.argv[2]
    svc = make_deadline_services(data_dir, london(day, 10))
    try:
        print(json.dumps(scan_deadlines(svc, dt.date.fromisoformat(day), force=True)))
    finally:
        svc.store.close()


if __name__ == "__main__":
    main()
