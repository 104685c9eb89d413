"""Benchmark: the costliest requests under the 1 MiB body limit are refused quickly.

    .venv/bin/python -m bench.worst [--runs 5]

Each input is built to cost the server as much as it can while staying under
``CASEFLOW_MAX_BODY_BYTES`` (1 MiB): the referral of issue #10 (distinct objects in
``involved_agencies``, whose ``uniqueItems`` jsonschema checks pair by pair) scaled to the limit,
arrays far past their ``maxItems``, tens of thousands of unknown fields, a 1 MiB string in a field
with a pattern, agency returns of 1,000 chronology rows (every field wrong; identical rows; and the
costliest: every row well-formed but for one field, so each row is an error that jsonschema must
walk in full), and a whole push of 200 invalid drafts. The agency returns go to a case at the rapid
review, where the form is open, so they are validated; the same return sent to a case whose state
refuses the form is refused (409) before any validation (ADR 0032), shown on its own row.

Each request goes through the whole app in this process (werkzeug's test client: JSON parsing,
authentication, request schemas, the write path, the answer's JSON), on a real store in a temporary
directory; only the network is left out. Printed: body size, status, the median and worst wall
time of ``--runs`` requests, the number of errors listed and omitted. The goal (issue #10): every
one refused in under 100 ms; and validation happens before the write lock (ADR 0012), so its
cost does not hold up other writers anyway.
"""

from __future__ import annotations

import argparse
import copy
import datetime as dt
import itertools
import json
import os
import platform
import statistics
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from forms import FormRegistry

LIMIT = 1024 * 1024
PASSWORD = "bench-password-0123"


def _fill(make_item, budget: int = LIMIT - 4096) -> list:
    """As many items as fit in ``budget`` bytes of JSON."""
    items, size = [], 0
    i = 0
    while True:
        item = make_item(i)
        size += len(json.dumps(item)) + 2
        if size > budget:
            return items
        items.append(item)
        i += 1


def referral(forms: FormRegistry, **changes: Any) -> dict:
    data = copy.deepcopy(forms.latest("crg_referral").examples["valid"][0])
    data.update(changes)
    return {"case_type": "serious_incident",
            "referral": {"form_id": "crg_referral", "form_version": forms.latest("crg_referral").version,
                         "data": data}}


def cases(forms: FormRegistry) -> list[tuple[str, str, Any]]:
    """(name, path, body) of each worst input; the path is relative to /api/v1."""
    per_object = 1000 // 1  # the default maxItems: the longest array still walked item by item
    width = (LIMIT - 8192) // per_object - 40
    big_objects = [{"agency": f"a{i}", "pad": "x" * width} for i in range(per_object)]
    many_small = _fill(lambda i: {"a": i})
    unknown = referral(forms)
    unknown["referral"]["data"].update({f"k{i}": 0 for i in range(len(_fill(lambda i: {f'k{i}': 0})) )})
    rows = [{"row_id": 7, "date": "yesterday", "contact_type": "visit", "practitioner_role": 1,
             "summary": None, "child_seen": "no", "extra": True} for _ in range(1000)]
    # each row well-formed but for its conditional rule: "other" needs contact_type_other (final)
    near = [{"row_id": f"r{i}", "date": "2024-01-01", "contact_type": "other", "practitioner_role": "Health visitor",
             "summary": "Seen at home with mother.", "child_seen": True} for i in range(1000)]
    agency_return = {**forms.latest("rapid_review_agency_return").examples["valid"][0], "agency_id": "uh-sussex"}
    ar_version = forms.latest("rapid_review_agency_return").version
    return [
        ("referral: 1,000 distinct ~1 KB objects in involved_agencies (issue #10's input at the limit)", "/cases",
         referral(forms, involved_agencies=big_objects)),
        (f"referral: {len(many_small):,} distinct objects in involved_agencies (maxItems exceeded)", "/cases",
         referral(forms, involved_agencies=many_small)),
        (f"referral: {len(unknown['referral']['data']):,} fields, nearly all unknown", "/cases", unknown),
        ("referral: a 1 MiB string in a field with a pattern (nhs number)", "/cases",
         referral(forms, child={**referral(forms)["referral"]["data"]["child"], "nhs_number": "1" * (LIMIT - 8192)})),
        ("agency return: 1,000 chronology rows, every field wrong", "/cases/{open}/submissions",
         {"form_id": "rapid_review_agency_return", "form_version": ar_version, "status": "final",
          "data": {**agency_return, "chronology": rows}}),
        ("agency return: 1,000 identical rows (uniqueItems / x-unique-keys)", "/cases/{open}/submissions",
         {"form_id": "rapid_review_agency_return", "form_version": ar_version, "status": "draft",
          "data": {**agency_return, "chronology": [{"row_id": "r", "date": "2024-01-01", "contact_type": "home_visit",
                                                   "summary": "s" * 900}] * 1000}}),
        ("agency return: 1,000 rows, each well-formed but for one rule", "/cases/{open}/submissions",
         {"form_id": "rapid_review_agency_return", "form_version": ar_version, "status": "final",
          "data": {**agency_return, "chronology": near}}),
        ("the same, to a case whose state refuses the form (409 before validation)", "/cases/{case}/submissions",
         {"form_id": "rapid_review_agency_return", "form_version": ar_version, "status": "final",
          "data": {**agency_return, "chronology": near}}),
        ("sync push: 200 drafts, each with 25 wrong rows", "/sync/push", "push"),
        ("sync push: 200 drafts, each with 25 rows well-formed but for one field", "/sync/push", "push-near"),
    ]


