"""Shared fixtures for the case-engine tests: actors and complete form data."""

from __future__ import annotations

from statemachines import Actor, CaseTypeRegistry, Vote

REGISTRY = CaseTypeRegistry.load_default()
SI = REGISTRY.get("serious_incident", 1)  # cases opened under version 1 keep running on it
SI2 = REGISTRY.get("serious_incident", 2)

BUSINESS = Actor(["business_team"])
CRG = Actor(["crg_member"])
HOS = Actor(["la_head_of_safeguarding"])
REVIEWER = Actor(["lead_reviewer"])
SCRUTINEER = Actor(["independent_scrutineer"])
LA_LEAD = Actor(["statutory_lead"], "local_authority")
HEALTH_LEAD = Actor(["statutory_lead"], "health")
POLICE_LEAD = Actor(["statutory_lead"], "police")
NOBODY = Actor([])

THREE_LEADS = (
    Vote("statutory_lead", "local_authority", "approve", "la"),
    Vote("statutory_lead", "health", "approve", "health"),
    Vote("statutory_lead", "police", "approve", "police"),
)
ALL_FOUR = (*THREE_LEADS, Vote("independent_scrutineer", None, "approve", "scrutineer"))

REFERRAL = {
    "la_aware_date": "2026-12-21",
    "incident_date": "2026-12-19",
    "death_or_serious_harm": "seriously_harmed",
    "child": {"date_of_birth": "2015-06-01", "looked_after": False, "care_leaver": False},
}
SIN_NOTIFY = {
    "decision": "notify",
    "child_died_or_seriously_harmed": True,
    "abuse_or_neglect_known_or_suspected": True,
    "notified_on": "2026-12-23",
    "child_status": "none",
}
SIN_NO = {**SIN_NOTIFY, "decision": "do_not_notify", "notified_on": None, "alternative_action": "single_agency_review"}
ALL_RETURNS = {"returns": {"expected": 2, "received": 2, "missing": 0, "missing_agencies": [], "all_received": True}}
ONE_MISSING = {
    "returns": {"expected": 2, "received": 1, "missing": 1, "missing_agencies": ["uh-sussex"], "all_received": False}
}


def referral(**child):
    """The referral with some of the child's fields changed (e.g. ``care_leaver=True``)."""
    return {**REFERRAL, "child": {**REFERRAL["child"], **child}}
