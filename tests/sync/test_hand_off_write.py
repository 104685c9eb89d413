"""A hand-off whose carried values the new case's form does not take is refused when the event fires,
and nothing of it is written: no new case, no link, no state change (ADR 0033; the checker checks
names, the write path checks values). Real TinyDB store, the real write path."""

from __future__ import annotations

import datetime as dt
import shutil
import uuid

import yaml

from forms.registry import FormRegistry
from statemachines.check import catalogue_from_form_registry
from statemachines.registry import CaseTypeRegistry, default_definitions_dir
from store import open_store
from sync.actor import Actor
from sync.clock import LONDON, Clock
from sync.problems import Problem
from sync.service import Mutation, WritePath

FORMS = FormRegistry.load_default()
FILE = "child_death_jar_referral.v2.yaml"


def test_a_carried_value_the_new_form_does_not_take_refuses_the_event_and_writes_nothing(tmp_path):
    folder = tmp_path / "case_types"
    shutil.copytree(default_definitions_dir(), folder)
    raw = yaml.safe_load((folder / FILE).read_text())
    refer = next(t for t in raw["transitions"] if t["event"] == "refer_as_serious_incident")
    refer["hand_off"]["carry"]["incident_date"] = "jar_referral.age_at_death_years"  # a number into a date
    (folder / FILE).write_text(yaml.safe_dump(raw, sort_keys=False))
    case_types = CaseTypeRegistry.load_dir(folder, catalogue_from_form_registry(FORMS))  # names are fine
    store = open_store(tmp_path / "store")
    try:
        with store.transaction() as uow:
            uow.insert("partnerships", "east-sussex", {"partnership": "east-sussex", "name": "East Sussex"})
        clock = Clock(dt.datetime(2026, 12, 7, 10, tzinfo=LONDON))
        wp = WritePath(store, FORMS, case_types, clock)
        actor = Actor("u-1", "esx.business", "east-sussex", frozenset({"business_team"}), device_id="d-1")
        data = {**FORMS.latest("jar_referral").examples["valid"][0], "abuse_or_neglect_suggested": "yes",
                "involved_agencies": []}
        opened = wp.apply_one(actor, Mutation(str(uuid.uuid4()), "create_case", str(uuid.uuid4()), {
            "case_type": "child_death_jar_referral",
            "referral": {"form_id": "jar_referral", "form_version": 1, "data": data}}))
        case_id = opened["case_id"]
        before = {d.id: d.version for d in store.scan("cases")}
        try:
            wp.apply_one(actor, Mutation(str(uuid.uuid4()), "transition", case_id, {
                "event": "refer_as_serious_incident", "expected_state": "referred"}))
        except Problem as refused:  # the HTTP layer answers it as problem+json
            problem = refused.to_dict()
        else:
            raise AssertionError("the hand-off was not refused")
        assert (problem["status"], problem["type"].rsplit("/", 1)[-1]) == (422, "hand-off-invalid")
        assert [e["path"] for e in problem["errors"]] == ["/hand_off/crg_referral/incident_date"]
        assert {d.id: d.version for d in store.scan("cases")} == before  # no new case, the JAR unchanged
        assert store.get("cases", case_id).data["state"] == "referred"
    finally:
        store.close()
