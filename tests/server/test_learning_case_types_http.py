"""The learning case types of issue #13 item 4, walked end to end over real HTTP by the demo users:
`national_review_contribution` (1.1.63, seed 003) and `practice_learning_review` for cases below the
serious incident threshold (1.1.3, 1.1.12, seed 004)."""

from __future__ import annotations

from tests.server.walks import K, S, T, V, Walk, example

B, CRG, SCRUTINEER, SCHOOL, POLICE = "esx.business", "esx.crg", "esx.scrutineer", "esx.school-dsl", "esx.police-dsl"


def open_case(w: Walk, user: str, case_type: str, form_id: str, data: dict, status: int = 201) -> dict:
    r = w.client(user).post("/api/v1/cases", json={"case_type": case_type, "referral": {
        "form_id": form_id, "form_version": 1, "data": data}})
    assert r.status_code == status, r.text
    view = r.json()
    if status == 201:
        w.case_id, w.version, w.states = view["case_id"], view["version"], [view["state"]]
    return view


def national(**over) -> dict:
    return {**example("national_review_contribution"), **over}


def test_1_1_63_seed_003_the_partnership_contributes_to_a_national_review_and_uses_its_learning(server):
    w = Walk(server.url)
    open_case(Walk(server.url), SCHOOL, "national_review_contribution", "national_review_contribution",
              national(), status=403)  # the partnership's contribution, not an agency's
    opened = open_case(w, B, "national_review_contribution", "national_review_contribution", national())
    assert (opened["state"], opened["deadlines"]) == ("commissioned", [])  # no seed sets a timescale
    w.run([
        V(B, allowed=["start_contribution"], forms={"national_review_contribution": "final"}),
        V(CRG, allowed=[]),  # the business team starts it
        T(CRG, "start_contribution", "commissioned", 403),
        T(B, "start_contribution", "commissioned"),
        T(B, "send_contribution", "contributing", 422),  # the date it was sent, and the agencies' information
        S(B, "national_review_contribution", national(contribution_sent_on="2026-11-10")),
        T(B, "send_contribution", "contributing", 422),  # every agency's information gathered first
        K(B, "agencies_information_gathered", date="2026-11-09"),
        T(B, "send_contribution", "contributing"),
        T(B, "record_national_report", "awaiting_report", 422),  # not published yet
        S(CRG, "national_review_contribution", national(contribution_sent_on="2026-11-10",
                                                        national_report_published_on="2026-11-20")),
        T(CRG, "record_national_report", "awaiting_report"),
        S(CRG, "national_review_contribution", national(
            contribution_sent_on="2026-11-10", national_report_published_on="2026-11-20",
            local_learning="Bruising in non-mobile babies: the partnership's protocol is revised.")),
        T(CRG, "close", "using_learning", 422),  # the learning into the programme first (1.1.3)
        K(CRG, "learning_into_programme", date="2026-11-24", note="Added to the spring training programme."),
        T(CRG, "close", "using_learning"),
        V(B, state="closed", allowed=[]),
    ])
    assert w.states == ["commissioned", "contributing", "awaiting_report", "using_learning", "closed"]
    bad = national(criteria=["because"])
    r = w.client(B).post("/api/v1/cases", json={"case_type": "national_review_contribution", "referral": {
        "form_id": "national_review_contribution", "form_version": 1, "data": bad}})
    assert r.status_code == 422 and "/criteria" in r.text  # only the three criteria of 1.1.63


def referral(**over) -> dict:
    return {**example("practice_learning_referral"), **over}


def decision(choice: str) -> dict:
    return {**example("practice_learning_decision"), "decision": choice}


def test_1_1_3_1_1_12_seed_004_a_case_below_the_threshold_is_reviewed_and_followed_through(server):
    w = Walk(server.url)
    opened = open_case(w, SCHOOL, "practice_learning_review", "practice_learning_referral", referral())
    assert (opened["state"], opened["deadlines"]) == ("referred", [])
    assert w.client(POLICE).get(w.path("")).status_code == 404  # an agency not involved sees nothing
    w.run([
        T(CRG, "start_review", "referred", 422),  # the CRG's decision first
        S(SCHOOL, "practice_learning_decision", decision("multi_agency_learning_review"), status=403),
        S(CRG, "practice_learning_decision", decision("no_further_action")),
        T(CRG, "start_review", "referred", 422),  # the decision was no further action
        S(CRG, "practice_learning_decision", decision("multi_agency_learning_review")),
        T(CRG, "refer_as_serious_incident", "referred", 422),  # not the CRG's decision
        T(CRG, "start_review", "referred", 422),  # the scrutineer's feedback first (1.1.3)
        K(CRG, "scrutineer_feedback", date="2026-10-12", choice="agrees", status=403),
        K(SCRUTINEER, "scrutineer_feedback", date="2026-10-12", choice="agrees"),
        T(B, "start_review", "referred", 403),
        T(CRG, "start_review", "referred"),
        V(B, state="in_review", allowed=[]),  # the action followed through and a briefing first
        S(B, "learning_briefing", example("learning_briefing")),
        T(B, "share_learning", "in_review", 422),
        K(B, "action_followed_through", date="2026-12-01", note="Learning event held with both agencies."),
        T(B, "share_learning", "in_review"),
        V(SCHOOL, state="closed", allowed=[]),
    ])
    assert w.states == ["referred", "in_review", "closed"]


def test_1_1_12_a_referral_that_meets_the_threshold_after_all_goes_to_a_serious_incident(server):
    w = Walk(server.url)
    open_case(w, SCHOOL, "practice_learning_review", "practice_learning_referral",
              referral(critical_incident_or_death="serious_harm", abuse_or_neglect="suspected"))
    w.run([
        S(CRG, "practice_learning_decision", decision("single_agency_review")),
        K(SCRUTINEER, "scrutineer_feedback", date="2026-10-12", choice="concerns_raised"),
        T(CRG, "start_review", "referred", 422),  # serious harm: not a case below the threshold
        S(CRG, "practice_learning_decision", decision("serious_incident_notification")),
        T(CRG, "refer_as_serious_incident", "referred", 422),  # the serious incident's reference first
        K(CRG, "serious_incident_opened", date="2026-10-13", note="Serious incident ESX-2026-0045 opened."),
        T(CRG, "refer_as_serious_incident", "referred"),
        V(B, state="referred_as_serious_incident", allowed=[]),
    ])
