"""A lean writer process for the crash tests: imports only ``store``.

Usage: python tests/store/writer.py DATA_DIR CHECKPOINT_RECORDS {bg|inline} [MAX_UNITS]

Unit ``i`` (continuing after the last committed one) writes, all in one unit of work:
  * inserts ``units/x{i}-0``, ``x{i}-1``, ``x{i}-2`` (published, padded to varying sizes);
  * updates ``meta/counter`` to ``{"last": i}`` (compare-and-set);
  * tombstones ``x{i-5}-2`` (published delete); when ``i % 10 == 0`` also hard-deletes ``x{i-10}-1``;
  * inserts ``tmp{i}`` and an audit entry inside a savepoint that fails (must never persist);
  * one audit entry ``{"unit": i}`` with subject ``unit-{i}``.
After the ``with`` block returns it prints ``i`` and flushes: that line is the acknowledgement.
"""

from __future__ import annotations

import sys

import store


class Boom(Exception):
    pass


def run_unit(s: store.Store, i: int) -> None:
    with s.transaction() as u:
        for j in range(3):
            u.insert("units", f"x{i}-{j}", {"unit": i, "j": j, "pad": "p" * ((i * 37 + j * 101) % 700)},
                     publish=True)
        c = u.get("meta", "counter")
        if c is None:
            u.insert("meta", "counter", {"last": i}, publish=True)
        else:
            u.update("meta", "counter", {"last": i}, expected_version=c.version, publish=True)
        if i > 5:
            d = u.get("units", f"x{i - 5}-2")
            u.delete("units", f"x{i - 5}-2", expected_version=d.version, publish=True)
        if i > 10 and i % 10 == 0:
            d = u.get("units", f"x{i - 10}-1")
            u.delete("units", f"x{i - 10}-1", expected_version=d.version)
        try:
            with u.savepoint():
                u.insert("units", f"tmp{i}", {"never": True}, publish=True)
                u.audit({"never": i}, subject=f"unit-{i}")
                raise Boom
        except Boom:
            pass
        u.audit({"unit": i}, subject=f"unit-{i}")


def main() -> None:
    data_dir, ck_records, mode = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    max_units = int(sys.argv[4]) if len(sys.argv) > 4 else 1 << 30
    s = store.open_store(data_dir, checkpoint_records=ck_records, background_checkpoint=mode == "bg",
                         shard_max_docs=8, shard_max_bytes=4096)
    c = s.get("meta", "counter")
    i = c.data["last"] if c else 0
    out = sys.stdout
    out.write("ready\n")
    out.flush()
    for _ in range(max_units):
        i += 1
        run_unit(s, i)
        out.write(f"{i}\n")
        out.flush()
    s.close()


if __name__ == "__main__":
    main()
