"""Cases for the deadline tests: the real engine (``statemachines``) on a compact definition with
the statutory SIN and rapid-review clocks, and case documents shaped exactly as
``sync.commands.create_case`` writes them (with a referral form that holds personal data)."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from server.config import Settings
from server.push.cli import PushServices
from statemachines.check import check_definition
from statemachines.definition import parse_definition
from statemachines.engine import CaseType
from store import open_store
from sync.clock import Clock, rfc3339
from sync.context import submission_id
from sync.views import Reader
from tests.push.helpers import test_config

SENTINEL_NAMES = ("Zebedee Quasimodo-Sentinel", "Xanthe Sentinelova")
SENTINEL_DOBS = ("2013-07-19", "2019-02-28")

DEFINITION = {
    "case_type": "serious_incident",
    "version": 1,
    "title": "Serious incident (test definition: the SIN and rapid-review clocks)",
    "states": {
        "referred": {"initial": True, "notify": [{"roles": ["business_team"]}],
                     "forms": {"crg_referral": ["agency_safeguarding_lead", "business_team"]}},
        "sin_consideration": {"notify": [{"roles": ["crg_member"]}],
                              "forms": {"sin_decision": ["crg_member", "la_head_of_safeguarding"],
                                        "delay_notice": ["business_team"]}},
        "rapid_review": {"notify": [{"involved_agencies": ["agency_safeguarding_lead"]}],
                         "forms": {"delay_notice": ["business_team"]}},
        "other_action": {},
        "closed": {"final": True},
    },
    "transitions": [
        {"event": "consider", "from": "referred", "to": "sin_consideration", "roles": ["business_team"]},
        {"event": "notify_panel", "from": "sin_consideration", "to": "rapid_review",
         "roles": ["la_head_of_safeguarding"]},
        {"event": "no_notification", "from": "sin_consideration", "to": "other_action", "roles": ["crg_member"]},
        {"event": "close", "from": ["rapid_review", "other_action"], "to": "closed", "roles": ["business_team"]},
    ],
    "deadlines": [
        {"name": "sin_notification", "starts": "crg_referral.la_aware_date", "due": {"working_days_after": 5},
         "stop": {"on_entering": ["rapid_review", "other_action"]}},
        {"name": "rapid_review_report", "starts": "sin_decision.notified_on", "due": {"working_days_after": 15},
         "stop": {"on_entering": ["closed"]}},
        {"name": "kept_available", "kind": "minimum_period", "starts": "crg_referral.la_aware_date",
         "due": {"years_after": 1}},
    ],
}


def case_type() -> CaseType:
    definition, errors = parse_definition(DEFINITION, "serious_incident.yaml")
    assert not errors and definition is not None, errors
    assert not check_definition(definition), check_definition(definition)
    return CaseType(definition)


@dataclass
class CaseTypes:
    """The registry's lookup by (case type, version), over real CaseType objects."""

    types: dict[tuple[str, int], CaseType] = field(default_factory=dict)

    def get(self, name: str, version: int | None = None) -> CaseType:
        if version is None:
            version = max(v for n, v in self.types if n == name)
        return self.types[(name, version)]


@dataclass
class DeadlineServices(PushServices):
    reader: Any = None
    case_types: Any = None


def make_deadline_services(data_dir: Path, when: dt.datetime, **config) -> DeadlineServices:
    ct = case_type()
    registry = CaseTypes({(ct.case_type, ct.version): ct})
    clock = Clock(when)
    store = open_store(data_dir / "store")
    settings = Settings(data_dir=data_dir, push_allow_http_loopback=True, public_url="https://caseflow.example")
    svc = DeadlineServices(settings=settings, store=store, clock=clock,
                           reader=Reader(store, None, registry, clock), case_types=registry)
    svc.extra["push_config"] = test_config(**config)
    return svc


def london(day: str, hour: int = 9) -> dt.datetime:
    from sync.clock import LONDON

    return dt.datetime.combine(dt.date.fromisoformat(day), dt.time(hour), tzinfo=LONDON)


