"""The death notification case types (issue #13 item 4) walked end to end over real HTTP by the demo
users: `looked_after_child_death_notification` (1.1.16, seed 000: a duty, not an option) and
`care_leaver_death_notification` version 2 (its own form, ages 18 to 24, a care leaver under 18
handed to a serious incident). The linked case the hand-off opens: test_linked_cases_http.py."""

from __future__ import annotations

from tests.server.walks import S, T, V, Walk, example

B, HOS, CRG, SCHOOL = "esx.business", "esx.hos", "esx.crg", "esx.school-dsl"
TOLD = {"sos_notified_on": "2026-10-01", "ofsted_notified_on": "2026-10-02"}


def open_notification(w: Walk, case_type: str, data: dict, user: str = HOS, status: int = 201) -> dict:
    r = w.client(user).post("/api/v1/cases", json={"case_type": case_type, "referral": {
        "form_id": "death_notification", "form_version": 1, "data": data}})
    assert r.status_code == status, r.text
    view = r.json()
    if status == 201:
        w.case_id, w.version, w.states = view["case_id"], view["version"], [view["state"]]
    return view


def death(status: str, age: int, **over) -> dict:
    data = {k: v for k, v in example("death_notification").items() if k not in ("sos_notified_on",
                                                                                 "ofsted_notified_on")}
    return {**data, "status_at_death": status, "age_at_death": age, **over}


def test_1_1_16_seed_000_a_looked_after_childs_death_is_notified_to_the_sos_and_ofsted(server):
    w = Walk(server.url)
    opened = open_notification(w, "looked_after_child_death_notification", death("looked_after_child", 15))
    assert (opened["case_type"], opened["state"], opened["deadlines"]) == (
        "looked_after_child_death_notification", "referred", [])  # no seed sets a timescale
    open_notification(Walk(server.url), "looked_after_child_death_notification", death("looked_after_child", 15),
                      user=SCHOOL, status=403)  # the local authority's duty
    w.run([
        V(HOS, allowed=[], forms={"death_notification": "final"}),
        T(HOS, "record_notifications", "referred", 422),  # the dates first: there is no other way on
        S(HOS, "death_notification", death("looked_after_child", 15, **TOLD)),
        T(B, "record_notifications", "referred", 403),
        V(HOS, allowed=["record_notifications"]),
        T(HOS, "record_notifications", "referred"),
        V(B, state="notified", allowed=["close"]),
        T(B, "refer_as_serious_incident", "notified", 422),  # abuse or neglect not suspected
        S(B, "death_notification", death("looked_after_child", 15, abuse_or_neglect="suspected", **TOLD)),
        T(B, "close", "notified", 422),  # suspected abuse: a serious incident, not closed
        T(B, "refer_as_serious_incident", "notified"),  # opens the linked serious incident (version 2)
        V(B, state="referred_as_serious_incident", allowed=[]),
    ])
    link = w.view(B)["links"][0]
    si = w.client(B).get(f"/api/v1/cases/{link['case_id']}").json()
    draft = next(s["data"] for s in si["submissions"] if s["form_id"] == "crg_referral")
    assert (si["state"], draft["child"]["looked_after"], draft["abuse_or_neglect"]) == ("referred", True, "suspected")


def test_1_1_16_a_care_leavers_death_aged_18_to_24_is_notified_without_a_rapid_review(server):
    w = Walk(server.url)
    opened = open_notification(w, "care_leaver_death_notification", death("care_leaver", 20))
    assert opened["case_type_version"] == 3 and opened["deadlines"] == []
    w.run([
        T(HOS, "refer_as_serious_incident", "referred", 422),  # an adult: not a SIN
        S(HOS, "death_notification", death("care_leaver", 25, **TOLD)),
        T(HOS, "record_notifications", "referred", 422),  # 25: not a care leaver notification (1.1.16)
        S(HOS, "death_notification", death("care_leaver", 24, **TOLD)),
        T(HOS, "record_notifications", "referred"),
        V(B, state="notified", allowed=["close"]),
        T(B, "close", "notified"),
        V(B, state="closed", allowed=[]),
    ])
    assert w.states == ["referred", "notified", "closed"]  # no rapid review, no LCSPR


def test_1_1_16_a_care_leaver_under_18_is_handed_to_a_serious_incident(server):
    w = Walk(server.url)
    open_notification(w, "care_leaver_death_notification", death("care_leaver", 17))
    w.run([
        T(HOS, "record_notifications", "referred", 422),  # not 18 to 24
        T(HOS, "refer_as_serious_incident", "referred"),  # opens the linked serious incident (version 3)
        V(B, state="referred_as_serious_incident"),
    ])
    assert [link["case_type"] for link in w.view(B)["links"]] == ["serious_incident"]
    # the form has no harm branch and no name
    schema = w.client(B).get("/api/v1/forms/death_notification/versions/1").json()["schema"]
    assert not {"harm_details", "death_or_serious_harm", "child", "name"} & set(schema["properties"])
    assert w.client(CRG).get(w.path("")).status_code == 200


def jar(**over) -> dict:
    data = example("jar_referral")
    data.pop("jar_held_on", None)
    data.pop("abuse_or_neglect_suggested", None)
    return {**data, **over}


def open_jar(w: Walk, data: dict, user: str = "esx.health-dsl") -> dict:
    r = w.client(user).post("/api/v1/cases", json={"case_type": "child_death_jar_referral", "referral": {
        "form_id": "jar_referral", "form_version": 1, "data": data}})
    assert r.status_code == 201, r.text
    view = r.json()
    w.case_id, w.version, w.states = view["case_id"], view["version"], [view["state"]]
    return view


def test_1_1_65_1_1_66_a_jar_whose_findings_suggest_abuse_or_neglect_leads_to_a_serious_incident(server):
    w = Walk(server.url)
    open_jar(w, jar())  # sudden, no apparent cause
    w.run([
        T(B, "close_without_jar", "referred", 422),  # a criterion holds: a JAR is required
        T(B, "start_jar", "referred"),
        V(HOS, state="jar_in_progress", allowed=[], forms={"jar_referral": "final"}),
        S(HOS, "jar_referral", jar(jar_held_on="2026-09-29", abuse_or_neglect_suggested="yes")),
        T(HOS, "close_after_jar", "jar_in_progress", 422),  # abuse suggested: not closed
        T(HOS, "refer_as_serious_incident", "jar_in_progress"),  # opens the linked serious incident (version 2)
        V(B, state="referred_as_serious_incident", allowed=[]),
    ])
    assert [link["case_type"] for link in w.view(B)["links"]] == ["serious_incident"]


def test_1_1_64_1_1_65_no_criterion_no_jar_and_a_jar_that_finds_nothing_closes(server):
    none = {k: False for k in ("external_causes", "sudden_no_apparent_cause", "in_custody_or_detained",
                               "suspicious_circumstances", "unattended_stillbirth")}
    w = Walk(server.url)
    open_jar(w, jar(**none))
    w.run([T(B, "start_jar", "referred", 422), T(B, "close_without_jar", "referred"), V(B, state="closed")])
    w2 = Walk(server.url)
    open_jar(w2, jar(external_causes=True))
    w2.run([
        T(B, "start_jar", "referred"),
        T(B, "close_after_jar", "jar_in_progress", 422),  # the JAR's date and findings first
        S(B, "jar_referral", jar(external_causes=True, jar_held_on="2026-09-29", abuse_or_neglect_suggested="no")),
        T(B, "close_after_jar", "jar_in_progress"),
        V(B, state="closed"),
    ])
