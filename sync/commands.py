"""The command handlers: one per mutation kind. Each runs inside the caller's unit of work.

A handler receives its payload already loaded by the kind's one schema (``sync.payloads``): the
types are checked and defaults are filled in, so a handler never re-checks a field's type.

A handler returns its result (``status`` ``applied`` or ``conflict`` plus what the client needs),
or raises :class:`~sync.problems.Problem` to reject the mutation; the caller rolls back whatever
the handler wrote before it raised. Online endpoints and offline pushes call the same handlers.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from forms.errors import FormError, RetiredVersion, UnknownForm
from store import DuplicateKey
from sync import access, links
from sync.alerts import alert_state_entered
from sync.amendments import request_amendment
from sync.context import CASES, CONFLICTS, REVISIONS, SUBMISSIONS, Ctx, final_step, per_agency, submission_id
from sync.merge import merge, resolved_data, seen_base
from sync.problems import MAX_LISTED_ERRORS, Problem
from sync.tasks import record_task
from sync.transitions import approve, transition

# the one spelling of a case id: upper-case or dash-less forms of one UUID would be separate cases
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def unusable_case_id() -> Problem:
    """One answer for a malformed id and for one already taken (in any partnership), so a refusal
    never confirms that a case exists elsewhere. The client's remedy is the same: a new UUID."""
    return Problem(422, "invalid-case-id", "A new case's id must be a new lower-case hyphenated UUID chosen by "
                   "the client; this one cannot be used.",
                   errors=[{"path": "/case_id", "message": "Use a new lower-case UUID with hyphens."}])


Result = dict[str, Any]


def _form_problem(exc: FormError, path: str) -> Problem:
    if isinstance(exc, UnknownForm):
        return Problem(422, "unknown-form", exc.detail, errors=[{"path": path + "/form_id", "message": exc.detail}])
    slug = "retired-form-version" if isinstance(exc, RetiredVersion) else "unknown-form-version"
    return Problem(422, slug, exc.detail, errors=[{"path": path + "/form_version", "message": exc.detail}],
                   available_versions=getattr(exc, "available", None))


def _validate_form(ctx: Ctx, form_id: str, version: Any, data: Any, final: bool, path: str) -> None:
    try:
        if ctx.validations is not None:  # usually answered from the validation done before the lock
            errors = ctx.validations.run(form_id, version, data, final=final, today=ctx.today)
        else:
            errors = ctx.forms.validate(form_id, version, data, final=final, today=ctx.today,
                                        limit=MAX_LISTED_ERRORS)
    except FormError as exc:
        raise _form_problem(exc, path) from None
    omitted, complete = getattr(errors, "omitted", 0), getattr(errors, "complete", True)
    if errors or not complete:  # not complete: counting stopped at the request's budget, so there are errors
        count = f"{len(errors) + omitted}" if complete else f"at least {len(errors) + omitted + 1}"
        listed = "every one is listed" if not omitted and complete else f"the first {len(errors)} are listed"
        if not errors:  # a push's budget was spent on earlier forms (ADR 0012, 0032)
            listed = "none are listed, as this request already listed its share; send it alone to see them"
        extra: dict[str, Any] = {"errors_omitted": omitted} if omitted or not complete else {}
        if not complete:
            extra["errors_counted"] = False  # counting stopped: there are more than errors_omitted
        raise Problem(422, "invalid-form-data",
                      f"The {form_id} form has {count} problem(s); {listed}.",
                      title="The form has invalid fields",
                      errors=[{"path": path + "/data" + e.path, "message": e.message} for e in errors], **extra)


# -- create_case -------------------------------------------------------------------------------
def referral_gate(case_types: Any, actor: Any, payload: Mapping[str, Any]) -> Any:
    """What ``create_case`` checks before it validates the referral (also asked before the write
    lock, :mod:`sync.prevalidate`, so a refused case costs no validation): the case type."""
    try:
        ct = case_types.get(payload["case_type"])
    except KeyError:
        raise Problem(422, "unknown-case-type", "There is no such case type.",
                      errors=[{"path": "/payload/case_type", "message": "Unknown case type."}]) from None
    form_id = payload["referral"]["form_id"]
    if not ct.form_open(form_id, ct.initial_state):
        raise Problem(422, "not-a-referral-form", f"A {ct.case_type} case opens with a form of its first state.",
                      errors=[{"path": "/payload/referral/form_id", "message": "This form does not open a case."}])
    if not ct.form_open(form_id, ct.initial_state, actor.roles):
        raise Problem(403, "forbidden-role", "Your roles may not open this kind of case.")
    return ct


