"""The pure reconciliation of the agencies' rapid-review returns (sync.agency_returns.reconcile)."""

from __future__ import annotations

import copy

from hypothesis import given
from hypothesis import strategies as st

from forms.registry import FormRegistry
from sync.agency_returns import (
    ReturnRecord,
    merge_chronology,
    normalise_name,
    normalise_relationship,
    own_agency_only,
    reconcile,
)

BASE = FormRegistry.load_default().latest("rapid_review_agency_return").examples["valid"][0]
AGENCIES = ["esx-schools", "sussex-police", "uh-sussex"]
CASE = {"case_id": "c1", "reference": "ESX-2026-0001", "state": "rapid_review", "involved_agencies": AGENCIES,
        "state_history": [{"state": "referred", "entered_on": "2026-03-02"},
                          {"state": "rapid_review", "entered_on": "2026-03-04"}]}
OVERDUE = {"name": "rapid_review_report", "due": "2026-03-25", "status": "overdue"}
RUNNING = {"name": "rapid_review_report", "due": "2026-03-25", "status": "pending"}


def data(agency, *, dob="2023-04-02", ethnicity="white_british", family=(("Adult B", "Mother"),), chronology=()):
    d = copy.deepcopy(BASE)
    d["agency_id"] = agency
    d["child"]["date_of_birth"], d["child"]["ethnicity"] = dob, ethnicity
    d["family_members"] = [{**BASE["family_members"][1], "row_id": f"f{i}", "name": n, "relationship": r}
                           for i, (n, r) in enumerate(family)]
    d["chronology"] = [{"row_id": rid, "date": day, "contact_type": "other", "contact_type_other": "x",
                        "summary": f"{agency} {rid}"} for rid, day in chronology]
    return d


def record(*saves, amendment=None):
    """saves: (status, data, by) oldest first, as the write path stores them."""
    revisions = [{"revision": i + 1, "status": s, "form_version": 2, "data": d, "at": f"2026-03-0{i + 5}T10:00:00Z",
                  "by": by} for i, (s, d, by) in enumerate(saves)]
    last_status = saves[-1][0]
    sub = {"submission_id": "sub", "status": last_status, "form_version": 2, "data": saves[-1][1]}
    if amendment:
        revisions.append({"revision": len(revisions) + 1, "status": "returned_for_amendment", "form_version": 2,
                          "data": saves[-1][1], "at": "2026-03-20T10:00:00Z", "by": "crg"})
        if last_status == "final":
            sub["status"] = "returned_for_amendment"
        sub["amendment_requested"] = amendment
        sub["amendment_requests"] = [amendment]
    return ReturnRecord(sub, len(revisions), revisions)


def test_each_status_and_who_returned_what():
    ask = {"request_no": 1, "reasons": "Add the missed visits", "requested_by": "crg"}
    view = reconcile(CASE, {
        "esx-schools": record(("draft", data("esx-schools"), "u1"), ("final", data("esx-schools"), "u2")),
        "sussex-police": record(("final", data("sussex-police"), "p1"), amendment=ask),
    }, clock=RUNNING, agency_names={"esx-schools": "East Sussex schools"})
    lines = {a["agency_id"]: a for a in view["agencies"]}
    assert [a["agency_id"] for a in view["agencies"]] == AGENCIES  # who was asked, in the referral's order
    school = lines["esx-schools"]
    assert school["status"] == "returned" and school["returned_by"] == "u2"
    assert school["returned_at"] == "2026-03-06T10:00:00Z" and school["form_version"] == 2
    assert (school["revisions"], school["final_submissions"]) == (2, 1)
    assert school["agency_name"] == "East Sussex schools" and school["amendment_request"] is None
    police = lines["sussex-police"]
    assert police["status"] == "returned_for_amendment" and police["amendment_request"] == ask
    assert police["returned_by"] == "p1" and police["amendment_requests"] == 1
    assert police["revisions"] == 1  # the send-back is not a save of the agency's
    assert lines["uh-sussex"]["status"] == "requested" and lines["uh-sussex"]["returned_by"] is None
    assert not any(a["overdue"] for a in view["agencies"])  # the clock is still running
    assert view["summary"] == {"asked": 3, "returned": 1, "outstanding": ["sussex-police", "uh-sussex"],
                               "overdue": []}
    assert view["requested_on"] == "2026-03-04"


def test_a_draft_after_a_send_back_keeps_it_open_and_a_new_final_clears_it():
    ask = {"request_no": 1, "reasons": "r"}
    drafting = record(("final", data("esx-schools"), "u"), ("draft", data("esx-schools"), "u"), amendment=ask)
    assert reconcile(CASE, {"esx-schools": drafting})["agencies"][0]["status"] == "returned_for_amendment"
    cleared = record(("final", data("esx-schools"), "u"), ("final", data("esx-schools"), "u"))
    cleared.submission["amendment_requests"] = [ask]
    line = reconcile(CASE, {"esx-schools": cleared})["agencies"][0]
    assert line["status"] == "returned" and line["amendment_request"] is None and line["amendment_requests"] == 1


