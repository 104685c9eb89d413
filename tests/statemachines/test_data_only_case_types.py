"""A new case type is data only: a YAML file dropped beside the shipped ones is checked against the
real forms catalogue, loaded by the registry and walked, with no Python change."""

from __future__ import annotations

import datetime as dt
import shutil
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from statemachines import Actor, CaseTypeRegistry, TransitionRefused, default_definitions_dir
from statemachines.cli import check_cli, form_catalogue

from .helpers import BUSINESS, HOS

LEARNING_REVIEW = textwrap.dedent(
    """
    # A below-threshold multi-agency learning review: no SIN, no National Panel.
    case_type: learning_review
    version: 1
    title: Multi-agency learning review
    states:
      referred:
        initial: true
        forms:
          crg_referral: [agency_safeguarding_lead, business_team]
        notify:
          - roles: [business_team]
      reviewing:
        forms:
          learning_briefing: [crg_member, business_team]
          action_plan: [business_team, agency_safeguarding_lead]
        notify:
          - roles: [crg_member]
          - involved_agencies: [agency_safeguarding_lead]
      awaiting_sign_off:
        notify:
          - roles: [independent_scrutineer]
      closed:
        final: true
    forms_in_all_states:
      delay_notice: {roles: [business_team]}
    transitions:
      - event: accept_referral
        from: referred
        to: reviewing
        roles: [business_team]
        requires_forms: [crg_referral]
        guard: crg_referral.death_or_serious_harm == "neither" or crg_referral.death_or_serious_harm == "not_yet_known"
        reason: A death or serious harm goes to the SIN route (serious_incident), not a learning review.
      - event: submit_learning
        from: reviewing
        to: awaiting_sign_off
        roles: [crg_member]
        requires_forms: [learning_briefing, action_plan]
        guard: len(learning_briefing.learning_points) > 0 and is_set(action_plan.signed_off_on)
        reason: The briefing needs learning points and the action plan a sign-off date.
      - event: sign_off
        from: awaiting_sign_off
        to: closed
        roles: [business_team]
        approvals:
          - {role: independent_scrutineer}
      - event: send_back
        from: awaiting_sign_off
        to: reviewing
        roles: [business_team, independent_scrutineer]
    deadlines:
      - name: learning_shared
        title: Learning shared
        starts: crg_referral.referral_date
        due: {calendar_months_after: 3}
        stop:
          on_entering: [closed]
    """
)


@pytest.fixture
def definitions(tmp_path: Path) -> Path:
    directory = tmp_path / "definitions"
    shutil.copytree(default_definitions_dir(), directory)
    (directory / "learning_review.yaml").write_text(LEARNING_REVIEW)
    return directory