def create_case(ctx: Ctx, case_id: str | None, payload: Mapping[str, Any], base_version: int | None) -> Result:
    referral = payload["referral"]
    ct = referral_gate(ctx.case_types, ctx.actor, payload)
    initial = ct.initial_state
    form_id, version, data = referral["form_id"], referral["form_version"], referral["data"]
    _validate_form(ctx, form_id, version, data, True, "/payload/referral")
    involved = list(dict.fromkeys(data.get("involved_agencies", [])))
    unknown = [a for a in involved if not _agency_in(ctx, a, ctx.actor.partnership)]
    if unknown:
        raise Problem(422, "unknown-agency", "Some involved agencies are not agencies of your partnership.",
                      errors=[{"path": f"/payload/referral/data/involved_agencies/{involved.index(a)}",
                               "message": "Not an agency of this partnership."} for a in unknown])
    if case_id is None:
        case_id = str(uuid.uuid4())
    elif not isinstance(case_id, str) or not UUID.match(case_id):
        raise unusable_case_id()
    reference = _next_reference(ctx, ctx.actor.partnership)
    sub_id = submission_id(case_id, form_id, None)
    case = {
        "case_id": case_id, "reference": reference, "case_type": ct.case_type, "case_type_version": ct.version,
        "partnership": ctx.actor.partnership, "state": initial,
        "state_history": [{"state": initial, "entered_at": ctx.at, "entered_on": ctx.today.isoformat(),
                           "event": None, "by": ctx.actor.user_id}],
        "involved_agencies": involved, "referring_agency": ctx.actor.agency, "invited_partnerships": [],
        "assigned_reviewers": [], "pending": None, "last_rejection": None,
        "submissions": {sub_id: {"form_id": form_id, "agency_id": None, "status": "final"}},
        "created_at": ctx.at, "created_by": ctx.actor.user_id, "updated_at": ctx.at,
    }
    case["seen_by"] = sorted(access.case_principals(case))
    try:
        doc = ctx.uow.insert(CASES, case_id, case, publish=True)
    except DuplicateKey:
        raise unusable_case_id() from None
    _write_submission(ctx, case, sub_id, form_id, version, data, "final", None, None)
    ctx.audit("case.create", case_id, case_type=ct.case_type, state=initial, form_id=form_id)
    alert_state_entered(ctx, ct, case, None)
    return {"status": "applied", "case_id": case_id, "reference": reference, "version": doc.version,
            "state": initial}


def _agency_in(ctx: Ctx, agency_id: Any, partnership: str) -> bool:
    doc = ctx.uow.get("agencies", agency_id) if isinstance(agency_id, str) else None
    # an agency an admin made inactive is no longer asked for returns on new cases
    return doc is not None and doc.data["partnership"] == partnership and doc.data.get("active", True)


def _next_reference(ctx: Ctx, partnership: str) -> str:
    year = ctx.today.year
    key = f"{partnership}.{year}"
    counter = ctx.uow.get("case_references", key)
    if counter is None:
        ctx.uow.insert("case_references", key, {"next": 2})
        n = 1
    else:
        n = counter.data["next"]
        ctx.uow.update("case_references", key, {"next": n + 1}, expected_version=counter.version)
    p = ctx.uow.get("partnerships", partnership)
    prefix = (p.data.get("reference_prefix") if p else None) or "".join(w[0] for w in partnership.split("-")).upper()
    return f"{prefix}-{year}-{n:04d}"


# -- save_submission ---------------------------------------------------------------------------
def submission_gate(forms: Any, ct: Any, actor: Any, case: Mapping[str, Any], payload: Mapping[str, Any]
                    ) -> str | None:
    """What ``save_submission`` checks, on a case the actor may write, before it validates the
    form: the form exists and is open in the case's state to the actor's roles, and a per-agency
    return is the actor's own agency's. Returns that agency (None for a case-wide form). Also asked
    before the write lock (:mod:`sync.prevalidate`): a form the case refuses costs no validation."""
    form_id = payload["form_id"]
    try:
        forms.get(form_id)
    except FormError as exc:
        raise _form_problem(exc, "/payload") from None
    opened, open_to_actor = ct.form_access(form_id, case["state"], actor.roles)
    if not opened:
        raise Problem(409, "form-locked", f"The {form_id} form is not open while the case is in {case['state']}.")
    if not open_to_actor:
        raise Problem(403, "forbidden-role", f"Your roles may not fill the {form_id} form.")
    agency_id = None
    if per_agency(forms, form_id):
        agency_id = actor.agency
        if agency_id is None or agency_id not in case.get("involved_agencies", ()):
            raise Problem(403, "agency-not-involved", "Only an involved agency fills its own return.")
        if payload["data"].get("agency_id", agency_id) != agency_id:
            raise Problem(403, "not-your-agency", "An agency fills only its own return.",
                          errors=[{"path": "/payload/data/agency_id", "message": "Must be your own agency."}])
    return agency_id