def at_rapid_review(http: Any, forms: FormRegistry, business: dict, hos: dict) -> str:
    """A case at the rapid review, where the health DSL's agency return is open (so validated)."""
    r = http.post("/api/v1/cases", json=referral(forms), headers=business)
    assert r.status_code == 201, r.get_data(as_text=True)
    case_id = r.get_json()["case_id"]
    today = dt.date.today().isoformat()
    sin = {**forms.latest("sin_decision").examples["valid"][0], "decision_date": today, "notified_on": today}
    steps = [(business, "transitions", {"event": "put_to_crg", "expected_state": "referred"}),
             (hos, "submissions", {"form_id": "sin_decision", "form_version": forms.latest("sin_decision").version,
                                   "status": "final", "data": sin}),
             (hos, "transitions", {"event": "notify_panel", "expected_state": "sin_consideration"})]
    for headers, what, body in steps:
        r = http.post(f"/api/v1/cases/{case_id}/{what}", json=body, headers=headers)
        assert r.status_code == 200, r.get_data(as_text=True)
    return case_id


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()

    from server.app import create_app
    from server.config import Settings
    from server.demo import load_demo

    tmp = Path(tempfile.mkdtemp(prefix="bench-worst-"))
    app = create_app(Settings(data_dir=tmp, demo=True, demo_password=PASSWORD))
    services = app.extensions["caseflow"]
    load_demo(services.accounts, PASSWORD)
    forms = services.forms
    http = app.test_client()

    def login(username: str) -> tuple[dict, str]:
        device = f"bench-{uuid.uuid4().hex[:12]}"
        r = http.post("/api/v1/auth/login", json={"username": username, "password": PASSWORD, "device_id": device})
        assert r.status_code == 200, r.get_data(as_text=True)
        return {"Authorization": "Bearer " + r.get_json()["access_token"]}, device

    business, _ = login("esx.business")
    dsl, _ = login("esx.health-dsl")
    r = http.post("/api/v1/cases", json=referral(forms), headers=business)
    assert r.status_code == 201, r.get_data(as_text=True)
    case_id = r.get_json()["case_id"]  # stays referred: the agency return is refused (409)
    open_case = at_rapid_review(http, forms, business, login("esx.hos")[0])
    print(f"python {platform.python_version()}, {platform.system()} {platform.machine()}; "
          f"store in {tmp}; {args.runs} runs each; body limit {LIMIT:,} bytes")
    print(f"load average before: {os.getloadavg()[0]:.1f} (wall times grow with it; CPU ms is this thread's own time)")
    print(f"{'input':<92} {'bytes':>9} {'status':>6} {'median ms':>10} {'max ms':>8} {'cpu med':>8} {'cpu max':>8} "
          f"{'listed':>6} {'omitted':>8}")
    worst, worst_cpu = 0.0, 0.0
    pusher, seqs = login("esx.health-dsl"), itertools.count(1)  # one device: users have at most 10
    for name, path, body in cases(forms):
        headers = business if path == "/cases" else dsl
        if body in ("push", "push-near"):
            rows = [{"row_id": i, "date": "x", "contact_type": "?", "summary": None} for i in range(25)]
            if body == "push-near":
                rows = [{"row_id": f"r{i}", "date": "2024-01-01", "contact_type": "home_visit",
                         "summary": "Seen at home.", "child_seen": "yes"} for i in range(25)]
            draft = {"form_id": "rapid_review_agency_return",
                     "form_version": forms.latest("rapid_review_agency_return").version, "status": "draft",
                     "data": {"chronology": rows}}
            body = {"device_id": "", "mutations": []}
            body["mutations"] = [{"mutation_id": str(uuid.uuid4()), "seq": i + 1, "kind": "save_submission",
                                  "case_id": open_case, "payload": draft} for i in range(200)]
        raw = json.dumps(body).encode()
        assert len(raw) <= LIMIT, (name, len(raw))
        url = "/api/v1" + path.format(case=case_id, open=open_case)
        times, cpu, status, listed, omitted = [], [], 0, 0, 0
        for _ in range(args.runs):
            if path == "/sync/push":  # fresh ids and the next seqs each run, on the one pushing device
                headers, body["device_id"] = pusher
                for m in body["mutations"]:
                    m["mutation_id"], m["seq"] = str(uuid.uuid4()), next(seqs)
                raw = json.dumps(body).encode()
            start, cpu_start = time.perf_counter(), time.thread_time()
            r = http.post(url, data=raw, headers={**headers, "Content-Type": "application/json"})
            times.append((time.perf_counter() - start) * 1000)
            cpu.append((time.thread_time() - cpu_start) * 1000)
            status = r.status_code
            answer = r.get_json()
            if path == "/sync/push":
                problems = [m["problem"] for m in answer["results"] if m["status"] == "rejected"]
                listed = sum(len(p.get("errors", [])) for p in problems)
                omitted = sum(p.get("errors_omitted", 0) for p in problems)
                status = f"{len(problems)}rej" if status == 200 else status
            else:
                listed, omitted = len(answer.get("errors", [])), answer.get("errors_omitted", 0)
        worst, worst_cpu = max(worst, max(times)), max(worst_cpu, max(cpu))
        print(f"{name:<92} {len(raw):>9,} {status!s:>6} {statistics.median(times):>10.1f} {max(times):>8.1f} "
              f"{statistics.median(cpu):>8.1f} {max(cpu):>8.1f} {listed:>6} {omitted:>8}")
    print(f"worst single request: {worst:.1f} ms wall, {worst_cpu:.1f} ms CPU (goal: under 100 ms); "
          f"load average after: {os.getloadavg()[0]:.1f}")
    services.store.close()


if __name__ == "__main__":
    main()
