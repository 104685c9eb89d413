"""The access matrix: every case endpoint and every sync mutation kind, for the wrong partnership,
the wrong agency, the wrong role and the wrong assignment, and for the right users.

The policy ``sync/access.py`` implements (DOMAIN.md "Who uses it" and "Tenancy"):

- **see a case**: staff of the owning partnership with a coordinating role (business team, CRG,
  statutory leads, LA Head of Safeguarding, independent scrutineer) see all its cases; agency users
  (practitioners, agency safeguarding leads) see the cases their agency is involved in or referred;
  a lead reviewer sees only the cases assigned to them; coordinating staff of an *invited*
  partnership see the case read-only; the system administrator sees no case at all.
- **see a submission**: whoever sees the case sees its non-agency forms; an agency's own
  rapid-review return is seen by that agency, the owning partnership's coordinating staff and the
  assigned reviewer, never by other agencies and never by an invited partnership.
- **change a case**: only users of the owning partnership who can see it; the case type then
  decides which role may fill which form and fire which event, the write path which roles assign
  reviewers (business team, CRG) and invite partnerships (business team).
- **answers**: a case the caller may not see is 404 ``case-not-found`` on every endpoint, read or
  write, online or pushed (no existence leak); 403 only when the caller can see the case (invited
  partnership: ``case-read-only``; wrong role: ``forbidden-role`` / ``not-an-approver``); another
  agency's conflict is 404 ``conflict-not-found``. A refused write leaves the case's version and
  history unchanged, and its problem names no personal data (nor the case's reference).
- **pull**: the feed carries exactly what the caller may see; losing access (a reviewer
  unassigned) yields tombstones so the device deletes its copy.

One demo server and two cases serve the whole module: case A is in ``rapid_review`` with a final
return from the schools, a draft return from the hospital, an open conflict on the schools'
return, an assigned reviewer and west-sussex invited; case B waits for the statutory leads'
approvals of ``notify_panel``. Writes that must succeed use cases of their own.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from server.auth.accounts import Accounts
from server.demo import load_demo
from store import open_store
from sync.clock import Clock
from tests.pgfixtures import store_for, stores
from tests.server.casehelpers import SENTINEL_DOB, SENTINEL_NAME, Device, create_payload, example, latest, ok
from tests.support import DEMO_PASSWORD, LiveServer, assert_problem

SECOND_REVIEWER = "esx.reviewer2"
PATHS = {"save_submission": "submissions", "transition": "transitions", "approve": "approvals",
         "assign_reviewer": "assignments", "invite_partnership": "invitations", "resolve_conflict": "conflicts"}


class World:
    def __init__(self, url: str):
        self.url = url
        self.devices: dict[str, Device] = {}
        self.cases: dict[str, str] = {}
        self.refs: dict[str, str] = {}
        self.conflicts: list[str] = []
        self.pulls: dict[str, list[dict]] = {}

    def dev(self, username: str) -> Device:
        if username not in self.devices:
            self.devices[username] = Device(self.url, username)
        return self.devices[username]

    def user_id(self, username: str) -> str:
        return self.dev(username).client.user["user_id"]

    def pull_all(self, username: str) -> list[dict]:
        if username not in self.pulls:
            self.pulls[username] = self.dev(username).client.pull_all()[0]
        return self.pulls[username]

    def snapshot(self, key: str) -> tuple[Any, ...]:
        """What a refused write must leave alone: version, state and every history entry that is not a
        read or the refused attempt's own trace (reads and refusals are audited, ids only: #10)."""
        business = self.dev("esx.business")
        case_id = self.cases[key]
        row = next(c for c in ok(business.get("/api/v1/cases"))["cases"] if c["case_id"] == case_id)
        history = ok(business.get(f"/api/v1/cases/{case_id}/history"))["entries"]
        changes = [e for e in history if not _is_trace(e)]
        return row["version"], row["state"], len(changes), changes[-1]["n"]


def _is_trace(entry: dict) -> bool:
    action = str(entry.get("action", ""))
    return action == "access.refused" or action.endswith(".read")