def save_submission(ctx: Ctx, case_id: str | None, payload: Mapping[str, Any], base_version: int | None) -> Result:
    status = payload["status"]
    case_doc = ctx.case_for_write(case_id)
    case = case_doc.data
    form_id = payload["form_id"]
    ct = ctx.case_type_of(case)
    agency_id = submission_gate(ctx.forms, ct, ctx.actor, case, payload)
    _validate_form(ctx, form_id, payload["form_version"], payload["data"], status == "final", "/payload")
    if status == "final":  # a field that names a clock names one of this case type's (a delay notice)
        wrong = ct.clock_name_errors(form_id, payload["data"])
        if wrong:
            raise Problem(422, "unknown-clock", f"The {form_id} form names a clock this case type does not have.",
                          title="The form has invalid fields",
                          errors=[{"path": f"/payload/data/{f}", "message": m} for f, m in wrong])
    sub_id = submission_id(case["case_id"], form_id, agency_id)
    existing = ctx.uow.get(SUBMISSIONS, sub_id)
    if existing and existing.data["status"] == "final" and status == "draft":
        raise Problem(409, "final-is-immutable",
                      "This form was submitted as final; amend it by submitting a final again.")
    result = _write_submission(ctx, case, sub_id, form_id, payload["form_version"], payload["data"], status,
                               agency_id, base_version, existing=existing)
    opening = links.complete_opening(ctx, case, form_id, payload["data"], status)  # a hand-off case's referral
    sent_back = existing.data.get("amendment_requested") if existing is not None else None
    if sent_back and status == "final":  # the amended return is in: tell whoever sent it back
        ctx.alert(case, "amendment_returned", [sent_back["requested_by"]], agency_id=agency_id, form_id=form_id)
    meta = dict(case["submissions"])
    meta[sub_id] = {"form_id": form_id, "agency_id": agency_id, "status": status}
    if meta != case["submissions"] or opening:
        ctx.uow.update(CASES, case["case_id"], {**case, **opening, "submissions": meta, "updated_at": ctx.at},
                       expected_version=case_doc.version, publish=True)
    if opening:  # its involved agencies changed: who may open the links changed
        links.republish_linked(ctx, case)
    ctx.audit("submission.save", case["case_id"], form_id=form_id, agency_id=agency_id, status=status,
              submission_id=sub_id, version=result["version"])
    return result


def _write_submission(ctx: Ctx, case: Mapping[str, Any], sub_id: str, form_id: str, form_version: int, data: dict,
                      status: str, agency_id: str | None, base_version: int | None, existing=None) -> Result:
    conflicts = []
    if existing is not None and base_version is not None and base_version < existing.version:
        base_doc = ctx.uow.get(REVISIONS, f"{sub_id}@{base_version}")
        if base_doc is None:
            raise Problem(422, "unknown-base-version", "base_version is not a revision of this form.",
                          errors=[{"path": "/base_version", "message": "Unknown revision."}])
        data, conflicts = merge(_seen_base(ctx, sub_id, base_doc, existing.version), existing.data["data"], data)
    elif existing is not None and base_version is not None and base_version > existing.version:
        raise Problem(422, "unknown-base-version", "base_version is ahead of the server's revision.",
                      errors=[{"path": "/base_version", "message": "Unknown revision."}])
    body = {"submission_id": sub_id, "case_id": case["case_id"], "form_id": form_id, "form_version": form_version,
            "agency_id": agency_id, "status": status, "data": data, "updated_at": ctx.at,
            "updated_by": ctx.actor.user_id, "partnership": case["partnership"],
            "open_conflicts": list(existing.data.get("open_conflicts", [])) if existing else []}
    if status == "final":  # which round this final belongs to (a state's fresh_forms)
        body["final_step"] = final_step(case)
    if existing is not None:  # a CRG's send-back (sync.amendments) stays open until a new final
        if existing.data.get("amendment_requests"):
            body["amendment_requests"] = existing.data["amendment_requests"]
        if status != "final" and existing.data.get("amendment_requested"):
            body["amendment_requested"] = existing.data["amendment_requested"]
    conflict_ids = []
    for c in conflicts:
        cid = uuid.uuid4().hex
        conflict_ids.append(cid)
        ctx.uow.insert(CONFLICTS, cid, {
            "conflict_id": cid, "case_id": case["case_id"], "submission_id": sub_id, "form_id": form_id,
            "agency_id": agency_id, "partnership": case["partnership"], **c.to_dict(),
            "kept_by": existing.data["updated_by"], "kept_at": existing.data["updated_at"],
            "incoming_by": ctx.actor.user_id, "incoming_at": ctx.at, "incoming_device": ctx.device_id,
            "incoming_mutation": ctx.mutation_id, "base_version": base_version, "resolved": False,
        }, publish=True)
    body["open_conflicts"] += conflict_ids
    if existing is None:
        doc = ctx.uow.insert(SUBMISSIONS, sub_id, body, publish=True)
    else:
        doc = ctx.uow.update(SUBMISSIONS, sub_id, body, expected_version=existing.version, publish=True)
    ctx.uow.insert(REVISIONS, f"{sub_id}@{doc.version}", {
        "revision": doc.version, "status": status, "form_version": form_version, "data": data, "at": ctx.at,
        "by": ctx.actor.user_id, "device_id": ctx.device_id, "mutation_id": ctx.mutation_id})
    out: Result = {"status": "conflict" if conflicts else "applied", "submission_id": sub_id, "version": doc.version}
    if conflicts:
        out["conflicts"] = conflict_ids
        out["detail"] = ("Someone else changed the same fields: the server kept their values and recorded yours "
                         "in a conflict for a person to resolve. Your other changes were merged.")
    return out


