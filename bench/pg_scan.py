"""Memory of a PostgreSQL ``scan`` of every case: the paged scan (``scan_batch``) against the one-query
read it replaced, over a database that already holds the cases.

Usage: ``.venv/bin/python -m bench.pg_scan URL [paged|one-query]``, e.g. on the database that
``bench.exports --store postgresql`` filled while that run is still going (its cluster is removed at
the end). Each mode in its own process: memory freed by one is not given back to the system.
"""

from __future__ import annotations

import json
import sys
import time

from bench.exports import PeakRss
from store.base import Document
from store.postgres.store import PostgresStore


def main() -> None:
    url, mode = sys.argv[1], (sys.argv[2] if len(sys.argv) > 2 else "paged")
    st = PostgresStore(url, create=False, pool_size=2)
    try:
        list(st.scan("agencies"))  # warm: a pooled connection, imports
        started, n = time.perf_counter(), 0
        with PeakRss() as mem:
            if mode == "paged":
                for _ in st.scan("cases"):
                    n += 1
            else:  # the scan before pages, as it was
                with st._conn() as conn:
                    rows = conn.execute("SELECT id, version, seq, data::text FROM documents "
                                        "WHERE collection = %s AND NOT deleted", ("cases",)).fetchall()
                for did, version, seq, text in rows:
                    Document("cases", did, version, json.loads(text), seq)
                    n += 1
                del rows
        print(f"{mode}: {n} cases, peak RSS added {mem.growth / 1e6:.1f} MB, {time.perf_counter() - started:.1f} s")
    finally:
        st.close()


if __name__ == "__main__":
    main()