def school_return(agency: str = "esx-schools", **over: Any) -> dict:
    data = example("rapid_review_agency_return")
    data["agency_id"] = agency
    data["child"]["name"] = SENTINEL_NAME
    data["child"]["date_of_birth"] = SENTINEL_DOB
    data.update(over)
    return data


def submission(form_id: str, data: dict, status: str = "final", **extra: Any) -> dict:
    return {"form_id": form_id, "form_version": latest(form_id), "data": data, "status": status, **extra}


def _case_to_rapid_review(w: World) -> str:
    case_id = w.dev("esx.school-dsl").open_case()
    ok(w.dev("esx.business").post(f"/api/v1/cases/{case_id}/transitions",
                                  {"event": "put_to_crg", "expected_state": "referred"}))
    ok(w.dev("esx.crg").post(f"/api/v1/cases/{case_id}/submissions", submission("sin_decision",
                                                                                example("sin_decision"))))
    view = ok(w.dev("esx.hos").post(f"/api/v1/cases/{case_id}/transitions",
                                    {"event": "notify_panel", "expected_state": "sin_consideration"}))
    assert view["state"] == "rapid_review", view
    return case_id


@pytest.fixture(scope="module", params=stores("pg-access"))
def world(request, tmp_path_factory) -> World:
    data = tmp_path_factory.mktemp("matrix") / "data"
    target, env = store_for(request, request.param, data)
    with open_store(target) as store:  # the demo fixture plus a second lead reviewer
        accounts = Accounts(store, Clock())
        load_demo(accounts, DEMO_PASSWORD)
        accounts.add_user(SECOND_REVIEWER, DEMO_PASSWORD, "east-sussex", ["lead_reviewer"])
    srv = LiveServer(data, env=env).start(timeout=120)  # a loaded CI machine starts slowly
    w = World(srv.url)
    try:
        # case A: rapid review, returns, a conflict, a reviewer, an invited partnership
        a = w.cases["A"] = _case_to_rapid_review(w)
        school = w.dev("esx.school-dsl")
        path = f"/api/v1/cases/{a}/submissions"
        assert ok(school.post(path, submission("rapid_review_agency_return", school_return())))["version"] == 1
        ok(school.post(path, submission("rapid_review_agency_return",
                                        school_return(learning="Edit one.", good_practice="Edit one."))))
        other_device = Device(w.url, "esx.school-dsl")  # offline edit from version 1 on a second tablet
        clash = ok(other_device.post(path, submission("rapid_review_agency_return",
                                                      school_return(learning="Edit two.", good_practice="Edit two."),
                                                      base_version=1)))
        assert clash["status"] == "conflict" and len(clash["conflicts"]) == 2, clash
        w.conflicts = clash["conflicts"]
        ok(w.dev("esx.health-dsl").post(path, submission("rapid_review_agency_return",
                                                         school_return("uh-sussex"), "draft")))
        business = w.dev("esx.business")
        ok(business.post(f"/api/v1/cases/{a}/assignments", {"user_id": w.user_id("esx.reviewer")}))
        ok(business.post(f"/api/v1/cases/{a}/invitations", {"partnership": "west-sussex"}))
        # case B: escalated, notify_panel waiting for the three statutory leads
        b = w.cases["B"] = school.open_case()
        ok(business.post(f"/api/v1/cases/{b}/transitions", {"event": "put_to_crg", "expected_state": "referred"}))
        ok(w.dev("esx.crg").post(f"/api/v1/cases/{b}/transitions",
                                 {"event": "escalate_to_statutory_leads", "expected_state": "sin_consideration"}))
        ok(w.dev("esx.crg").post(f"/api/v1/cases/{b}/submissions", submission("sin_decision",
                                                                              example("sin_decision"))))
        r = w.dev("esx.hos").post(f"/api/v1/cases/{b}/transitions",
                                  {"event": "notify_panel", "expected_state": "sin_escalated"})
        assert r.status_code == 202, r.text
        listed = {c["case_id"]: c["reference"] for c in ok(business.get("/api/v1/cases"))["cases"]}
        w.refs = {key: listed[case_id] for key, case_id in w.cases.items()}
        yield w
    finally:
        srv.stop()