#: revisions after base_version that a save reads to learn what its device has seen (below)
SEEN_WALK_LIMIT = 200


def _seen_base(ctx: Ctx, sub_id: str, base_doc, version: int) -> Any:
    """The base as this device knows it: its own revisions since base_version count as seen, so two
    offline edits of one field from one device do not clash (ADR 0007).

    The walk reads every revision after the base, under the write lock: a base_version far behind
    (a device back after months, or a hostile client) would make each save of a push read them all.
    Past ``SEEN_WALK_LIMIT`` revisions the save merges from the plain base, as for a gap in the
    chain: the device's own earlier edits no longer count as seen, so typing over them again is a
    recorded conflict for a person to resolve, never a lost value."""
    base = base_doc.data["data"]
    if ctx.device_id is None or version - base_doc.data["revision"] > SEEN_WALK_LIMIT:
        return base
    later = []
    for v in range(base_doc.data["revision"] + 1, version + 1):
        rev = ctx.uow.get(REVISIONS, f"{sub_id}@{v}")
        if rev is None:
            return base  # a gap in the chain: claim nothing, merge as from the plain base
        mine = rev.data.get("device_id") == ctx.device_id and rev.data.get("by") == ctx.actor.user_id
        later.append((rev.data["data"], mine))
    return seen_base(base, later)


# -- resolve_conflict -------------------------------------------------------------------------------
def resolve_conflict(ctx: Ctx, case_id: str | None, payload: Mapping[str, Any], base_version: int | None) -> Result:
    choose = payload["choose"]
    case_doc = ctx.case_for_write(case_id)
    conflict = ctx.uow.get(CONFLICTS, payload["conflict_id"])
    if conflict is None or conflict.data["case_id"] != case_doc.id:
        raise Problem(404, "conflict-not-found", "There is no such conflict on this case.")
    sub = ctx.uow.get(SUBMISSIONS, conflict.data["submission_id"])
    if not access.can_see_submission(ctx.actor, case_doc.data, sub.data):
        raise Problem(404, "conflict-not-found", "There is no such conflict on this case.")
    if conflict.data["resolved"]:  # only after the access check: another agency learns nothing
        return {"status": "applied", "already_resolved": True, "version": conflict.version}
    ct = ctx.case_type_of(case_doc.data)
    if not ct.form_open(sub.data["form_id"], case_doc.data["state"], ctx.actor.roles):
        raise Problem(403, "forbidden-role", "Your roles may not change this form now.")
    if choose == "kept":
        data = sub.data["data"]
    else:
        data = resolved_data(sub.data["data"], conflict.data, payload)
        if data is None:
            raise Problem(409, "conflict-target-gone",
                          "The field or row this conflict is about is no longer in the form (a later save removed "
                          "it), so no value can be set there; resolve the conflict with choose=kept.")
        _validate_form(ctx, sub.data["form_id"], sub.data["form_version"], data, sub.data["status"] == "final",
                       "/payload")
    open_conflicts = [c for c in sub.data.get("open_conflicts", []) if c != conflict.id]
    new_sub = {**sub.data, "data": data, "open_conflicts": open_conflicts, "updated_at": ctx.at,
               "updated_by": ctx.actor.user_id}
    doc = ctx.uow.update(SUBMISSIONS, sub.id, new_sub, expected_version=sub.version, publish=True)
    ctx.uow.insert(REVISIONS, f"{sub.id}@{doc.version}", {
        "revision": doc.version, "status": sub.data["status"], "form_version": sub.data["form_version"],
        "data": data, "at": ctx.at, "by": ctx.actor.user_id, "device_id": ctx.device_id,
        "mutation_id": ctx.mutation_id})
    ctx.uow.update(CONFLICTS, conflict.id, {**conflict.data, "resolved": True, "resolution": choose,
                                            "resolved_by": ctx.actor.user_id, "resolved_at": ctx.at},
                   expected_version=conflict.version, publish=True)
    ctx.audit("conflict.resolve", case_doc.id, conflict_id=conflict.id, choose=choose, submission_id=sub.id,
              agency_id=sub.data["agency_id"])  # history hides an agency's own work from other agencies
    return {"status": "applied", "submission_id": sub.id, "version": doc.version}


