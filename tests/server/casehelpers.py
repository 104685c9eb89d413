"""Shared helpers for HTTP tests that open and move real cases: referral data carrying sentinel
personal data (so a test can prove it never leaks), push and online write helpers."""

from __future__ import annotations

import copy
import uuid

import requests

from forms.registry import FormRegistry
from tests.support import Client

SENTINEL_NAME = "Quillon Sentinel-Marrow"
SENTINEL_DOB = "2018-11-23"
_FORMS = FormRegistry.load_default()


def example(form_id: str) -> dict:
    return copy.deepcopy(_FORMS.get(form_id).examples["valid"][0])


def latest(form_id: str) -> int:
    return _FORMS.latest(form_id).version


def referral_data(agencies=("esx-schools", "uh-sussex")) -> dict:
    data = example("crg_referral")
    data["involved_agencies"] = list(agencies)
    data["child"]["name"] = SENTINEL_NAME
    data["child"]["date_of_birth"] = SENTINEL_DOB
    data["referrer"]["agency_id"] = "esx-schools"
    return data


def mutation(seq: int, kind: str, case_id: str | None, payload: dict, base_version: int | None = None) -> dict:
    m = {"mutation_id": str(uuid.uuid4()), "seq": seq, "kind": kind, "case_id": case_id, "payload": payload}
    if base_version is not None:
        m["base_version"] = base_version
    return m


def create_payload(agencies=("esx-schools", "uh-sussex")) -> dict:
    return {"case_type": "serious_incident",
            "referral": {"form_id": "crg_referral", "form_version": latest("crg_referral"),
                         "data": referral_data(agencies)}}


class Device:
    """A client that also keeps its own push seq, as a real offline device does."""

    def __init__(self, base_url: str, username: str):
        self.client = Client(base_url, username)
        self.seq = 0

    def push(self, kind: str, case_id: str | None, payload: dict, base_version: int | None = None) -> dict:
        self.seq += 1
        r = self.client.post("/api/v1/sync/push", {"device_id": self.client.device_id,
                                                   "mutations": [mutation(self.seq, kind, case_id, payload,
                                                                          base_version)]})
        assert r.status_code == 200, r.text
        return r.json()["results"][0]

    def open_case(self, agencies=("esx-schools", "uh-sussex")) -> str:
        result = self.push("create_case", str(uuid.uuid4()), create_payload(agencies))
        assert result["status"] == "applied", result
        return result["case_id"]

    def get(self, path: str, **kw) -> requests.Response:
        return self.client.get(path, **kw)

    def post(self, path: str, body: dict) -> requests.Response:
        return self.client.post(path, body)


def ok(resp: requests.Response, *codes: int) -> dict:
    assert resp.status_code in (codes or (200,)), (resp.status_code, resp.text)
    return resp.json()
