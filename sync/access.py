"""Least privilege: who may see and change which case, submission and conflict.

The rules (DOMAIN.md "Who uses it" and "Tenancy"):
- a partnership's coordinating roles (business team, CRG, statutory leads, the LA Head of
  Safeguarding, the independent scrutineer) see every case of their partnership;
- agency users (practitioners, agency safeguarding leads) see the cases their agency is involved
  in or referred, and of the agencies' returns only their own agency's;
- a lead reviewer sees only the cases they are assigned to;
- staff of an invited partnership with a coordinating role see the case and its non-agency forms,
  read-only;
- the system administrator manages users and devices and sees no case content.
Nothing here knows HTTP or storage; callers pass plain dicts.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sync.actor import Actor

COORDINATING_ROLES = frozenset({
    "business_team", "crg_member", "statutory_lead", "la_head_of_safeguarding", "independent_scrutineer",
})
AGENCY_ROLES = frozenset({"practitioner", "agency_safeguarding_lead"})
REVIEWER_ROLE = "lead_reviewer"

Case = Mapping[str, Any]


# ``not actor.roles.isdisjoint(X)`` is ``actor.has_role(*X)`` without the call and the tuple (these
# run several times per saved draft)


def _agency_member(actor: Actor, case: Case) -> bool:
    return bool(actor.agency) and not actor.roles.isdisjoint(AGENCY_ROLES) and (
        actor.agency in case.get("involved_agencies", ()) or actor.agency == case.get("referring_agency"))


def _assigned_reviewer(actor: Actor, case: Case) -> bool:
    return actor.has_role(REVIEWER_ROLE) and actor.user_id in case.get("assigned_reviewers", ())


def is_home_staff(actor: Actor, case: Case) -> bool:
    """Staff of the owning partnership with a coordinating role."""
    return actor.partnership == case["partnership"] and not actor.roles.isdisjoint(COORDINATING_ROLES)


def is_invited_staff(actor: Actor, case: Case) -> bool:
    return actor.partnership in case.get("invited_partnerships", ()) and not actor.roles.isdisjoint(COORDINATING_ROLES)


def can_see_case(actor: Actor, case: Case) -> bool:
    if actor.partnership == case["partnership"]:
        return is_home_staff(actor, case) or _agency_member(actor, case) or _assigned_reviewer(actor, case)
    return is_invited_staff(actor, case)


def can_write_case(actor: Actor, case: Case) -> bool:
    """May act on the case at all (the definition still decides which forms and events)."""
    return actor.partnership == case["partnership"] and can_see_case(actor, case)


def can_see_submission(actor: Actor, case: Case, submission: Mapping[str, Any]) -> bool:
    if not can_see_case(actor, case):
        return False
    agency = submission.get("agency_id")
    if agency is None:
        return True
    if actor.partnership != case["partnership"]:
        return False  # invited partnerships never see an agency's own return
    return is_home_staff(actor, case) or _assigned_reviewer(actor, case) or actor.agency == agency


def could_ever_see_submission(actor: Actor, case: Case, submission: Mapping[str, Any]) -> bool:
    """Whether any state of this case could have shown this actor the submission: agency returns are
    only ever visible to the home partnership's coordinating roles, its reviewers and that agency."""
    agency = submission.get("agency_id")
    if agency is None:
        return True
    if actor.partnership != case["partnership"]:
        return False
    return actor.has_role(REVIEWER_ROLE, *COORDINATING_ROLES) or actor.agency == agency


def principals(actor: Actor) -> set[str]:
    """The keys through which this actor can see cases (matched against a case's ``seen_by``:
    everyone who could ever see it, so that losing access yields a tombstone in the pull feed)."""
    keys = {f"user:{actor.user_id}"}
    if actor.has_role(*COORDINATING_ROLES):
        keys.add(f"partnership:{actor.partnership}")
    if actor.agency and actor.has_role(*AGENCY_ROLES):
        keys.add(f"agency:{actor.agency}")
    return keys


def case_principals(case: Case) -> set[str]:
    """Who can see the case now, as principal keys (coarse: partnership, agency, reviewer)."""
    keys = {f"partnership:{case['partnership']}"}
    keys.update(f"partnership:{p}" for p in case.get("invited_partnerships", ()))
    keys.update(f"agency:{a}" for a in case.get("involved_agencies", ()))
    if case.get("referring_agency"):
        keys.add(f"agency:{case['referring_agency']}")
    keys.update(f"user:{u}" for u in case.get("assigned_reviewers", ()))
    return keys