def test_overdue_only_when_the_clock_is_overdue_and_the_return_is_not_in():
    view = reconcile(CASE, {"esx-schools": record(("final", data("esx-schools"), "u")),
                            "sussex-police": record(("draft", data("sussex-police"), "u"))}, clock=OVERDUE)
    assert {a["agency_id"]: a["overdue"] for a in view["agencies"]} == {
        "esx-schools": False, "sussex-police": True, "uh-sussex": True}
    assert view["summary"]["overdue"] == ["sussex-police", "uh-sussex"]
    assert view["rapid_review_clock"] == {"due": "2026-03-25", "status": "overdue"}
    assert reconcile(CASE, {}, clock=None)["rapid_review_clock"] is None
    met = reconcile(CASE, {}, clock={**OVERDUE, "status": "missed"})  # the report went late: no longer awaited
    assert not any(a["overdue"] for a in met["agencies"])


def test_an_explained_omission_is_shown_on_the_missing_returns_only():
    view = reconcile(CASE, {"esx-schools": record(("final", data("esx-schools"), "u"))},
                     report={"omissions_explained": "Police return awaited; health had no contact."})
    lines = {a["agency_id"]: a for a in view["agencies"]}
    assert lines["esx-schools"]["omission_explained"] is None
    assert lines["uh-sussex"]["omission_explained"].startswith("Police return awaited")
    assert view["omissions_explained"].startswith("Police return awaited")
    assert reconcile(CASE, {}, report={"lcspr_decision": "no_lcspr"})["agencies"][0]["omission_explained"] is None


def test_the_chronology_is_merged_by_date_with_stable_ties_and_drafts_left_out():
    view = reconcile(CASE, {
        "uh-sussex": record(("final", data("uh-sussex", chronology=[("h2", "2025-02-03"), ("h1", "2025-01-14"),
                                                                    ("h3", "2025-01-14")]), "u")),
        "esx-schools": record(("final", data("esx-schools", chronology=[("s1", "2025-01-14"),
                                                                        ("s2", "2024-12-01")]), "u")),
        "sussex-police": record(("draft", data("sussex-police", chronology=[("p1", "2025-01-01")]), "u")),
    })
    assert [(e["date"], e["agency_id"], e["row_id"]) for e in view["chronology"]] == [
        ("2024-12-01", "esx-schools", "s2"),
        ("2025-01-14", "esx-schools", "s1"),
        ("2025-01-14", "uh-sussex", "h1"),  # same day, same agency: the agency's own order
        ("2025-01-14", "uh-sussex", "h3"),
        ("2025-02-03", "uh-sussex", "h2"),
    ]
    entry = view["chronology"][0]
    assert entry["summary"] == "esx-schools s2" and entry["contact_type"] == "other" and "provisional" not in entry


def test_a_return_sent_back_still_counts_with_its_rows_marked_provisional():
    sent_back = record(("final", data("sussex-police", chronology=[("p1", "2025-01-01")]), "u"),
                       ("draft", data("sussex-police", chronology=[("p1", "2025-01-01"), ("p2", "2025-01-02")]), "u"),
                       amendment={"request_no": 1, "reasons": "r"})
    rows = reconcile(CASE, {"sussex-police": sent_back})["chronology"]
    assert [(e["row_id"], e.get("provisional")) for e in rows] == [("p1", True)]  # the final, not the draft


def test_disagreements_about_the_child_name_the_agencies_holding_each_value():
    view = reconcile(CASE, {
        "esx-schools": record(("final", data("esx-schools", dob="2023-04-02", ethnicity="white_british"), "u")),
        "uh-sussex": record(("final", data("uh-sussex", dob="2023-04-02", ethnicity="White_British "), "u")),
        "sussex-police": record(("final", data("sussex-police", dob="2023-02-04", ethnicity="not_known"), "u")),
    }, referral={"child": {"date_of_birth": "2023-04-02", "ethnicity": "mixed_other"}})
    found = {d["field"]: d for d in view["disagreements"]}
    assert set(found) == {"child.date_of_birth"}  # ethnicity agrees once normalised; not_known is no value
    dob = found["child.date_of_birth"]
    assert dob["values"] == [{"value": "2023-04-02", "agencies": ["esx-schools", "uh-sussex"]},
                             {"value": "2023-02-04", "agencies": ["sussex-police"]}]
    assert dob["referral_value"] == "2023-04-02" and dob["not_recorded_by"] == []
    eth = reconcile(CASE, {
        "esx-schools": record(("final", data("esx-schools", ethnicity="white_british"), "u")),
        "uh-sussex": record(("final", data("uh-sussex", ethnicity="white_irish"), "u")),
        "sussex-police": record(("final", data("sussex-police", ethnicity="not_stated"), "u")),
    })["disagreements"]
    assert eth == [{"field": "child.ethnicity", "referral_value": None, "not_recorded_by": ["sussex-police"],
                    "values": [{"value": "white_british", "agencies": ["esx-schools"]},
                               {"value": "white_irish", "agencies": ["uh-sussex"]}]}]


