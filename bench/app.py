"""The web app's budgets (issue #11): the shell's JS+CSS after gzip, 500 cases from IndexedDB on
screen, and the time per keystroke in a form with a 50-row chronology, measured in Debian's
Chromium against a real `caseflow serve --demo` on loopback.

    .venv/bin/python -m bench.app [--runs 5]

Figures are printed (docs/benchmarks.md records them); nothing is asserted.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gzip
import platform
import statistics
import tempfile
import time
from pathlib import Path

from server.webapp import DIST
from tests.app import world
from tests.app.conftest import ARGS, CHROMIUM, TABLET, login
from tests.support import LiveServer

SEED_CASES = """async (n) => {
  const db = await new Promise((ok, ko) => { const r = indexedDB.open('caseflow'); r.onsuccess = () => ok(r.result);
                                             r.onerror = () => ko(r.error) })
  const tx = db.transaction('cases', 'readwrite')
  const today = new Date()
  for (let i = 0; i < n; i++) {
    const due = new Date(today.getTime() + (i % 40 - 10) * 86400000).toISOString().slice(0, 10)
    const id = `bench-${String(i).padStart(4, '0')}`
    tx.objectStore('cases').put({ id, version: 3, data: {
      case_id: id, reference: `ESX-2026-${String(9000 + i)}`, case_type: 'serious_incident', case_type_version: 1,
      partnership: 'east-sussex', state: ['referred', 'sin_consideration', 'rapid_review'][i % 3], version: 3,
      created_at: today.toISOString(), updated_at: today.toISOString(),
      deadlines: [{ name: 'rapid_review', title: 'Rapid-review report to the National Panel', starts: due, due,
                    status: i % 40 < 10 ? 'overdue' : i % 40 < 15 ? 'due_soon' : 'pending', stopped_on: null,
                    working_days_left: (i % 40) - 10 }],
      involved_agencies: [], pending: null, state_history: [] } })
  }
  await new Promise((ok) => { tx.oncomplete = ok })
  db.close()
}"""

SEED_DRAFT = """async ([key, rows]) => {
  const db = await new Promise((ok) => { const r = indexedDB.open('caseflow'); r.onsuccess = () => ok(r.result) })
  const chronology = Array.from({ length: rows }, (_, i) => ({ row_id: `r${i}`, date: '2026-01-01',
    contact_type: 'home_visit', summary: `Contact number ${i}` }))
  const tx = db.transaction('drafts', 'readwrite')
  tx.objectStore('drafts').put({ key, form_id: 'rapid_review_agency_return', form_version: 2,
    data: { agency_id: 'uh-sussex', agency_name: 'UHS', known_to_agency: true, chronology },
    updated_at: new Date().toISOString() })
  await new Promise((ok) => { tx.oncomplete = ok })
  db.close()
}"""

# Event Timing: each keystroke's duration from the key press to the next paint (8 ms granularity)
OBSERVE = """() => { window.__keys = []; new PerformanceObserver((list) => { for (const e of list.getEntries())
  if (e.name === 'keydown' || e.name === 'keypress' || e.name === 'input') window.__keys.push(e.duration) })
  .observe({ type: 'event', durationThreshold: 0, buffered: false }) }"""


def shell_sizes() -> dict[str, int]:
    out = {"js_raw": 0, "js_gzip": 0, "css_raw": 0, "css_gzip": 0}
    for path in (DIST / "assets").iterdir():
        kind = "js" if path.suffix == ".js" else "css" if path.suffix == ".css" else None
        if kind:
            raw = path.read_bytes()
            out[f"{kind}_raw"] += len(raw)
            out[f"{kind}_gzip"] += len(gzip.compress(raw, 9))
    for name in ("sw.js", *[p.name for p in DIST.glob("workbox-*.js")]):
        out["worker_gzip"] = out.get("worker_gzip", 0) + len(gzip.compress((DIST / name).read_bytes(), 9))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--cases", type=int, default=500)
    parser.add_argument("--rows", type=int, default=50)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    sizes = shell_sizes()
    print(f"caseflow app benchmark: python {platform.python_version()}, {platform.system()} {platform.machine()}, "
          f"chromium {CHROMIUM}")
    print(f"shell (dist/assets) JS {sizes['js_raw'] / 1024:.1f} KB raw, {sizes['js_gzip'] / 1024:.1f} KB gzip; "
          f"CSS {sizes['css_raw'] / 1024:.1f} KB raw, {sizes['css_gzip'] / 1024:.1f} KB gzip; "
          f"JS+CSS gzip {(sizes['js_gzip'] + sizes['css_gzip']) / 1024:.1f} KB (budget 300 KB); "
          f"service worker + workbox {sizes['worker_gzip'] / 1024:.1f} KB gzip (not in the page)")
    with tempfile.TemporaryDirectory() as tmp:
        srv = LiveServer(Path(tmp) / "data").start(timeout=120)
        try:
            case_id = world.open_case(srv.url)
            world.to_rapid_review(srv.url, case_id)
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
                context = browser.new_context(viewport=TABLET)
                page = context.new_page()
                login(page, srv.url, "esx.health-visitor")
                page.evaluate(SEED_CASES, args.cases)
                total = args.cases + 1
                list_ms = []
                for _ in range(args.runs):
                    page.goto(srv.url + "/app/#/cases")
                    page.reload()
                    page.wait_for_function(f"() => document.querySelectorAll('.case-list li').length === {total}",
                                           timeout=60_000)
                    list_ms.append(page.evaluate("performance.now()"))
                print(f"case list: {total} cases from IndexedDB on screen after a reload, ms since navigation start: "
                      f"median {statistics.median(list_ms):.0f}, max {max(list_ms):.0f} "
                      f"over {args.runs} runs (budget 1000 ms)")

                key = f"{case_id}|rapid_review_agency_return|uh-sussex"
                page.evaluate(SEED_DRAFT, [key, args.rows])
                keys: list[float] = []
                for _ in range(args.runs):
                    page.goto(srv.url + f"/app/#/case/{case_id}/form/rapid_review_agency_return")
                    page.reload()
                    rows = page.locator("[id^='root_chronology_'][id$='_summary']")
                    rows.nth(args.rows - 1).wait_for(timeout=60_000)
                    page.evaluate(OBSERVE)
                    field = page.locator(f"[id='root_chronology_{args.rows // 2}_summary']")
                    field.click()
                    page.keyboard.press("Control+End")  # the caret goes where the click landed
                    started = time.perf_counter()
                    page.keyboard.type(" typed here", delay=30)
                    wall = (time.perf_counter() - started) * 1000
                    page.wait_for_timeout(300)
                    keys += page.evaluate("window.__keys")
                    assert field.input_value().endswith(" typed here"), field.input_value()[-40:]
                keys.sort()
                print(f"typing in a {args.rows}-row chronology: {len(keys)} key events, time from key press to next "
                      f"paint median {statistics.median(keys):.0f} ms, p95 {keys[int(len(keys) * 0.95) - 1]:.0f} ms, "
                      f"max {max(keys):.0f} ms (budget 50 ms); last run typed 11 keys in {wall:.0f} ms wall")
                browser.close()
        finally:
            srv.stop()
    print(f"run at {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC")


if __name__ == "__main__":
    main()