# -- reads --------------------------------------------------------------------------------------
SEES = {
    "A": {"esx.business", "esx.crg", "esx.hos", "esx.la-lead", "esx.scrutineer", "esx.school-dsl", "esx.health-dsl",
          "esx.health-visitor", "esx.reviewer", "wsx.business"},
    "B": {"esx.business", "esx.crg", "esx.hos", "esx.police-lead", "esx.school-dsl", "esx.health-dsl",
          "esx.health-visitor"},
}
NOT_SEES = {
    "A": {"esx.admin": "admin sees no cases", SECOND_REVIEWER: "reviewer not assigned",
          "esx.police-dsl": "agency not involved", "esx.social-worker": "agency not involved",
          "wsx.school-dsl": "other partnership's agency user"},
    "B": {"esx.admin": "admin sees no cases", "esx.reviewer": "reviewer not assigned",
          "esx.police-dsl": "agency not involved", "wsx.business": "other partnership, not invited",
          SECOND_REVIEWER: "reviewer not assigned"},
}
READ_CELLS = [(case, user, True) for case in SEES for user in sorted(SEES[case])] + [
    (case, user, False) for case in NOT_SEES for user in sorted(NOT_SEES[case])]


@pytest.mark.parametrize("endpoint", ["list", "get", "history", "pull"])
@pytest.mark.parametrize(("case", "user", "visible"), READ_CELLS,
                         ids=[f"{c}-{u}-{'sees' if v else 'not'}" for c, u, v in READ_CELLS])
def test_read(world, endpoint, case, user, visible):
    case_id, dev = world.cases[case], world.dev(user)
    if endpoint == "list":
        ids = [c["case_id"] for c in ok(dev.get("/api/v1/cases"))["cases"]]
        assert (case_id in ids) is visible
    elif endpoint == "pull":
        changes = world.pull_all(user)
        cases = [c for c in changes if c["entity"] == "case" and c["id"] == case_id]
        assert bool(cases) is visible and all(not c.get("deleted") for c in cases)
        if not visible:
            assert case_id not in str(changes)
            if not any(user in seers for seers in SEES.values()):  # every case carries the sentinel
                assert SENTINEL_NAME not in str(changes)
    else:
        r = dev.get(f"/api/v1/cases/{case_id}" + ("/history" if endpoint == "history" else ""))
        if visible:
            assert ok(r)["case_id"] == case_id
        else:
            body = assert_problem(r, 404, "case-not-found")
            assert world.refs[case] not in str(body) and SENTINEL_NAME not in str(body)


def test_admins_see_no_case_at_all(world):
    admin = world.dev("esx.admin")
    assert ok(admin.get("/api/v1/cases"))["cases"] == []
    assert not [c for c in world.pull_all("esx.admin") if c["entity"] in ("case", "submission", "conflict")]


# who sees which agency's return of case A (and the conflicts recorded on it)
RETURNS = [("esx.business", True, True), ("esx.crg", True, True), ("esx.la-lead", True, True),
           ("esx.reviewer", True, True), ("esx.school-dsl", True, False), ("esx.health-dsl", False, True),
           ("esx.health-visitor", False, True), ("wsx.business", False, False)]


