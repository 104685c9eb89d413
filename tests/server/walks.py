"""Walking serious_incident cases over real HTTP as the demo users, each on their own device.

A walk is a list of steps; each step is ``(username, method, path, body, expected_status)`` where
``path`` is relative to the case (``"transitions"``, ``""`` for the case view) or absolute
(``/api/v1/...``). ``T``, ``S``, ``A``, ``V`` build the common steps; ``Walk.run`` plays them and
checks each answer (every 4xx must be problem+json naming its fault).
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Any

from forms.registry import FormRegistry
from tests.support import Client, assert_problem

FORMS = FormRegistry.load_default()
CHILD_NAME = "Quentin Sentinel-Walker"  # never to appear in history, problems or logs
CHILD_DOB = "2015-06-01"
AGENCIES = {"esx.school-dsl": "esx-schools", "esx.health-dsl": "uh-sussex", "esx.police-dsl": "sussex-police"}
LEADS = ("esx.la-lead", "esx.health-lead", "esx.police-lead")
SIGNERS = (*LEADS, "esx.scrutineer")
NATIONAL = ["record_national_review", "record_no_national_review"]

Step = tuple[str, str, str, Any, int]


def latest(form_id: str) -> int:
    return FORMS.latest(form_id).version


def example(form_id: str, n: int = 0, version: int | None = None) -> dict:
    return copy.deepcopy(FORMS.get(form_id, version).examples["valid"][n])


# -- form data ------------------------------------------------------------------------------------
def referral(aware: str = "2026-10-05", incident: str = "2026-10-03", agencies: Iterable[str] = AGENCIES.values(),
             death: str = "seriously_harmed", version: int | None = None, **child: Any) -> dict:
    data = example("crg_referral", 0, version)
    data["child"].update({"name": CHILD_NAME, "date_of_birth": CHILD_DOB, **child})
    data.update({"referral_date": aware, "incident_date": incident, "la_aware_date": aware,
                 "involved_agencies": list(agencies), "death_or_serious_harm": death})
    data.pop("other_children", None)
    data["other_children_in_household"] = False
    return data


def sin(decision: str = "notify", notified: str | None = "2026-10-07", **over: Any) -> dict:
    data = example("sin_decision", 0)
    data.update({"decision_date": "2026-10-06", "decision": decision, "child_status": "none"})
    if decision == "notify":
        data["notified_on"] = notified
    else:
        data.pop("notified_on", None)
        data.update({"alternative_action": "single_agency_review",
                     "alternative_action_reason": "Learning is confined to one agency."})
    data.update(over)
    return {k: v for k, v in data.items() if v is not None}


def agency_return(agency: str, summary: str = "Two contacts before the incident.", version: int | None = None) -> dict:
    data = example("rapid_review_agency_return", 0, version)
    data.update({"agency_id": agency, "involvement_summary": summary})
    data["child"].update({"name": CHILD_NAME, "date_of_birth": CHILD_DOB})
    return data


def rr_report(decision: str = "commission_lcspr", omissions: str | None = None, sent: str = "2026-10-20",
              agreed: str = "2026-10-20") -> dict:
    data = example("rapid_review_report", 0 if decision == "commission_lcspr" else 1)
    data["child"].update({"name": CHILD_NAME, "date_of_birth": CHILD_DOB})
    data.update({"report_date": "2026-10-19", "lcspr_decision": decision, "sent_to_panel_on": sent,
                 "all_agencies_responded": omissions is None})
    data.pop("omissions_explained", None)
    if decision == "commission_lcspr":
        data["lcspr_agreed_on"] = agreed  # the 6-month clock starts here (rapid_review_report v3)
        data.setdefault("criteria_met", ["improvements_needed"])
        data.setdefault("key_lines_of_enquiry", ["How was the bruising responded to?"])
    if omissions:
        data["omissions_explained"] = omissions
    return data


def terms(commissioned: str = "2026-10-26") -> dict:
    return {**example("lcspr_terms_of_reference"), "commissioned_on": commissioned}


def qa(outcome: str) -> dict:
    return {**example("lcspr_quality_assurance"), "reviewed_on": "2026-11-02", "outcome": outcome,
            "comments": "The analysis of the school's contacts needs more depth."}


def publication(planned: str = "2026-11-20", published: str | None = None, sent: str | None = None,
                withdrawn: str | None = None) -> dict:
    data = {"planned_publication_date": planned, "report_type": "full"}
    if sent:
        data.update({"sent_to_panel_on": sent, "sent_to_sos_on": sent, "sent_to_ofsted_on": sent})
    if published:
        data.update({"published_on": published, "url": "https://scp.example.org/lcspr", "nspcc_repository": True,
                     "reviewer_named": True})
    if withdrawn:  # publication_record v2
        data.update({"withdrawn_on": withdrawn, "withdrawal_reason": "Taken down on legal advice."})
    return data


def action_plan(*statuses: str, signed: str | None = "2026-11-10", reflective: tuple[str, str] | None = None) -> dict:
    """``reflective``: (``held`` or ``not_held``, date), action_plan v2."""
    rows = []
    for i, status in enumerate(statuses):
        row = {"row_id": f"a{i}", "description": f"Action {i}.", "owner_agency": "esx-schools",
               "due_date": "2027-06-30", "status": status}
        if status == "implemented":
            row.update({"evidence": "Audit completed.", "implemented_on": "2026-11-12"})
        rows.append(row)
    data = {"review_reference": "LCSPR walk", "actions": rows}
    if signed:
        data.update({"signed_off_on": signed, "signed_off_by": "Statutory safeguarding leads"})
    if reflective:
        outcome, on = reflective
        data.update({"reflective_learning_outcome": outcome, "reflective_learning_on": on})
        if outcome == "not_held":
            data["reflective_learning_not_held_reason"] = "The learning is part of the annual audit."
    return data


def briefing() -> dict:
    data = example("learning_briefing")
    data["dissemination"][0]["date"] = "2026-10-30"
    data["approved_on"] = "2026-10-29"
    return data


def delay(deadline: str = "sin_notification", due: str = "2026-10-12", told: str = "2026-10-13") -> dict:
    return {"deadline": deadline, "due_date": due, "reason": "Returns were late.", "panel_informed_on": told}


# -- steps ---------------------------------------------------------------------------------------------
def T(user: str, event: str, expected_state: str, status: int = 200, comment: str | None = None) -> Step:
    body = {"event": event, "expected_state": expected_state}
    if comment:
        body["comment"] = comment
    return (user, "POST", "transitions", body, status)


def S(user: str, form_id: str, data: dict, final: bool = True, status: int = 200, version: int | None = None) -> Step:
    return (user, "POST", "submissions", {"form_id": form_id, "form_version": version or latest(form_id),
                                          "data": data, "status": "final" if final else "draft"}, status)


def A(user: str, event: str, decision: str = "approve", status: int = 200, comment: str | None = None) -> Step:
    body = {"event": event, "decision": decision}
    if comment:
        body["comment"] = comment
    return (user, "POST", "approvals", body, status)


def K(user: str, task: str, status: int = 200, **evidence: Any) -> Step:
    """Record a task (a duty of the case type) with its evidence."""
    return (user, "POST", "tasks", {"task": task, **evidence}, status)


# the duties serious_incident v2 asks before these steps, for the walks' referral (domestic abuse
# mentioned, criminal proceedings running, no other area involved, the child not looked after)
def sign_off_tasks(day: str = "2026-10-21") -> list[Step]:
    return [K("esx.business", "report_shared_for_review", date=day),
            K("esx.scrutineer", "scrutineer_review", date=day, choice="agrees")]


def commissioning_tasks(day: str = "2026-10-26") -> list[Step]:
    """Before start_lcspr, and (recorded early) before submit_draft."""
    return [
        K("esx.business", "agencies_notified_of_lcspr", date=day),
        K("esx.crg", "review_panel_independent", date=day, choice="confirmed"),
        K("esx.crg", "domestic_abuse_specialist_involved", date=day, note="The local domestic abuse service."),
        K("esx.crg", "police_consulted_on_family_contact", date=day),
        K("esx.crg", "family_informed", date=day, choice="letter_delivered_in_person",
          note="The social worker delivered the letter with the reviewer."),
        K("esx.crg", "translation_arranged", date=day, choice="not_needed"),
        K("esx.business", "staff_identified_and_supported", date=day),
        K("esx.crg", "police_consulted_on_practitioner_witness", date=day, choice="no_practitioner_witness"),
    ]


def publication_tasks(day: str = "2026-11-09") -> list[Step]:
    """Before publish (recorded in pre_publication)."""
    return [K("esx.business", t, **ev) for t, ev in (
        ("board_approval", {"date": day}), ("family_debrief", {"date": day, "choice": "debriefed"}),
        ("staff_debrief", {"date": day}), ("media_plan", {"date": day}), ("partnership_response", {"date": day}),
        ("legal_advice", {"date": day}), ("cps_protocol_followed", {"date": day}))]


def V(user: str, **expect: Any) -> Step:
    """Check the case view as ``user`` sees it (state, allowed_events, forms...)."""
    return (user, "VIEW", "", expect, 200)


class Walk:
    """One case walked by many users; clients (one device each) are shared per server."""

    _clients: dict[tuple[str, str], Client] = {}

    def __init__(self, url: str):
        self.url = url
        self.case_id: str | None = None
        self.version = 0
        self.states: list[str] = []

    def client(self, username: str) -> Client:
        key = (self.url, username)
        if key not in self._clients:
            self._clients[key] = Client(self.url, username, device_id=f"tablet-{username}")
        return self._clients[key]

    def open(self, user: str = "esx.school-dsl", data: dict | None = None, status: int = 201) -> dict:
        r = self.client(user).post("/api/v1/cases", json={"case_type": "serious_incident", "referral": {
            "form_id": "crg_referral", "form_version": latest("crg_referral"), "data": data or referral()}})
        if status != 201:
            return assert_problem(r, status)
        assert r.status_code == 201, r.text
        view = r.json()
        self.case_id, self.version, self.states = view["case_id"], view["version"], [view["state"]]
        return view

    def path(self, path: str) -> str:
        return path if path.startswith("/") else f"/api/v1/cases/{self.case_id}" + (f"/{path}" if path else "")

    def view(self, user: str) -> dict:
        r = self.client(user).get(self.path(""))
        assert r.status_code == 200, r.text
        return r.json()

    def run(self, steps: Iterable[Step]) -> list[Any]:
        return [self.step(*s) for s in steps]

    def step(self, user: str, method: str, path: str, body: Any, expected: int) -> Any:
        if method == "VIEW":
            return self.check_view(user, **body)
        client = self.client(user)
        r = client.post(self.path(path), json=body) if method == "POST" else client.get(self.path(path))
        where = f"{user} {method} {path} {body.get('event') or body.get('form_id') if isinstance(body, dict) else ''}"
        if expected >= 400:
            problem = assert_problem(r, expected)
            assert CHILD_NAME not in r.text and CHILD_DOB not in r.text, where
            return problem
        assert r.status_code == expected, (where, r.status_code, r.text)
        out = r.json()
        if path in ("transitions", "approvals", "tasks"):
            # every applied step moves the version on; asking again for pending approvals changes nothing
            assert out["version"] > self.version or expected == 202 and out["version"] == self.version, (
                where, out["version"], self.version)
            self.version = out["version"]
            if out["state"] != self.states[-1]:
                self.states.append(out["state"])
        return out

    def check_view(self, user: str, **expect: Any) -> dict:
        """``state``, ``allowed`` (exact list), ``forms`` ({form_id: status} exactly), ``version``
        (exact) or any other key of the view (exact)."""
        view = self.view(user)
        for key, want in expect.items():
            if key == "allowed":
                assert view["allowed_events"] == want, (user, view["state"], view["allowed_events"], want)
            elif key == "forms":
                got = {f["form_id"]: f["status"] for f in view["forms"]}
                assert got == want, (user, view["state"], got, want)
                for f in view["forms"]:  # every open form names its pinned version
                    assert isinstance(f["version"], int) and f["version"] <= f["latest_version"]
            else:
                assert view[key] == want, (user, key, view[key], want)
        return view


def problem_paths(problem: dict) -> set[str]:
    return {e["path"] for e in problem.get("errors", [])}


def to_pre_publication(w: Walk) -> None:
    """Drive an open case (referred) straight to pre_publication: the LCSPR path without checks."""
    to_lcspr_approval(w)
    w.run([T("esx.crg", "approve_lcspr", "lcspr_approval", 202), *[A(u, "approve_lcspr") for u in SIGNERS],
           *publication_tasks(), S("esx.business", "learning_briefing", briefing())])
    assert w.states[-1] == "pre_publication", w.states


def refused_for(w: Walk, user: str, event: str, expected_state: str, *needles: str) -> list[str]:
    """Fire ``event`` expecting a 422 whose reasons mention every needle (in one reason), and the
    same reasons among the case view's ``blocked_events``; nothing changes (version, state)."""
    before = w.view(user)
    problem = w.step(*T(user, event, expected_state, 422))
    assert any(all(n in r for n in needles) for r in problem["reasons"]), (needles, problem["reasons"])
    after = w.view(user)
    blocked = {b["event"]: b["reasons"] for b in after["blocked_events"]}
    assert blocked.get(event) == problem["reasons"], (blocked, problem["reasons"])
    assert (after["version"], after["state"]) == (before["version"], before["state"])
    return problem["reasons"]


