"""Duties of the procedure that a form carries (docs/serious-incident.md cites these tests by name).

Each test starts from the form's own valid example, takes out what the paragraph asks for, and
shows the final submission is refused at that field: the duty is modelled by the form, not only
named in the docs.
"""

from __future__ import annotations

import copy
import datetime as dt

import pytest

from forms.registry import FormRegistry

FORMS = FormRegistry.load_default()
TODAY = dt.date(2031, 1, 1)


def example(form_id: str, version: int, n: int = 0) -> dict:
    data = copy.deepcopy(FORMS.get(form_id, version).examples["valid"][n])
    assert errors(form_id, version, data) == []
    return data


def errors(form_id: str, version: int, data: dict) -> list[tuple[str, str]]:
    return [(e.path, e.rule) for e in FORMS.get(form_id, version).errors(data, final=True, today=TODAY)]


def without(data: dict, path: str) -> dict:
    """``data`` with the field at ``a/b/0/c`` removed."""
    out = copy.deepcopy(data)
    *parents, last = path.split("/")
    node = out
    for key in parents:
        node = node[int(key)] if isinstance(node, list) else node[key]
    del node[last]
    return out


PROTECTED = ["sex", "ethnicity", "disability", "religion_or_belief", "sexual_orientation", "gender_reassignment",
             "marriage_or_civil_partnership", "pregnancy_or_maternity"]


@pytest.mark.parametrize(("form_id", "version", "rows"), [
    ("rapid_review_agency_return", 2, "family_members"),
    ("rapid_review_report", 3, "genogram"),
])
def test_1_1_19_the_protected_characteristics_of_each_family_member_are_recorded(form_id, version, rows):
    data = example(form_id, version)
    assert data[rows], "the example has family members"
    for characteristic in PROTECTED:
        path = f"{rows}/0/{characteristic}"
        assert (f"/{path}", "required") in errors(form_id, version, without(data, path))


@pytest.mark.parametrize("path", [
    "child/date_of_birth", "child/gender", "child/ethnicity", "child/disability",  # the child
    "genogram",  # family structure, every child and significant adult
    "immediate_safeguarding",  # of any children involved
    "agencies_involved", "all_agencies_responded",  # which agencies, omissions explained (below)
    "facts",  # a concise summary of the facts
    "lcspr_decision", "decision_reasoning",  # the decision on an LCSPR, with the criteria
    "good_practice", "learning", "dissemination",  # good practice, immediate learning and its sharing
])
def test_1_1_22_the_rapid_review_report_holds_what_the_procedure_lists(path):
    data = example("rapid_review_report", 3)
    assert (f"/{path}", "required") in errors("rapid_review_report", 3, without(data, path))


def test_1_1_22_an_lcspr_sets_out_its_key_lines_of_enquiry_and_a_missing_agency_is_explained():
    data = example("rapid_review_report", 3)
    assert data["lcspr_decision"] == "commission_lcspr"
    assert ("/key_lines_of_enquiry", "required") in errors("rapid_review_report", 3,
                                                           without(data, "key_lines_of_enquiry"))
    missing = {k: v for k, v in data.items() if k != "omissions_explained"}
    missing["all_agencies_responded"] = False
    assert ("/omissions_explained", "required") in errors("rapid_review_report", 3, missing)


def test_1_1_25_other_children_in_the_network_are_safeguarded():
    referral = example("crg_referral", 2)
    assert referral["other_children"], "the example names other children"
    assert ("/other_children/0/immediate_safeguarding", "required") in errors(
        "crg_referral", 2, without(referral, "other_children/0/immediate_safeguarding"))
    report = example("rapid_review_report", 3)
    assert ("/immediate_safeguarding", "required") in errors(
        "rapid_review_report", 3, without(report, "immediate_safeguarding"))


@pytest.mark.parametrize("path", ["summary_of_recommended_improvements", "analysis_of_systemic_reasons"])
def test_1_1_30_1_1_50_the_final_report_has_recommended_improvements_and_a_systemic_analysis(path):
    data = example("lcspr_quality_assurance", 1)
    assert (f"/{path}", "required") in errors("lcspr_quality_assurance", 1, without(data, path))


def test_1_1_53_the_report_or_its_improvements_is_published_with_the_reviewer_named():
    published = {"planned_publication_date": "2027-07-15", "report_type": "full", "published_on": "2027-07-15",
                 "sent_to_panel_on": "2027-07-01", "sent_to_sos_on": "2027-07-01", "sent_to_ofsted_on": "2027-07-01",
                 "url": "https://scp.example.org/lcspr", "nspcc_repository": True, "reviewer_named": True}
    assert errors("publication_record", 2, published) == []
    for path in ("url", "nspcc_repository", "reviewer_named"):
        assert (f"/{path}", "required") in errors("publication_record", 2, without(published, path))
    # where the full report is not published, the improvements are, with the reason
    improvements = {**published, "report_type": "improvements_only"}
    assert ("/improvements_only_reason", "required") in errors("publication_record", 2, improvements)
    assert errors("publication_record", 2, {**improvements, "improvements_only_reason": "Risk to a sibling."}) == []


def test_1_1_51_1_1_54_the_draft_is_checked_as_fit_to_publish_without_harm():
    data = example("lcspr_quality_assurance", 1)
    assert ("/suitable_for_publication", "required") in errors(
        "lcspr_quality_assurance", 1, without(data, "suitable_for_publication"))


def test_1_1_8_the_seriousness_considerations_are_recorded_with_the_lcspr_decision():
    # improvements needed, recurrent themes, two or more organisations working together
    data = example("rapid_review_report", 3)
    options = FORMS.get("rapid_review_report", 3).schema["properties"]["criteria_met"]["items"]["enum"]
    assert {"improvements_needed", "recurrent_themes", "multi_agency_working_concerns"} <= set(options)
    assert ("/criteria_met", "required") in errors("rapid_review_report", 3, without(data, "criteria_met"))