def test_a_new_yaml_file_is_a_new_case_type(definitions: Path):
    catalogue, why = form_catalogue()
    assert catalogue is not None, why
    registry = CaseTypeRegistry.load_dir(definitions, catalogue)
    assert [ct.case_type for ct in registry.case_types()] == [
        "care_leaver_death_notification",
        "child_death_jar_referral",
        "learning_review",
        "looked_after_child_death_notification",
        "national_review_contribution",
        "practice_learning_review",
        "serious_incident",
    ]
    lr = registry.get("learning_review")
    assert lr.initial_state == "referred"
    forms = {
        "crg_referral": {"death_or_serious_harm": "neither", "referral_date": "2027-01-11"},
        "learning_briefing": {"learning_points": [{"point": "Share records sooner"}]},
        "action_plan": {"signed_off_on": "2027-02-01", "actions": []},
    }
    crg, scrutineer = Actor(["crg_member"]), Actor(["independent_scrutineer"])
    state = lr.fire("referred", "accept_referral", actor=BUSINESS, forms=forms)
    state = lr.fire(state, "submit_learning", actor=crg, forms=forms)
    assert lr.evaluate(state, "sign_off", BUSINESS, forms).waiting_for_approvals
    with pytest.raises(TransitionRefused):
        lr.fire(state, "sign_off", actor=BUSINESS, forms=forms)
    from statemachines import Vote

    votes = [Vote("independent_scrutineer", None, "approve", "scrutineer")]
    assert lr.fire(state, "sign_off", actor=BUSINESS, forms=forms, votes=votes) == "closed"
    assert lr.allowed_events("awaiting_sign_off", scrutineer) == ["send_back"]
    clock = lr.deadlines(forms, [("referred", dt.date(2027, 1, 11))], dt.date(2027, 4, 12))[0]
    assert (clock.name, clock.due, clock.status) == ("learning_shared", dt.date(2027, 4, 11), "overdue")
    assert "referred --> reviewing : Accept referral [guard]" in lr.mermaid()
    assert lr.describe()["transitions"][2]["approvals_needed"] == [{"role": "independent_scrutineer", "sector": None}]
    # its guard refuses a death: that is the serious_incident route
    with pytest.raises(TransitionRefused) as exc:
        lr.fire(
            "referred", "accept_referral", actor=BUSINESS, forms={"crg_referral": {"death_or_serious_harm": "died"}}
        )
    assert "SIN route" in exc.value.reasons[0]


def test_caseflow_check_and_describe_see_the_new_type(definitions: Path):
    runner = CliRunner()
    ok = runner.invoke(check_cli, [str(definitions)])
    assert ok.exit_code == 0, ok.output
    shipped = len(list(default_definitions_dir().glob("*.yaml")))
    assert f"case types OK ({shipped + 1} file(s), 0 warning(s))" in ok.output  # the shipped ones and the new one
    described = runner.invoke(check_cli, ["describe", "learning_review", "--dir", str(definitions)])
    assert described.exit_code == 0 and '"case_type": "learning_review"' in described.output
    diagram = runner.invoke(check_cli, ["diagram", "learning_review", "--dir", str(definitions)])
    assert diagram.output.startswith("stateDiagram-v2")
    # a field the forms do not have is caught by the real catalogue
    (definitions / "learning_review.yaml").write_text(
        LEARNING_REVIEW.replace("learning_briefing.learning_points", "learning_briefing.lessons")
    )
    bad = runner.invoke(check_cli, [str(definitions)])
    assert bad.exit_code == 1
    assert "learning_review.yaml: transitions[1].guard: unknown field learning_briefing.lessons" in bad.output


def test_the_shipped_second_case_type_walks_both_ways():
    ct = CaseTypeRegistry.load_default().get("care_leaver_death_notification", 1)  # running cases
    referral = {"child": {"care_leaver": True, "date_of_birth": "2010-02-01"}, "incident_date": "2027-01-02"}
    notified = {"sos_notified_on": "2027-01-04", "ofsted_notified_on": "2027-01-05"}
    state = ct.fire("referred", "consider_notification", actor=BUSINESS, forms={"crg_referral": referral})
    assert ct.fire(state, "record_notifications", actor=HOS, forms={"sin_decision": notified}) == "closed"
    # aged 16 and both SIN criteria: referred on as a serious incident
    sin = {**notified, "child_died_or_seriously_harmed": True, "abuse_or_neglect_known_or_suspected": True}
    forms = {"crg_referral": referral, "sin_decision": sin}
    assert ct.fire(state, "refer_as_serious_incident", actor=HOS, forms=forms) == "referred_as_serious_incident"
    adult = {**referral, "child": {"care_leaver": True, "date_of_birth": "2004-02-01"}}
    with pytest.raises(TransitionRefused):
        ct.fire(state, "refer_as_serious_incident", actor=HOS, forms={**forms, "crg_referral": adult})
    # not a care leaver: not this case type
    with pytest.raises(TransitionRefused):
        ct.fire("referred", "consider_notification", actor=BUSINESS, forms={"crg_referral": {"child": {}}})