def to_lcspr_approval(w: Walk) -> None:
    """Drive an open case (referred) straight to lcspr_approval."""
    to_lcspr_in_progress(w)
    w.run([
        T("esx.business", "submit_draft", "lcspr_in_progress"),
        S("esx.crg", "lcspr_quality_assurance", qa("approve_for_sign_off")),
        T("esx.crg", "complete_quality_assurance", "lcspr_quality_assurance"),
    ])
    assert w.states[-1] == "lcspr_approval", w.states


def to_lcspr_in_progress(w: Walk) -> None:
    """Drive an open case (referred) straight to lcspr_in_progress (the first draft not yet in)."""
    w.run([
        ("esx.business", "POST", "transitions", {"event": "put_to_crg", "expected_state": "referred"}, 200),
        S("esx.hos", "sin_decision", sin()),
        T("esx.hos", "notify_panel", "sin_consideration"),
        *[S(u, "rapid_review_agency_return", agency_return(a)) for u, a in AGENCIES.items()],
        T("esx.crg", "start_analysis", "rapid_review"),
        S("esx.crg", "rapid_review_report", rr_report()),
        T("esx.crg", "submit_for_sign_off", "rapid_review_analysis"),
        *sign_off_tasks(),
        T("esx.crg", "sign_off_rapid_review", "rapid_review_sign_off"),
        S("esx.crg", "lcspr_terms_of_reference", terms()),
        *commissioning_tasks(),
        T("esx.crg", "start_lcspr", "lcspr_commissioning"),
    ])
    assert w.states[-1] == "lcspr_in_progress", w.states
