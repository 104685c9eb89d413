"""The same batch pushed twice at once (two threads, one device token), and the same mutation id
under another seq: applied once; every other answer is ``duplicate`` carrying the first result."""

from __future__ import annotations

import threading
import uuid

import pytest
import requests

from sync.service import MUTATION_IDS
from tests.pgfixtures import ServedOnPostgres, stores
from tests.support import DEMO_PASSWORD
from tests.sync.harness import FORM, InProcessServer, form_version, referral_data


@pytest.fixture(scope="module", params=stores("pg-concurrent"))
def srv(request, tmp_path_factory):
    data = tmp_path_factory.mktemp("concurrent") / "data"
    s = ServedOnPostgres(request, data) if request.param == "postgres" else InProcessServer(data)
    yield s
    s.close()


def login(srv, username="esx.business"):
    device_id = f"dev-{uuid.uuid4()}"
    r = requests.post(srv.url + "/api/v1/auth/login",
                      json={"username": username, "password": DEMO_PASSWORD, "device_id": device_id}, timeout=10)
    assert r.status_code == 200, r.text
    return device_id, {"Authorization": f"Bearer {r.json()['access_token']}"}


def create(seq, mutation_id=None):
    return {"mutation_id": mutation_id or str(uuid.uuid4()), "seq": seq, "kind": "create_case",
            "case_id": str(uuid.uuid4()),
            "payload": {"case_type": "serious_incident",
                        "referral": {"form_id": FORM, "form_version": form_version(), "data": referral_data()}}}


def push(srv, device_id, auth, mutations):
    r = requests.post(srv.url + "/api/v1/sync/push", json={"device_id": device_id, "mutations": mutations},
                      headers=auth, timeout=30)
    assert r.status_code == 200, r.text
    return r.json()["results"]


def test_the_same_batch_twice_at_once_is_applied_once(srv):
    device_id, auth = login(srv)
    for round_no in range(8):
        batch = [create(round_no * 5 + i + 1) for i in range(5)]
        answers: list = [None, None]
        gate = threading.Barrier(2)

        def send(i, batch=batch, answers=answers, gate=gate):
            gate.wait()
            answers[i] = push(srv, device_id, auth, batch)

        threads = [threading.Thread(target=send, args=(i,)) for i in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        statuses = sorted(tuple(r["status"] for r in a) for a in answers)
        assert statuses == [("applied",) * 5, ("duplicate",) * 5], statuses
        first, second = answers if answers[0][0]["status"] == "applied" else answers[::-1]
        for a, d, m in zip(first, second, batch, strict=True):
            assert d["first_status"] == "applied" and d["mutation_id"] == a["mutation_id"] == m["mutation_id"]
            assert (d["case_id"], d["reference"], d["version"]) == (a["case_id"], a["reference"], a["version"])
            case = srv.store.get("cases", m["case_id"])
            assert case.version == 1
            entries = [e for e in srv.store.audit_log(subject=m["case_id"]) if e.entry["action"] == "case.create"]
            assert len(entries) == 1
    # references were handed out once each: no gap, no repeat from the losing request
    refs = sorted(srv.store.get("cases", m).data["reference"] for m in
                  (doc.id for doc in srv.store.scan("cases")))
    assert len(refs) == len(set(refs))


def test_the_same_mutation_id_under_another_seq_answers_the_first_result(srv):
    device_id, auth = login(srv)
    m = create(1)
    first = push(srv, device_id, auth, [m])[0]
    assert first["status"] == "applied"
    again = push(srv, device_id, auth, [{**m, "seq": 2, "case_id": str(uuid.uuid4())}])[0]
    assert again["status"] == "duplicate" and again["first_status"] == "applied"
    assert (again["case_id"], again["reference"]) == (first["case_id"], first["reference"])
    # seq 2 is used up by the duplicate; seq 3 carries on, and the retried seq 2 answers the same
    assert push(srv, device_id, auth, [create(3)])[0]["status"] == "applied"
    assert push(srv, device_id, auth, [{**m, "seq": 2}])[0]["status"] == "duplicate"
    assert srv.store.get(MUTATION_IDS, m["mutation_id"]).data["seq"] == 1


def test_another_users_mutation_id_is_refused_without_revealing_its_result(srv):
    device_id, auth = login(srv)
    m = create(1)
    first = push(srv, device_id, auth, [m])[0]
    assert first["status"] == "applied"
    other_device, other_auth = login(srv, "wsx.business")
    stolen = push(srv, other_device, other_auth, [{**m, "case_id": str(uuid.uuid4())}])[0]
    assert stolen["status"] == "rejected", stolen
    assert stolen["problem"]["status"] == 409 and stolen["problem"]["type"].endswith("/mutation-id-reused")
    assert first["case_id"] not in str(stolen) and first["reference"] not in str(stolen)
