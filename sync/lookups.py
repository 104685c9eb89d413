"""Look-ups for pickers: a partnership's agencies and the colleagues who can be assigned or asked to
vote. Who may read them (least privilege), and the shape they are given in, for the REST look-ups
and the pull feed alike (entities ``agency`` and ``user``). Ids, names and roles only: no username,
no contact details, no login history."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sync.actor import Actor

AGENCIES, DIRECTORY = "agencies", "directory"
# who picks agencies: referrers (involved agencies), the coordinators, the leads who read returns
AGENCY_PICKERS = frozenset({"admin", "business_team", "crg_member", "agency_safeguarding_lead",
                            "la_head_of_safeguarding", "statutory_lead", "independent_scrutineer"})
# who picks people: the business team and the CRG assign reviewers and ask for votes; admins manage
PEOPLE_PICKERS = frozenset({"admin", "business_team", "crg_member"})


def may_pick_agencies(actor: Actor) -> bool:
    return actor.has_role(*AGENCY_PICKERS)


def may_pick_people(actor: Actor) -> bool:
    return actor.has_role(*PEOPLE_PICKERS)


def agency_view(data: Mapping[str, Any]) -> dict[str, Any]:
    return {"id": data["id"], "name": data["name"], "sector": data["sector"]}


def person_view(data: Mapping[str, Any]) -> dict[str, Any]:
    return {"user_id": data["user_id"], "display_name": data["display_name"], "roles": list(data["roles"]),
            "agency": data.get("agency")}


def feed_change(actor: Actor, collection: str, doc: Any) -> dict[str, Any] | None:
    """The pull-feed change for an agency or directory document: the record while it is active and
    the actor may pick it, a tombstone once it is inactive (so devices drop it), else nothing."""
    data = doc.data
    if data.get("partnership") != actor.partnership:
        return None
    if collection == AGENCIES:
        entity, allowed, view = "agency", may_pick_agencies(actor), agency_view
    else:
        entity, allowed, view = "user", may_pick_people(actor), person_view
    if not allowed:
        return None
    if not data.get("active", True):
        return {"entity": entity, "id": doc.id, "version": doc.version, "deleted": True}
    return {"entity": entity, "id": doc.id, "version": doc.version, "data": view(data)}
