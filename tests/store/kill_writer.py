"""A writer for the kill -9 tests: imports only ``store``.

    python tests/store/kill_writer.py DATA_DIR [CHECKPOINT_BYTES] [MAX_UNITS] [BACKGROUND]

Opens the store, prints ``ready``, then commits units of work forever (or MAX_UNITS of them).
Unit n inserts units/NNNNNN-a, -b, -c (each {"unit": n, ...}) and one audit entry {"unit": n};
``n`` is printed (flushed) only after the transaction has committed, i.e. acknowledged.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

from store import open_store  # noqa: E402


def main() -> None:
    path = sys.argv[1]
    ckpt = int(sys.argv[2]) if len(sys.argv) > 2 else 32 * 1024
    max_units = int(sys.argv[3]) if len(sys.argv) > 3 else 1 << 60
    background = (sys.argv[4] != "0") if len(sys.argv) > 4 else True
    s = open_store(path, checkpoint_bytes=ckpt, background_checkpoint=background, shard_max_docs=64)
    n = s.stats()["audit_entries"]
    print("ready", n, flush=True)
    pad = "p" * 300
    for _ in range(max_units):
        n += 1
        with s.transaction() as u:
            for part in "abc":
                u.insert("units", f"{n:06d}-{part}", {"unit": n, "part": part, "pad": pad}, publish=part == "a")
            u.audit({"unit": n, "what": "unit"}, subject=f"unit-{n % 7}")
        print(n, flush=True)
    s.close()


if __name__ == "__main__":
    main()