def test_family_members_compared_as_normalised_name_relationship_sets():
    assert normalise_name("  Adult   B. ") == normalise_name("adult b") == "adult b"
    assert normalise_name("O'Neil-Smith") == "oneil smith"
    assert normalise_relationship("Mum") == normalise_relationship("mother") == "mother"
    same = reconcile(CASE, {
        "esx-schools": record(("final", data("esx-schools", family=[("Adult B", "Mother"), ("Adult C", "Dad")]), "u")),
        "uh-sussex": record(("final", data("uh-sussex", family=[("adult  b.", "Mum"), ("ADULT C", "father")]), "u")),
    })
    assert same["disagreements"] == []
    view = reconcile(CASE, {
        "esx-schools": record(("final", data("esx-schools", family=[("Adult B", "Mother"), ("Adult C", "Father")]),
                               "u")),
        "uh-sussex": record(("final", data("uh-sussex", family=[("Adult B", "mum"), ("Adult C", "Father")]), "u")),
        "sussex-police": record(("final", data("sussex-police", family=[("Adult B", "Stepmother"),
                                                                        ("Adult D", "Partner")]), "u")),
    })
    (family,) = view["disagreements"]
    assert family["field"] == "family_members"
    assert [v["agencies"] for v in family["values"]] == [["esx-schools", "uh-sussex"], ["sussex-police"]]
    assert family["values"][1]["value"] == [{"name": "Adult B", "relationship": "Stepmother"},
                                            {"name": "Adult D", "relationship": "Partner"}]
    members = {m["name"]: m for m in family["members"]}
    assert set(members) == {"Adult B", "Adult C", "Adult D"}
    assert members["Adult B"]["relationships"] == [
        {"relationship": "Mother", "agencies": ["esx-schools", "uh-sussex"]},
        {"relationship": "Stepmother", "agencies": ["sussex-police"]}]
    assert members["Adult B"]["not_listed_by"] == []
    assert members["Adult C"]["not_listed_by"] == ["sussex-police"]
    assert members["Adult D"]["not_listed_by"] == ["esx-schools", "uh-sussex"]


def test_one_return_or_none_gives_no_disagreement():
    assert reconcile(CASE, {})["disagreements"] == [] and reconcile(CASE, {})["chronology"] == []
    one = reconcile(CASE, {"esx-schools": record(("final", data("esx-schools", dob="2020-01-01"), "u"))})
    assert one["disagreements"] == []


def test_an_agency_sees_only_its_own_line_and_rows():
    view = reconcile(CASE, {
        "esx-schools": record(("final", data("esx-schools", dob="2020-01-01", chronology=[("s1", "2025-01-01")]),
                               "u")),
        "uh-sussex": record(("final", data("uh-sussex", dob="2021-01-01", chronology=[("h1", "2025-01-01")]), "u")),
    }, clock=OVERDUE, report={"omissions_explained": "Police late."})
    assert view["disagreements"]
    mine = own_agency_only(view, "uh-sussex")
    assert [a["agency_id"] for a in mine["agencies"]] == ["uh-sussex"]
    assert [e["row_id"] for e in mine["chronology"]] == ["h1"]
    assert mine["disagreements"] == [] and mine["omissions_explained"] is None
    assert mine["summary"] == {"asked": 1, "returned": 1, "outstanding": [], "overdue": []}
    assert "esx-schools" not in str(mine) and "2020-01-01" not in str(mine)


ROWS = st.lists(st.tuples(st.sampled_from(["2025-01-01", "2025-01-02", "2025-02-01"]),
                          st.text("abc", min_size=1, max_size=3)), max_size=6)


@given(st.dictionaries(st.sampled_from(AGENCIES), ROWS, max_size=3))
def test_the_merged_chronology_is_sorted_complete_and_independent_of_input_order(rows_by_agency):
    data_by_agency = {a: {"chronology": [{"row_id": f"r{i}", "date": d, "summary": s} for i, (d, s) in enumerate(rows)]}
                      for a, rows in rows_by_agency.items()}
    merged = merge_chronology(data_by_agency)
    assert len(merged) == sum(len(r) for r in rows_by_agency.values())
    keys = [(e["date"], e["agency_id"], int(e["row_id"][1:])) for e in merged]
    assert keys == sorted(keys)
    assert merge_chronology(dict(reversed(list(data_by_agency.items())))) == merged