def make_case(svc: Any, la_aware_date: str, *, state: str = "sin_consideration", partnership: str = "east-sussex",
              involved: list[str] | None = None, notified_on: str | None = None, n: int = 1,
              history: list[tuple[str, str]] | None = None) -> str:
    """A case written as create_case writes it, with sentinel personal data in its referral."""
    case_id = str(uuid.uuid4())
    at = rfc3339(svc.clock.now())
    ref_sub = submission_id(case_id, "crg_referral", None)
    entered = history or [("referred", la_aware_date), (state, la_aware_date)]
    case = {
        "case_id": case_id, "reference": f"ESX-2026-{n:04d}", "case_type": "serious_incident",
        "case_type_version": 1, "partnership": partnership, "state": state,
        "state_history": [{"state": s, "entered_at": at, "entered_on": d, "event": None, "by": "u"}
                          for s, d in entered],
        "involved_agencies": involved or [], "referring_agency": None, "invited_partnerships": [],
        "assigned_reviewers": [], "pending": None, "last_rejection": None,
        "submissions": {ref_sub: {"form_id": "crg_referral", "agency_id": None, "status": "final"}},
        "created_at": at, "created_by": "u", "updated_at": at, "seen_by": [],
    }
    referral = {
        "la_aware_date": la_aware_date, "involved_agencies": involved or [],
        "child": {"name": SENTINEL_NAMES[n % 2], "date_of_birth": SENTINEL_DOBS[n % 2], "looked_after": False,
                  "care_leaver": False},
        "referrer": {"name": SENTINEL_NAMES[(n + 1) % 2]},
        "incident_description": f"{SENTINEL_NAMES[0]} was found; DOB {SENTINEL_DOBS[0]}",
    }
    subs = [(ref_sub, "crg_referral", referral)]
    if notified_on:
        sin_sub = submission_id(case_id, "sin_decision", None)
        case["submissions"][sin_sub] = {"form_id": "sin_decision", "agency_id": None, "status": "final"}
        subs.append((sin_sub, "sin_decision", {"decision": "notify", "notified_on": notified_on}))
    with svc.store.transaction() as uow:
        uow.insert("cases", case_id, case, publish=True)
        for sub_id, form_id, data in subs:
            uow.insert("submissions", sub_id, {
                "submission_id": sub_id, "case_id": case_id, "form_id": form_id, "form_version": 1,
                "agency_id": None, "status": "final", "data": data, "updated_at": at, "updated_by": "u",
                "partnership": partnership, "open_conflicts": []}, publish=True)
            uow.insert("revisions", f"{sub_id}@1", {"revision": 1, "status": "final", "form_version": 1,
                                                    "data": data, "at": at, "by": "u", "device_id": None,
                                                    "mutation_id": None})
    return case_id


def record_delay_notice(svc: Any, case_id: str, deadline: str, status: str = "final") -> None:
    """A delay_notice submission saved as save_submission saves it (case meta + submission + revision)."""
    at = rfc3339(svc.clock.now())
    sub_id = submission_id(case_id, "delay_notice", None)
    data = {"deadline": deadline, "reason": "Agency returns were late", "panel_told_on": svc.clock.today().isoformat()}
    with svc.store.transaction() as uow:
        case = uow.get("cases", case_id)
        existing = uow.get("submissions", sub_id)
        body = {"submission_id": sub_id, "case_id": case_id, "form_id": "delay_notice", "form_version": 1,
                "agency_id": None, "status": status, "data": data, "updated_at": at, "updated_by": "u",
                "partnership": case.data["partnership"], "open_conflicts": []}
        if existing is None:
            doc = uow.insert("submissions", sub_id, body, publish=True)
        else:
            doc = uow.update("submissions", sub_id, body, expected_version=existing.version, publish=True)
        uow.insert("revisions", f"{sub_id}@{doc.version}", {"revision": doc.version, "status": status,
                                                          "form_version": 1, "data": data, "at": at, "by": "u",
                                                          "device_id": None, "mutation_id": None})
        meta = {**case.data["submissions"], sub_id: {"form_id": "delay_notice", "agency_id": None, "status": status}}
        uow.update("cases", case_id, {**case.data, "submissions": meta}, expected_version=case.version, publish=True)


def enter_state(svc: Any, case_id: str, state: str) -> None:
    with svc.store.transaction() as uow:
        case = uow.get("cases", case_id)
        history = [*case.data["state_history"], {"state": state, "entered_at": rfc3339(svc.clock.now()),
                                                 "entered_on": svc.clock.today().isoformat(), "event": "x",
                                                 "by": "u"}]
        uow.update("cases", case_id, {**case.data, "state": state, "state_history": history},
                   expected_version=case.version, publish=True)