@pytest.mark.parametrize(("user", "schools", "hospital"), RETURNS, ids=[r[0] for r in RETURNS])
def test_agency_returns_are_seen_only_by_their_agency_and_the_partnership(world, user, schools, hospital):
    a = world.cases["A"]
    expected = {f"{a}.rapid_review_agency_return.esx-schools": schools,
                f"{a}.rapid_review_agency_return.uh-sussex": hospital}
    view = ok(world.dev(user).get(f"/api/v1/cases/{a}"))
    seen = {s["submission_id"] for s in view["submissions"]}
    pulled = {c["id"] for c in world.pull_all(user) if c["entity"] == "submission" and not c.get("deleted")}
    conflicts = {c["id"] for c in world.pull_all(user) if c["entity"] == "conflict" and not c.get("deleted")}
    for sub_id, may in expected.items():
        assert (sub_id in seen) is may and (sub_id in pulled) is may
    assert (set(world.conflicts) <= conflicts) is schools and (not set(world.conflicts) & conflicts) is not schools
    assert {c["conflict_id"] for c in view["open_conflicts"]} == (set(world.conflicts) if schools else set())
    # everyone who sees the case sees its non-agency forms
    assert f"{a}.crg_referral" in seen and f"{a}.sin_decision" in seen


NOT_FOUND, READ_ONLY = (404, "case-not-found"), (403, "case-read-only")
AGENCY_RETURNS = [("esx.business", {"esx-schools", "uh-sussex"}), ("esx.hos", {"esx-schools", "uh-sussex"}),
                  ("esx.reviewer", {"esx-schools", "uh-sussex"}), ("esx.school-dsl", {"esx-schools"}),
                  ("esx.health-visitor", {"uh-sussex"}), ("wsx.business", (403, "agency-returns-not-shared")),
                  *[(u, NOT_FOUND) for u in ("esx.admin", SECOND_REVIEWER, "esx.police-dsl", "wsx.school-dsl")]]


@pytest.mark.parametrize(("user", "expected"), AGENCY_RETURNS, ids=[u for u, _ in AGENCY_RETURNS])
def test_agency_returns_view(world, user, expected):
    """GET /cases/{id}/agency-returns: the partnership sees every agency, an agency only itself, an
    invited partnership nothing (403: it sees the case), anyone else 404."""
    r = world.dev(user).get(f"/api/v1/cases/{world.cases['A']}/agency-returns")
    if isinstance(expected, set):
        view = ok(r)
        assert {a["agency_id"] for a in view["agencies"]} == expected
        assert {e["agency_id"] for e in view["chronology"]} <= expected
        return
    body = assert_problem(r, *expected)
    assert SENTINEL_NAME not in str(body) and world.refs["A"] not in str(body)


# GET /cases/{id}/submissions/{sub}/revisions: seen exactly as the form itself
HOME = {"esx.business", "esx.crg", "esx.hos", "esx.la-lead", "esx.scrutineer", "esx.reviewer"}
SEES_FORM = {"crg_referral": SEES["A"], "rapid_review_agency_return.esx-schools": HOME | {"esx.school-dsl"},
             "rapid_review_agency_return.uh-sussex": HOME | {"esx.health-dsl", "esx.health-visitor"}}
REVISION_CELLS = [(form, user, (200, None) if user in seers else (404, "submission-not-found"))
                  for form, seers in SEES_FORM.items() for user in sorted(SEES["A"])] + [
    (form, user, NOT_FOUND) for form in SEES_FORM for user in sorted(NOT_SEES["A"])]


@pytest.mark.parametrize(("form", "user", "expected"), REVISION_CELLS,
                         ids=[f"{f.rsplit('.', 1)[-1]}-{u}-{e[0]}" for f, u, e in REVISION_CELLS])
def test_revisions(world, form, user, expected):
    a = world.cases["A"]
    r = world.dev(user).get(f"/api/v1/cases/{a}/submissions/{a}.{form}/revisions")
    if expected[0] == 200:
        body = ok(r)
        assert body["submission_id"] == f"{a}.{form}"
        assert [rev["revision"] for rev in body["revisions"]] == list(range(1, body["version"] + 1))
        return
    body = assert_problem(r, *expected)
    assert SENTINEL_NAME not in str(body) and world.refs["A"] not in str(body)


