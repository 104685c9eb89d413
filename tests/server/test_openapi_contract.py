"""The OpenAPI document is a complete contract: every operation, including ones added later, documents
a schema for each response status it lists, every error is the one Problem schema as problem+json,
and the sync push's mutations are a oneOf by kind covering every kind the write path accepts.

Read from a running server over HTTP, so the document checked is the one clients get.
"""

from __future__ import annotations

import jsonschema
import requests

from sync.commands import HANDLERS
from sync.payloads import PAYLOADS
from tests.support import Client

METHODS = ("get", "post", "put", "patch", "delete")
BODYLESS = {"204", "304"}
PROBLEM = {"$ref": "#/components/schemas/Problem"}


def _spec(server) -> dict:
    r = requests.get(server.url + "/api/v1/openapi.json", timeout=30)
    assert r.status_code == 200
    return r.json()


def _operations(spec: dict):
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            if method in METHODS:
                yield f"{method.upper()} {path}", op


def _resolve(spec: dict, response: dict) -> dict:
    if "$ref" in response:
        return spec["components"]["responses"][response["$ref"].rsplit("/", 1)[-1]]
    return response


def test_every_operation_has_a_response_schema_for_each_documented_status(server):
    spec = _spec(server)
    missing, not_problem, no_success = [], [], []
    operations = list(_operations(spec))
    assert len(operations) >= 30
    for label, op in operations:
        statuses = op["responses"]
        if not any(s.startswith("2") for s in statuses):
            no_success.append(label)
        for status, response in statuses.items():
            response = _resolve(spec, response)
            if status in BODYLESS:
                continue
            content = response.get("content") or {}
            if not content or any("schema" not in media for media in content.values()):
                missing.append(f"{label} {status}")
            is_error = status == "default" or status[0] in "45"
            if is_error and content != {"application/problem+json": {"schema": PROBLEM}}:
                not_problem.append(f"{label} {status}")
    assert not no_success, f"operations without a success response: {no_success}"
    assert not missing, ("documented statuses without a response schema (use server.openapi.returns or "
                         f"@blp.response(status, Schema)): {missing}")
    assert not not_problem, f"error responses that are not the Problem schema as problem+json: {not_problem}"


def test_the_standard_errors_are_documented_on_every_operation_that_can_answer_them(server):
    spec = _spec(server)
    for label, op in _operations(spec):
        statuses = set(op["responses"])
        assert {"500", "503", "default"} <= statuses, label
        if op.get("security"):
            assert {"401", "403"} <= statuses, label
        if "requestBody" in op:
            assert {"400", "413", "415", "422"} <= statuses, label
        if "{" in label:
            assert "404" in statuses, label


def test_the_problem_schema_is_what_the_server_sends(server):
    spec = _spec(server)
    problem = spec["components"]["schemas"]["Problem"]
    assert set(problem["required"]) == {"type", "title", "status", "detail"}
    assert problem.get("additionalProperties") is not False  # extras such as reasons, available_versions
    item = problem["properties"]["errors"]["items"]
    item = spec["components"]["schemas"][item["$ref"].rsplit("/", 1)[-1]] if "$ref" in item else item
    assert set(item["required"]) == {"path", "message"}
    # a real error body against it
    r = requests.post(server.url + "/api/v1/auth/login", json={"username": 5}, timeout=30)
    body = r.json()
    assert r.headers["Content-Type"].startswith("application/problem+json")
    assert set(problem["required"]) <= set(body) and all({"path", "message"} <= set(e) for e in body["errors"])


def test_the_push_documents_each_mutation_kind_as_a_one_of_by_kind(server):
    spec = _spec(server)
    push = spec["paths"]["/api/v1/sync/push"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    push = spec["components"]["schemas"][push["$ref"].rsplit("/", 1)[-1]]
    items = push["properties"]["mutations"]["items"]
    assert items["discriminator"]["propertyName"] == "kind"
    mapping = items["discriminator"]["mapping"]
    assert set(mapping) == set(PAYLOADS) == set(HANDLERS)
    for kind, ref in mapping.items():
        member = spec["components"]["schemas"][ref.rsplit("/", 1)[-1]]
        assert member["properties"]["kind"]["enum"] == [kind]
        payload = spec["components"]["schemas"][member["properties"]["payload"]["$ref"].rsplit("/", 1)[-1]]
        assert payload["additionalProperties"] is False and payload["properties"], kind
    invite = spec["components"]["schemas"]["InvitePartnershipPayload"]["properties"]["invited"]
    assert invite["type"] == "boolean"


def test_a_served_form_version_is_the_documented_form_version_with_both_ui_schema_formats(server):
    """ADR 0019's format 2 is part of the published contract: a real form document validates against
    the documented FormVersion, which requires ``ui_schema_v2``."""
    spec = _spec(server)
    op = spec["paths"]["/api/v1/forms/{form_id}/versions/{version}"]["get"]
    documented = op["responses"]["200"]["content"]["application/json"]["schema"]
    assert documented == {"$ref": "#/components/schemas/FormVersion"}
    form_version = spec["components"]["schemas"]["FormVersion"]
    assert "ui_schema_v2" in form_version["required"] and form_version["properties"]["ui_schema_v2"]["description"]
    body = Client(server.url, "esx.business").get("/api/v1/forms/rapid_review_agency_return/versions/2").json()
    jsonschema.validate(body, form_version)
    assert body["ui_schema_v2"]["ui:sections"] and "ui_schema" in body