# -- assignment and invitations ---------------------------------------------------------------------
def assign_reviewer(ctx: Ctx, case_id: str | None, payload: Mapping[str, Any], base_version: int | None) -> Result:
    case_doc = ctx.case_for_write(case_id)
    case = case_doc.data
    if not ctx.actor.has_role("business_team", "crg_member"):
        raise Problem(403, "forbidden-role", "Only the business team or the CRG assign reviewers.")
    user = ctx.uow.get("users", payload["user_id"])
    if user is None or user.data["partnership"] != case["partnership"] or "lead_reviewer" not in user.data["roles"]:
        raise Problem(422, "not-a-reviewer", "That user is not a lead reviewer of this partnership.",
                      errors=[{"path": "/payload/user_id", "message": "Not a lead reviewer of this partnership."}])
    assigned = payload["assigned"]  # a strict boolean (sync.payloads): "false" never reaches here
    reviewers = [u for u in case["assigned_reviewers"] if u != user.id] + ([user.id] if assigned else [])
    new = {**case, "assigned_reviewers": reviewers, "updated_at": ctx.at}
    new["seen_by"] = sorted(set(case.get("seen_by", [])) | access.case_principals(new))
    doc = ctx.uow.update(CASES, case["case_id"], new, expected_version=case_doc.version, publish=True)
    links.republish_linked(ctx, new)  # who may open the links changed
    ctx.audit("case.assign" if assigned else "case.unassign", case["case_id"], user_id=user.id)
    if assigned:
        ctx.alert(new, "assigned", [user.id])
    return {"status": "applied", "version": doc.version}


def invite_partnership(ctx: Ctx, case_id: str | None, payload: Mapping[str, Any], base_version: int | None) -> Result:
    case_doc = ctx.case_for_write(case_id)
    case = case_doc.data
    if not access.is_home_staff(ctx.actor, case) or not ctx.actor.has_role("business_team"):
        raise Problem(403, "forbidden-role", "Only the lead partnership's business team invites partnerships.")
    other = payload["partnership"]
    if other == case["partnership"] or ctx.uow.get("partnerships", other) is None:
        raise Problem(422, "unknown-partnership", "That is not another partnership.",
                      errors=[{"path": "/payload/partnership", "message": "Unknown partnership."}])
    invited = payload["invited"]  # a strict boolean (sync.payloads): "false" never reaches here
    partners = [p for p in case["invited_partnerships"] if p != other] + ([other] if invited else [])
    new = {**case, "invited_partnerships": partners, "updated_at": ctx.at}
    new["seen_by"] = sorted(set(case.get("seen_by", [])) | access.case_principals(new))
    doc = ctx.uow.update(CASES, case["case_id"], new, expected_version=case_doc.version, publish=True)
    links.republish_linked(ctx, new)
    ctx.audit("case.invite" if invited else "case.uninvite", case["case_id"], partnership=other)
    return {"status": "applied", "version": doc.version}


HANDLERS: dict[str, Callable[[Ctx, str | None, Mapping[str, Any], int | None], Result]] = {
    "create_case": create_case,
    "save_submission": save_submission,
    "transition": transition,
    "approve": approve,
    "resolve_conflict": resolve_conflict,
    "assign_reviewer": assign_reviewer,
    "invite_partnership": invite_partnership,
    "request_amendment": request_amendment,
    "record_task": record_task,
}