def test_the_revisions_of_a_return_name_who_wrote_each_from_which_device(world):
    a = world.cases["A"]
    school, business = world.dev("esx.school-dsl"), world.dev("esx.business")
    sub_id = f"{a}.rapid_review_agency_return.esx-schools"
    body = ok(school.get(f"/api/v1/cases/{a}/submissions/{sub_id}/revisions"))
    revs = body["revisions"]
    assert (body["form_id"], body["agency_id"], body["version"]) == ("rapid_review_agency_return", "esx-schools", 3)
    assert [set(r) for r in revs] == [{"revision", "status", "form_version", "at", "by", "device_id", "data"}] * 3
    assert {r["by"] for r in revs} == {world.user_id("esx.school-dsl")} and {r["status"] for r in revs} == {"final"}
    assert revs[0]["device_id"] == revs[1]["device_id"] == school.client.device_id != revs[2]["device_id"]
    assert revs[1]["data"]["learning"] == "Edit one." and revs[0]["data"]["learning"] != "Edit one."
    assert revs[2]["data"]["learning"] == "Edit one."  # the second tablet's clash is in the conflict, not here
    assert all(r["form_version"] == latest("rapid_review_agency_return") for r in revs)
    # audited as a read of the record, ids only; another agency does not see that the school read it
    read = [e for e in ok(business.get(f"/api/v1/cases/{a}/history"))["entries"]
            if e["action"] == "case.read" and e["what"].get("submission_id") == sub_id]
    assert read and read[-1]["by"] == world.user_id("esx.school-dsl") and SENTINEL_NAME not in str(read)
    health = ok(world.dev("esx.health-dsl").get(f"/api/v1/cases/{a}/history"))["entries"]
    assert not [e for e in health if e["what"].get("submission_id") == sub_id]
    # an unknown form, and a form of another case under this case's id: 404 alike
    assert_problem(school.get(f"/api/v1/cases/{a}/submissions/{a}.nope/revisions"), 404, "submission-not-found")
    b = world.cases["B"]
    assert_problem(school.get(f"/api/v1/cases/{a}/submissions/{b}.crg_referral/revisions"), 404,
                   "submission-not-found")


def test_the_invited_partnership_reads_but_never_writes(world):
    view = ok(world.dev("wsx.business").get(f"/api/v1/cases/{world.cases['A']}"))
    assert view["allowed_events"] == [] and view["forms"] == []
    assert not [s for s in view["submissions"] if s["agency_id"]]


# -- writes -------------------------------------------------------------------------------------
def _payload(w: World, kind: str) -> dict:
    return {
        "save_submission": submission("rapid_review_agency_return", school_return(), "draft"),
        "transition": {"event": "start_analysis", "expected_state": "rapid_review"},
        "approve": {"event": "notify_panel", "decision": "approve"},
        "assign_reviewer": {"user_id": w.user_id(SECOND_REVIEWER), "assigned": True},
        "invite_partnership": {"partnership": "brighton-hove"},
        "resolve_conflict": {"conflict_id": w.conflicts[0], "choose": "incoming"},
        "sign_off": {"event": "sign_off_rapid_review", "expected_state": "rapid_review"},
        "request_amendment": {"agency_id": "esx-schools", "reasons": "Please add the missing chronology."},
    }[kind]


ROLE, NOT_APPROVER = (403, "forbidden-role"), (403, "not-an-approver")
HIDDEN = {"esx.admin": NOT_FOUND, SECOND_REVIEWER: NOT_FOUND, "esx.police-dsl": NOT_FOUND,
          "wsx.school-dsl": NOT_FOUND}
