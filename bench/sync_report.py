"""What ``bench.sync`` prints: a line per configuration as it ends, then the table of all of them."""

from __future__ import annotations

from bench.sync_checkpoints import checkpoint_note


def row_line(r: dict) -> str:
    """One configuration's figures, printed as soon as it has run."""
    pg_cpu = "" if r["store"] == "embedded" else f" + postgres {r['pg_ms']:>5.3f}"
    return (f"  {r['store']:<8} {r['size']:>7} docs {r['devices']:>2} dev batch {r['batch']:>2}: "
            f"{r['cpu_ms']:>6.3f}{pg_cpu} ms CPU/mutation "
            f"{r['rate']:>6,.0f} mut/s  p50 {r['p50']:>6.1f} p95 {r['p95']:>6.1f} p99 {r['p99']:>6.1f} "
            f"max {r['max']:>6.1f} pause {r['pause']:>6.1f} ms  {r['checkpoints']} ckpt  "
            f"load {r['load']:.2f}  {r['statuses']}"
            + (f" ERRORS {r['errors']}" if r["errors"] else "") + checkpoint_note(r))


def _ms(value: float) -> str:
    return "-" if value != value else f"{value:.3f}"  # nan: not measured (the embedded store has no server)


def report(rows: list[dict]) -> None:
    """The table of every configuration, its legend, and the checkpoint rows' summary."""
    head = (f"\n{'store':<8} {'docs':>7} {'dev':>3} {'batch':>5} {'muts':>5} {'CPU ms/mut':>10} {'PG ms/mut':>9} "
            f"{'mut/s':>6} {'p50':>6} "
            f"{'p95':>6} {'p99':>6} {'max':>6} {'pause':>6} {'ckpt':>4} {'raw fsync ms':>12} {'load':>5} "
            f"{'not applied':>11}")
    print(head)
    print("-" * len(head))
    for r in rows:
        bad = {k: v for k, v in r["statuses"].items() if k != "applied"}
        print(f"{r['store']:<8} {r['size']:>7} {r['devices']:>3} {r['batch']:>5} {r['mutations']:>5} "
              f"{r['cpu_ms']:>10.3f} {_ms(r['pg_ms']):>9} {r['rate']:>6,.0f} {r['p50']:>6.1f} {r['p95']:>6.1f} "
              f"{r['p99']:>6.1f} {r['max']:>6.1f} "
              f"{r['pause']:>6.1f} {r['checkpoints']:>4} {r['raw']:>5.3f}/{r['raw_p95']:<6.3f} {r['load']:>5.2f} "
              f"{str(bad or '-') if not r['errors'] else 'ERROR':>11}")
    print("(store: embedded, or PostgreSQL with N server processes (pg xN); CPU ms/mut = the server's CPU time "
          "(all its worker processes) over the run / applied mutations; PG ms/mut = the PostgreSQL server "
          "processes' CPU time, stated apart; p50..max = push latency "
          "in ms; pause = longest interval with no push answered, ms; "
          "ckpt = store checkpoints running during the run (begun or going on); "
          "raw fsync = append 1 KB + fdatasync median/p95 in the same directory; load = 1-minute load average "
          "at the start: wall figures depend on it, CPU per mutation hardly)")
    ck = [r for r in rows if r["store"] == "embedded" and r["checkpoints"]]
    if ck:
        print("\ncheckpoints (embedded store; ckpt above = checkpoints running at some time of the run, seen from "
              "the journal segment each opens and the checkpoint.json each writes):")
        for r in ck:
            print(f"  {r['size']:>7} docs {r['devices']:>2} dev batch {r['batch']:>2} {r['mutations']:>6} muts: "
                  f"{r['checkpoints']} running for {r['ckpt_s']:.1f} s of {r['wall']:.1f} s ({r['ckpt_begun']} begun, "
                  f"{r['ckpt_done']} done during the run); longest pause while one ran {r['ckpt_pause']:.1f} ms, "
                  f"p99/p50 {r['p99'] / r['p50']:.2f}")
