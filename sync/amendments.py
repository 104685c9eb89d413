"""``request_amendment``: the CRG sends an agency's final rapid-review return back with reasons.

Payload ``{agency_id, reasons}``. Applied through the one write path like every mutation, so the
online call (POST /cases/{id}/agency-returns/{agency_id}/amendment-requests) and an offline push
behave the same. Only the owning partnership's business team or CRG may do it (they coordinate
and analyse the returns, DOMAIN.md), only while the agency return form is open in the case's state
(the rapid-review states: the agency could not amend otherwise), and only for a return submitted
as final and not already sent back.

The effect, in one unit of work: the agency's submission gets ``status: returned_for_amendment``
and ``amendment_requested`` (reasons, who, when) and a revision, so the agency's devices receive
it through pull; the case's submission list says the same, so the return no longer counts as
received for the guards; the agency's safeguarding leads and the author of the return get an
alert (ids only, never the reasons); the audit trail records it (ids only). A new final from the
agency clears the request (``sync.commands._write_submission``); drafts in between keep it open.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sync import access
from sync.agency_returns import RETURN_FORM
from sync.context import CASES, REVISIONS, SUBMISSIONS, Ctx, submission_id
from sync.problems import Problem

SENDERS = ("business_team", "crg_member")


def request_amendment(ctx: Ctx, case_id: str | None, payload: Mapping[str, Any],
                      base_version: int | None) -> dict[str, Any]:
    agency, reasons = payload["agency_id"], payload["reasons"].strip()  # checked by sync.payloads
    case_doc = ctx.case_for_write(case_id)
    case = case_doc.data
    if not (access.is_home_staff(ctx.actor, case) and ctx.actor.has_role(*SENDERS)):
        raise Problem(403, "forbidden-role", "Only the business team or the CRG send a return back for amendment.")
    if agency not in case.get("involved_agencies", ()):
        raise Problem(404, "agency-not-involved", "That agency was not asked for a return on this case.",
                      errors=[{"path": "/payload/agency_id", "message": "Not an involved agency of this case."}])
    if not ctx.case_type_of(case).form_open(RETURN_FORM, case["state"]):
        raise Problem(409, "rapid-review-closed",
                      f"Returns can be sent back only during the rapid review; the case is in {case['state']}.")
    sub_id = submission_id(case["case_id"], RETURN_FORM, agency)
    sub = ctx.uow.get(SUBMISSIONS, sub_id)
    if sub is not None and sub.data.get("amendment_requested"):
        raise Problem(409, "amendment-already-requested",
                      "This return was already sent back and the agency has not submitted it again.")
    if sub is None or sub.data["status"] != "final":
        raise Problem(409, "return-not-final", "The agency has not submitted its return as final yet.")
    if base_version is not None and base_version != sub.version:
        # the CRG read another version than the one now held: let a person look again
        return {"status": "conflict", "reason": "return-changed", "submission_id": sub_id, "version": sub.version,
                "detail": "The agency's return changed since you read it; nothing was sent back. Read it again."}
    history = list(sub.data.get("amendment_requests", ()))
    request = {"request_no": len(history) + 1, "reasons": reasons, "requested_by": ctx.actor.user_id,
               "requested_at": ctx.at, "of_revision": sub.version}
    author = sub.data.get("updated_by")
    body = {**sub.data, "status": "returned_for_amendment", "amendment_requested": request,
            "amendment_requests": [*history, request], "updated_at": ctx.at, "updated_by": ctx.actor.user_id}
    doc = ctx.uow.update(SUBMISSIONS, sub_id, body, expected_version=sub.version, publish=True)
    # a revision for this version too: a device editing from it merges against it (base_version)
    ctx.uow.insert(REVISIONS, f"{sub_id}@{doc.version}", {
        "revision": doc.version, "status": "returned_for_amendment", "form_version": sub.data["form_version"],
        "data": sub.data["data"], "at": ctx.at, "by": ctx.actor.user_id, "device_id": ctx.device_id,
        "mutation_id": ctx.mutation_id})
    meta = {**case["submissions"], sub_id: {"form_id": RETURN_FORM, "agency_id": agency,
                                            "status": "returned_for_amendment"}}
    new_case = {**case, "submissions": meta, "updated_at": ctx.at}
    ctx.uow.update(CASES, case["case_id"], new_case, expected_version=case_doc.version, publish=True)
    ctx.audit("agency_return.amendment_requested", case["case_id"], agency_id=agency, submission_id=sub_id,
              request_no=request["request_no"], version=doc.version)
    recipients = [u["user_id"] for u in ctx.directory.active_users(case["partnership"])
                  if u.get("agency") == agency and ("agency_safeguarding_lead" in u["roles"] or u["user_id"] == author)]
    ctx.alert(new_case, "amendment_requested", recipients, agency_id=agency, form_id=RETURN_FORM)
    return {"status": "applied", "submission_id": sub_id, "version": doc.version, "agency_id": agency,
            "request_no": request["request_no"]}