WRITE_CELLS = [
    *[("save_submission", "A", u, e) for u, e in {
        **HIDDEN, "wsx.business": READ_ONLY, "esx.business": ROLE, "esx.reviewer": ROLE,
        "esx.health-visitor": (403, "not-your-agency")}.items()],
    *[("transition", "A", u, e) for u, e in {
        **HIDDEN, "wsx.business": READ_ONLY, "esx.health-visitor": ROLE, "esx.school-dsl": ROLE,
        "esx.reviewer": ROLE, "esx.scrutineer": ROLE}.items()],
    # a step of another state is refused before the role is looked at: the caller sees the state anyway
    ("sign_off", "A", "esx.health-visitor", (409, "event-not-possible")),
    *[("approve", "B", u, e) for u, e in {
        **HIDDEN, "wsx.business": NOT_FOUND, "esx.reviewer": NOT_FOUND, "esx.business": NOT_APPROVER,
        "esx.health-visitor": NOT_APPROVER, "esx.scrutineer": NOT_APPROVER}.items()],
    *[("assign_reviewer", "A", u, e) for u, e in {
        **HIDDEN, "wsx.business": READ_ONLY, "esx.school-dsl": ROLE, "esx.reviewer": ROLE, "esx.hos": ROLE}.items()],
    *[("invite_partnership", "A", u, e) for u, e in {
        **HIDDEN, "wsx.business": READ_ONLY, "esx.crg": ROLE, "esx.school-dsl": ROLE, "esx.la-lead": ROLE}.items()],
    *[("resolve_conflict", "A", u, e) for u, e in {
        **HIDDEN, "wsx.business": READ_ONLY, "esx.health-dsl": (404, "conflict-not-found"),
        "esx.business": ROLE, "esx.reviewer": ROLE}.items()],
    *[("request_amendment", "A", u, e) for u, e in {
        **HIDDEN, "wsx.business": READ_ONLY, "esx.school-dsl": ROLE, "esx.health-dsl": ROLE, "esx.reviewer": ROLE,
        "esx.la-lead": ROLE}.items()],
]


def _send(w: World, channel: str, user: str, kind: str, case_id: str | None, payload: dict) -> tuple[int, dict]:
    """One write, online or pushed: (status, problem body or result)."""
    dev = w.dev(user)
    mkind = "transition" if kind == "sign_off" else kind
    if channel == "push":
        result = dev.push(mkind, case_id, payload)
        if result["status"] == "rejected":
            return result["problem"]["status"], result["problem"]
        return 200, result
    if mkind == "create_case":
        r = dev.post("/api/v1/cases", {**payload, "case_id": case_id})
    elif mkind == "request_amendment":
        r = dev.post(f"/api/v1/cases/{case_id}/agency-returns/{payload['agency_id']}/amendment-requests",
                     {"reasons": payload["reasons"]})
    else:
        r = dev.post(f"/api/v1/cases/{case_id}/{PATHS[mkind]}", payload)
    if r.status_code >= 400:
        assert_problem(r, r.status_code)
    return r.status_code, r.json()


@pytest.mark.parametrize("channel", ["online", "push"])
@pytest.mark.parametrize(("kind", "case", "user", "expected"), WRITE_CELLS,
                         ids=[f"{k}-{c}-{u}" for k, c, u, _ in WRITE_CELLS])
def test_refused_write(world, channel, kind, case, user, expected):
    before = world.snapshot(case)
    status, body = _send(world, channel, user, kind, world.cases[case], _payload(world, kind))
    assert (status, body["type"].rsplit("/", 1)[-1]) == expected, body
    assert world.snapshot(case) == before  # nothing left behind: same version, state and history
    text = str(body)
    assert SENTINEL_NAME not in text and SENTINEL_DOB not in text and world.refs[case] not in text
    assert "Edit one." not in text and "Edit two." not in text


CREATE_CELLS = [("esx.admin", ROLE), (SECOND_REVIEWER, ROLE), ("esx.crg", ROLE), ("esx.health-visitor", ROLE),
                ("wsx.school-dsl", (422, "unknown-agency"))]


@pytest.mark.parametrize("channel", ["online", "push"])
@pytest.mark.parametrize(("user", "expected"), CREATE_CELLS, ids=[u for u, _ in CREATE_CELLS])
def test_refused_create_case(world, channel, user, expected):
    case_id = str(uuid.uuid4())
    status, body = _send(world, channel, user, "create_case", case_id, create_payload())
    assert (status, body["type"].rsplit("/", 1)[-1]) == expected, body
    assert SENTINEL_NAME not in str(body) and SENTINEL_DOB not in str(body)
    assert_problem(world.dev("esx.business").get(f"/api/v1/cases/{case_id}"), 404)


