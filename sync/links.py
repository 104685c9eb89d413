"""Linked cases: a transition's ``hand_off`` opens a case of another type, and both cases show the link.

The hand-off runs inside the event's own handler (``sync.transitions._fire``), so the new case, its
prefilled DRAFT opening form, both links and both audit entries are written in the one unit of work
of the mutation: a replayed mutation answers its first result and opens nothing twice (ADR 0033).
The new case's id is derived from the source (:func:`linked_case_id`), never chosen by the client.

Who sees what of a link (:func:`links_view`): a user who may see the linked case gets its id, type
and reference; anyone else gets only that a link of this relation to a case of this type exists
(the source case's own state already says it was handed on), never its id or reference.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from typing import Any

from statemachines.definition import HandOff
from statemachines.expressions import resolve_path
from store import DuplicateKey
from sync import access
from sync.actor import Actor
from sync.context import CASES, Ctx, submission_id
from sync.problems import MAX_LISTED_ERRORS, Problem

#: the namespace of hand-off case ids: uuid5(namespace, "{source case id}:{event}:{step}")
HAND_OFF_NAMESPACE = uuid.UUID("5d0c2a8e-1f4b-5e0a-9c3d-7a6b1e2f4c80")
HANDED_OFF_TO, HANDED_OFF_FROM = "handed_off_to", "handed_off_from"
#: audit entry fields that name the other case of a hand-off (the history hides them from a reader
#: who may not see that case, as the links do)
LINKED_IDS = ("opened", "hand_off_from")


def linked_case_id(source_case_id: str, event: str, step: int) -> str:
    """The id of the case a hand-off opens: the same source, event and step (the new entry's position
    in the source's ``state_history``) always give the same lower-case hyphenated UUID, so a device
    can name the new case offline and no second case can ever be opened for one hand-off."""
    return str(uuid.uuid5(HAND_OFF_NAMESPACE, f"{source_case_id}:{event}:{step}"))


def prefill(hand_off: HandOff, forms: Mapping[str, Any]) -> dict[str, Any]:
    """The new case's opening form: ``set`` constants and ``carry`` values read from the source's
    final forms (a value not recorded is left out); dotted fields build nested objects."""
    data: dict[str, Any] = {}
    values = {target: resolve_path(forms, source) for target, source in hand_off.carry.items()}
    values.update(hand_off.set)
    for target, value in values.items():
        if value is None:
            continue
        node = data
        *parents, leaf = target.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return data


def open_linked_case(ctx: Ctx, source: Mapping[str, Any], event: str, step: int, hand_off: HandOff,
                     forms: Mapping[str, Any]) -> dict[str, Any]:
    """Open the hand-off's case (in the source's partnership, by the actor who fired the event) and
    return the link the source keeps. The caller (the event's handler) writes the source."""
    from sync.alerts import alert_state_entered
    from sync.commands import _agency_in, _next_reference, _write_submission

    ct = ctx.case_types.get(hand_off.case_type)  # the checker made sure it exists
    initial = ct.initial_state
    form_version = ctx.forms.latest(hand_off.form).version
    data = prefill(hand_off, forms)
    errors = ctx.forms.validate(hand_off.form, form_version, data, final=False, today=ctx.today,
                                limit=MAX_LISTED_ERRORS)
    if errors:  # a definition carrying a value the new form does not take: nothing is written
        raise Problem(422, "hand-off-invalid", f"This step opens a {ct.case_type} case, but the values it carries "
                      f"do not fit its {hand_off.form} form; correct this case's forms or the definition.",
                      errors=[{"path": f"/hand_off/{hand_off.form}" + e.path, "message": e.message} for e in errors])
    case_id = linked_case_id(source["case_id"], event, step)
    involved = [a for a in dict.fromkeys(data.get("involved_agencies") or [])
                if _agency_in(ctx, a, source["partnership"])]
    sub_id = submission_id(case_id, hand_off.form, None)
    back = {"case_id": source["case_id"], "case_type": source["case_type"], "reference": source["reference"],
            "relation": HANDED_OFF_FROM, "event": event, "at": ctx.at}
    case = {
        "case_id": case_id, "reference": _next_reference(ctx, source["partnership"]), "case_type": ct.case_type,
        "case_type_version": ct.version, "partnership": source["partnership"], "state": initial,
        "state_history": [{"state": initial, "entered_at": ctx.at, "entered_on": ctx.today.isoformat(),
                           "event": None, "by": ctx.actor.user_id}],
        "involved_agencies": involved, "referring_agency": ctx.actor.agency, "invited_partnerships": [],
        "assigned_reviewers": [], "pending": None, "last_rejection": None,
        "submissions": {sub_id: {"form_id": hand_off.form, "agency_id": None, "status": "draft"}},
        "created_at": ctx.at, "created_by": ctx.actor.user_id, "updated_at": ctx.at,
        "links": [back],
        # clocks read the carried values until the opening form is final; its first final sets the
        # case's involved agencies, as a referral does when a case is opened with it
        "opened_by_hand_off": {"form": hand_off.form, "carried": {hand_off.form: data}, "completed": False},
    }
    case["seen_by"] = sorted(access.case_principals(case))
    try:
        ctx.uow.insert(CASES, case_id, case, publish=True)
    except DuplicateKey:
        raise Problem(409, "hand-off-case-exists", "The case this step opens already exists; nothing was changed. "
                      "Reload the case.") from None
    _write_submission(ctx, case, sub_id, hand_off.form, form_version, data, "draft", None, None)
    ctx.audit("case.create", case_id, case_type=ct.case_type, state=initial, form_id=hand_off.form,
              hand_off_from=source["case_id"], event=event)
    ctx.audit("case.hand_off", source["case_id"], event=event, opened=case_id, case_type=ct.case_type)
    alert_state_entered(ctx, ct, case, None)
    return {"case_id": case_id, "case_type": ct.case_type, "reference": case["reference"],
            "relation": HANDED_OFF_TO, "event": event, "at": ctx.at}


def complete_opening(ctx: Ctx, case: Mapping[str, Any], form_id: str, data: Mapping[str, Any],
                     status: str) -> dict[str, Any]:
    """The fields of a hand-off case that change when its opening form is first submitted final:
    the involved agencies come from it (checked as ``create_case`` checks them); {} otherwise."""
    opened = case.get("opened_by_hand_off")
    if not opened or opened.get("completed") or opened.get("form") != form_id or status != "final":
        return {}
    from sync.commands import _agency_in

    involved = list(dict.fromkeys(data.get("involved_agencies") or []))
    unknown = [a for a in involved if not _agency_in(ctx, a, case["partnership"])]
    if unknown:
        raise Problem(422, "unknown-agency", "Some involved agencies are not agencies of your partnership.",
                      errors=[{"path": f"/payload/data/involved_agencies/{involved.index(a)}",
                               "message": "Not an agency of this partnership."} for a in unknown])
    new = {"involved_agencies": involved, "opened_by_hand_off": {**opened, "completed": True}}
    new["seen_by"] = sorted(set(case.get("seen_by", [])) | access.case_principals({**case, **new}))
    return new


def clock_forms(case: Mapping[str, Any], forms: Mapping[str, Any]) -> Mapping[str, Any]:
    """What a case's clocks read: its final forms, and for a hand-off case whose opening form is
    not final yet the values carried into it (the SIN clock runs from the day the source says the
    local authority became aware, not from the day a person completes the referral)."""
    carried = (case.get("opened_by_hand_off") or {}).get("carried")
    if not carried:
        return forms
    return {**carried, **forms}


def links_view(actor: Actor, case: Mapping[str, Any],
               audience: Callable[[str], Mapping[str, Any] | None]) -> list[dict[str, Any]]:
    """The case's links as this actor may see them: in full where they may see the linked case,
    otherwise only the relation and the case type (``accessible: false``, no id, no reference)."""
    out = []
    for link in case.get("links") or ():
        other = audience(link["case_id"])
        if other is not None and access.can_see_case(actor, other):
            out.append({**link, "accessible": True})
        else:
            out.append({"case_id": None, "case_type": link["case_type"], "reference": None,
                        "relation": link["relation"], "event": link.get("event"), "at": link.get("at"),
                        "accessible": False})
    return out


def republish_linked(ctx: Ctx, case: Mapping[str, Any]) -> None:
    """Who may see this case changed: write its linked cases again (unchanged) so every device pulls
    them with their links shown as the reader may now see them."""
    for link in case.get("links") or ():
        doc = ctx.uow.get(CASES, link["case_id"])
        if doc is not None:
            ctx.uow.update(CASES, doc.id, dict(doc.data), expected_version=doc.version, publish=True)