# the right users can: each on a case of its own (or a step that leaves the shared cases usable)
def _right(w: World, kind: str) -> tuple[str, str | None, dict, str]:
    if kind == "create_case":
        return "esx.school-dsl", str(uuid.uuid4()), create_payload(), "referred"
    if kind == "save_submission":
        return "esx.health-dsl", w.cases["A"], submission("rapid_review_agency_return",
                                                          school_return("uh-sussex"), "draft"), "rapid_review"
    if kind == "approve":
        return "esx.la-lead", w.cases["B"], _payload(w, "approve"), "sin_escalated"
    if kind == "resolve_conflict":
        return "esx.school-dsl", w.cases["A"], {"conflict_id": w.conflicts[1], "choose": "kept"}, "rapid_review"
    if kind == "request_amendment":
        return "esx.crg", w.cases["A"], _payload(w, kind), "rapid_review"
    case_id = w.dev("esx.school-dsl").open_case()
    if kind == "transition":
        return "esx.business", case_id, {"event": "put_to_crg", "expected_state": "referred"}, "sin_consideration"
    if kind == "assign_reviewer":
        return "esx.crg", case_id, _payload(w, kind), "referred"
    return "esx.business", case_id, _payload(w, kind), "referred"


RIGHT = ["create_case", "save_submission", "transition", "assign_reviewer", "invite_partnership", "approve",
         "resolve_conflict", "request_amendment"]


@pytest.mark.parametrize("kind", RIGHT)
def test_right_user_can(world, kind):
    user, case_id, payload, state = _right(world, kind)
    channel = "push" if kind == "approve" else "online"  # approve online once below: one vote per lead
    status, body = _send(world, channel, user, kind, case_id, payload)
    assert status in (200, 201, 202), body
    business = world.dev("esx.business")
    assert ok(business.get(f"/api/v1/cases/{case_id}"))["state"] == state
    if kind == "approve":
        status, body = _send(world, "online", "esx.health-lead", kind, case_id, payload)
        assert status == 200 and body["pending_approvals"]["event"] == "notify_panel", body
    if kind == "resolve_conflict":
        # resolved, the other agency still cannot learn that it exists
        status, body = _send(world, "online", "esx.health-dsl", kind, case_id, payload)
        assert (status, body["type"].rsplit("/", 1)[-1]) == (404, "conflict-not-found"), body


def test_an_unassigned_reviewer_gets_tombstones(world):
    business, reviewer = world.dev("esx.business"), world.dev(SECOND_REVIEWER)
    case_id = world.dev("esx.school-dsl").open_case()
    ok(business.post(f"/api/v1/cases/{case_id}/assignments", {"user_id": world.user_id(SECOND_REVIEWER)}))
    first = ok(reviewer.get("/api/v1/sync/pull", params={"limit": 500}))
    while first["has_more"]:
        first = ok(reviewer.get("/api/v1/sync/pull", params={"cursor": first["cursor"], "limit": 500}))
    ok(reviewer.get(f"/api/v1/cases/{case_id}"))
    mine = {c["id"] for c in world.pull_all(SECOND_REVIEWER)} | {c["id"] for c in first["changes"]}
    ok(business.post(f"/api/v1/cases/{case_id}/assignments", {"user_id": world.user_id(SECOND_REVIEWER),
                                                              "assigned": False}))
    later = ok(reviewer.get("/api/v1/sync/pull", params={"cursor": first["cursor"], "limit": 500}))["changes"]
    gone = {c["id"]: c for c in later if c.get("deleted")}
    assert case_id in gone and gone[case_id]["entity"] == "case"
    assert SENTINEL_NAME not in str(later)
    assert f"{case_id}.crg_referral" in gone, "the case's forms must be tombstoned too, so the device deletes them"
    assert_problem(reviewer.get(f"/api/v1/cases/{case_id}"), 404, "case-not-found")
    assert mine  # the reviewer had pulled the case before
