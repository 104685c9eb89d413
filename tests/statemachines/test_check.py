"""The definition checker: each deliberately broken definition is refused at load, and every
error names the file and the path inside it."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from statemachines import CaseTypeRegistry, DefinitionInvalid
from statemachines.check import check_paths, parse_and_check

CATALOGUE = {
    "referral": {"received_on", "child.date_of_birth", "agencies", "items[].status"},
    "decision": {"outcome", "decided_on"},
}

BASE = {
    "case_type": "mini",
    "version": 1,
    "title": "A minimal case type",
    "states": {
        "open": {"initial": True, "forms": {"referral": ["business_team"]}, "notify": [{"roles": ["crg_member"]}]},
        "deciding": {"forms": {"decision": ["crg_member"]}},
        "done": {"final": True},
    },
    "transitions": [
        {"event": "start", "from": "open", "to": "deciding", "roles": ["business_team"],
         "requires_forms": ["referral"]},
        {"event": "finish", "from": ["deciding"], "to": "done", "roles": ["crg_member"],
         "approvals": [{"role": "statutory_lead", "sector": "police"}],
         "guard": 'decision.outcome == "yes"', "reason": "The decision must say yes."},
    ],
    "deadlines": [
        {"name": "decide", "starts": "referral.received_on", "due": {"working_days_after": 5},
         "stop": {"when_set": ["decision.decided_on"], "on_entering": ["done"]}},
    ],
}  # fmt: skip


def errors_of(mutate, catalogue=CATALOGUE) -> list[str]:
    raw = copy.deepcopy(BASE)
    mutate(raw)
    _, errors = parse_and_check(raw, "mini.yaml", catalogue)
    return [str(e) for e in errors]


def test_the_base_is_valid():
    assert errors_of(lambda raw: None) == []
    assert errors_of(lambda raw: None, catalogue=None) == []


def _set(path, value):
    def mutate(raw):
        node = raw
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value

    return mutate


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (
            _set(["transitions", 0, "to"], "decidin"),
            "mini.yaml: transitions[0].to: unknown state 'decidin' (did you mean",
        ),
        (_set(["transitions", 1, "from"], ["nowhere"]), "mini.yaml: transitions[1].from[0]: unknown state 'nowhere'"),
        (_set(["transitions", 0, "roles"], ["chief"]), "mini.yaml: transitions[0].roles: unknown role 'chief'"),
        (
            _set(["transitions", 1, "approvals"], [{"role": "statutory_lead", "sector": "army"}]),
            "mini.yaml: transitions[1].approvals[0].sector: unknown sector 'army'",
        ),
        (
            _set(["transitions", 1, "approvals"], [{"role": "statutory_leed"}]),
            "mini.yaml: transitions[1].approvals[0].role: unknown role 'statutory_leed' (did you mean statutory_lead?)",
        ),
        (
            _set(["transitions", 1, "guard"], 'decision.outcom == "yes"'),
            "mini.yaml: transitions[1].guard: unknown field decision.outcom (did you mean decision.outcome?)",
        ),
        (
            _set(["transitions", 1, "guard"], 'decison.outcome == "yes"'),
            "mini.yaml: transitions[1].guard: unknown form 'decison' in decison.outcome",
        ),
        (
            _set(["transitions", 1, "guard"], "returns.everything"),
            "mini.yaml: transitions[1].guard: unknown context value returns.everything",
        ),
        (
            _set(["transitions", 1, "guard"], "__import__('os')"),
            "mini.yaml: transitions[1].guard: function '__import__' is not allowed",
        ),
        (
            _set(["transitions", 1, "guard"], "decision.__class__"),
            "mini.yaml: transitions[1].guard: attribute '__class__' is not allowed",
        ),
        (
            _set(["transitions", 1, "guard"], "decision.outcome.upper() == 'YES'"),
            "mini.yaml: transitions[1].guard: only the functions",
        ),
        (_set(["transitions", 1, "guard"], "decision.outcome =="), "mini.yaml: transitions[1].guard: syntax error"),
        (_set(["transitions", 1, "reason"], None), "mini.yaml: transitions[1].reason: a guard needs a plain-English"),
        (
            _set(["transitions", 0, "requires_forms"], ["referal"]),
            "mini.yaml: transitions[0].requires_forms[0]: unknown form 'referal'",
        ),
        (
            _set(["transitions", 0, "requires_form"], ["referral"]),
            "mini.yaml: transitions[0].requires_form: unknown key 'requires_form'",
        ),
        (
            _set(["transitions", 0, "event"], "send"),
            "mini.yaml: transitions[0].event: event name 'send' is reserved by python-statemachine",
        ),
        (_set(["transitions", 0, "event"], "Start Now"), "mini.yaml: transitions[0].event: event 'Start Now' must be"),
        (
            _set(["states", "open", "forms"], {"referral": ["business_teem"]}),
            "mini.yaml: states.open.forms.referral: unknown role 'business_teem'",
        ),
        (
            _set(["states", "open", "forms"], {"referrals": ["business_team"]}),
            "mini.yaml: states.open.forms.referrals: unknown form 'referrals'",
        ),
        (
            _set(["states", "open", "notify"], [{"agency": ["crg_member"]}]),
            "mini.yaml: states.open.notify[0].agency: unknown notification target 'agency'",
        ),
        (_set(["states", "done", "initial"], True), "mini.yaml: states: exactly one state must be initial (found 2"),
        (
            _set(["deadlines", 0, "starts"], "referral.recieved_on"),
            "mini.yaml: deadlines[0].starts: unknown field referral.recieved_on (did you mean referral.received_on?)",
        ),
        (
            _set(["deadlines", 0, "starts"], "referral.items[].status"),
            "mini.yaml: deadlines[0].starts: referral.items[].status: a date field cannot be a [] projection",
        ),
        (
            _set(["deadlines", 0, "stop"], {"on_entering": ["finished"]}),
            "mini.yaml: deadlines[0].stop.on_entering[0]: unknown state 'finished'",
        ),
        (
            _set(["deadlines", 0, "due"], {"fortnights_after": 2}),
            "mini.yaml: deadlines[0].due.fortnights_after: unknown",
        ),
        (
            _set(["deadlines", 0, "due"], {"working_days_after": -1}),
            "mini.yaml: deadlines[0].due.working_days_after: must be a whole number",
        ),
        (_set(["version"], "one"), "mini.yaml: version: must be a whole number from 1"),
    ],
)
def test_each_error_names_file_and_path(mutate, expected):
    errors = errors_of(mutate)
    assert any(e.startswith(expected) for e in errors), errors


def test_unreachable_and_dead_end_states():
    def mutate(raw):
        raw["states"]["limbo"] = {}  # nothing leads here, nothing leaves
        raw["states"]["trap"] = {}
        raw["transitions"].append({"event": "wander", "from": "open", "to": "trap", "roles": ["admin"]})

    errors = errors_of(mutate)
    assert "mini.yaml: states.limbo: state 'limbo' is unreachable from the initial state 'open'" in errors
    assert "mini.yaml: states.trap: state 'trap' has no path to a final state" in errors


def test_transition_out_of_a_final_state():
    errors = errors_of(
        lambda raw: raw["transitions"].append({"event": "reopen", "from": "done", "to": "open", "roles": ["admin"]})
    )
    assert "mini.yaml: transitions[2].from[0]: 'done' is final: no transition may leave it" in errors


def test_duplicate_events_need_distinguishing_guards():
    twin = {"event": "start", "from": "open", "to": "done", "roles": ["admin"]}
    errors = errors_of(lambda raw: raw["transitions"].append(twin))
    assert any(e.startswith("mini.yaml: transitions[0].guard: event 'start' from 'open' is defined more than once")
               for e in errors), errors  # fmt: skip
    assert any("transitions[2].guard: duplicate event 'start' from 'open' without a distinguishing guard" in e
               for e in errors), errors  # fmt: skip

    same_guard = {**BASE["transitions"][1], "to": "open"}
    errors = errors_of(lambda raw: raw["transitions"].append(same_guard))
    assert any("transitions[2].guard: duplicate event 'finish' from 'deciding'" in e for e in errors), errors
    # different guards are fine
    other = {**same_guard, "guard": 'decision.outcome == "no"'}
    assert errors_of(lambda raw: raw["transitions"].append(other)) == []


def test_stays_and_from_any():
    note = {"event": "note", "from": "*", "stays": True, "roles": ["business_team"]}
    assert errors_of(lambda raw: raw["transitions"].append(note)) == []
    errors = errors_of(lambda raw: raw["transitions"].append({**note, "to": "done"}))
    assert "mini.yaml: transitions[2].to: a transition that stays in its state has no 'to'" in errors
    errors = errors_of(lambda raw: raw["transitions"].append({k: v for k, v in note.items() if k != "stays"}))
    assert any(e.startswith("mini.yaml: transitions[2]: missing key 'to'") for e in errors), errors


def test_without_a_catalogue_only_form_ids_are_checked():
    errors = errors_of(_set(["transitions", 1, "guard"], 'decision.anything == "yes"'), catalogue=None)
    assert errors == []
    errors = errors_of(_set(["transitions", 1, "guard"], 'verdict.anything == "yes"'), catalogue=None)
    assert any("transitions[1].guard: unknown form 'verdict'" in e for e in errors), errors


def test_a_broken_file_refuses_to_load_with_all_its_errors(tmp_path: Path):
    raw = copy.deepcopy(BASE)
    raw["transitions"][0]["to"] = "nowhere"
    raw["transitions"][1]["guard"] = "decision.__globals__"
    raw["deadlines"][0]["stop"] = {"on_entering": ["never"]}
    (tmp_path / "mini.yaml").write_text(yaml.safe_dump(raw))
    (tmp_path / "other.yaml").write_text(yaml.safe_dump({**BASE, "case_type": "other", "version": 0}))
    with pytest.raises(DefinitionInvalid) as exc:
        CaseTypeRegistry.load_dir(tmp_path, CATALOGUE)
    text = [str(e) for e in exc.value.errors]
    assert any(t.startswith("mini.yaml: transitions[0].to: unknown state 'nowhere'") for t in text), text
    assert any(t.startswith("mini.yaml: transitions[1].guard: attribute '__globals__'") for t in text), text
    assert any(t.startswith("mini.yaml: deadlines[0].stop.on_entering[0]: unknown state 'never'") for t in text), text
    assert any(t.startswith("other.yaml: version: must be a whole number") for t in text), text
    assert str(exc.value).count("\n") == len(text) - 1  # the message lists every error, one per line


def test_duplicate_versions_in_a_directory(tmp_path: Path):
    (tmp_path / "mini.yaml").write_text(yaml.safe_dump(BASE))
    (tmp_path / "mini.v1.yaml").write_text(yaml.safe_dump(BASE))
    errors = [str(e) for e in check_paths([tmp_path], CATALOGUE)]
    assert any("mini version 1 is also defined in" in e for e in errors), errors


def test_not_a_mapping_and_yaml_booleans(tmp_path: Path):
    _, errors = parse_and_check(["a", "list"], "list.yaml")
    assert [str(e) for e in errors] == [
        "list.yaml: the document must be a mapping with case_type, version, title, states, transitions"
    ]
    raw = copy.deepcopy(BASE)
    raw["states"]["open"][True] = 1  # what YAML makes of an unquoted `on:` key
    _, errors = parse_and_check(raw, "mini.yaml", CATALOGUE)
    assert any("states.open: key True must be a string" in str(e) for e in errors), errors


# -- tasks and the clocks' applies_if (docs/case-types.md, "Tasks") -------------------------------
TASK = {"id": "told", "title": "Family told", "states": ["open"], "roles": ["business_team"],
        "evidence": {"date": "required"}, "required_before": ["start"], "source": "1.1.31"}


def _tasks(*tasks):
    def mutate(raw):
        raw["tasks"] = [{**TASK, **t} for t in tasks]

    return mutate


def test_a_well_formed_task_is_valid():
    assert errors_of(_tasks({})) == []
    # read by a guard as tasks.<id>.<part>
    assert errors_of(lambda raw: (_tasks({})(raw), _set(["transitions", 1, "guard"], "tasks.told.done")(raw))) == []


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (_tasks({"states": ["done"], "required_before": []}),
         "mini.yaml: tasks[0].states[0]: 'done' is final: nothing is recorded there"),
        (_tasks({}, {"title": "Told again"}), "mini.yaml: tasks[1].id: duplicate task id 'told' (also tasks[0])"),
        (_tasks({"states": ["deciding"]}),
         "mini.yaml: tasks[0].required_before[0]: the task can never be recorded before 'start': none of its states "
         "comes before a state the event leaves"),
        (_tasks({"states": ["opne"]}), "mini.yaml: tasks[0].states[0]: unknown state 'opne' (did you mean open?)"),
        (_tasks({"states": [], "required_before": []}),
         "mini.yaml: tasks[0].states: a task open in no state can never be recorded"),
        (_tasks({"roles": ["chief"]}), "mini.yaml: tasks[0].roles: unknown role 'chief'"),
        (_tasks({"required_before": ["strat"]}),
         "mini.yaml: tasks[0].required_before[0]: unknown event 'strat' (did you mean start?)"),
        (_tasks({"applies_if": 'referral.colour == "red"'}), "mini.yaml: tasks[0].applies_if: unknown field"),
        (_tasks({"evidence": {"choice": ["only"]}}), "mini.yaml: tasks[0].evidence.choice: a choice needs"),
        (_tasks({"id": "Told!"}), "mini.yaml: tasks[0].id:"),
        (lambda raw: (_tasks({})(raw), _set(["transitions", 1, "guard"], "tasks.tol.done")(raw)),
         "mini.yaml: transitions[1].guard: unknown task value tasks.tol.done"),
        (lambda raw: (_tasks({})(raw), _set(["deadlines", 0, "applies_if"], "tasks.told.done")(raw)),
         "mini.yaml: deadlines[0].applies_if: a clock's applies_if reads forms only, not tasks"),
    ],
    ids=["final_state", "duplicate_id", "never_before_its_event", "unknown_state", "no_state", "unknown_role",
         "unknown_event",
         "applies_if_unknown_field", "one_option_choice", "bad_id", "guard_reads_unknown_task",
         "clock_applies_if_reads_tasks"],
)
def test_each_task_fault_is_refused_naming_the_file_and_the_fault(mutate, expected):
    errors = errors_of(mutate)
    assert any(e.startswith(expected) for e in errors), errors


def test_a_form_field_that_names_a_clock():
    def clock_field(name, deadlines=True):
        def mutate(raw):
            raw["forms_in_all_states"] = {"decision": {"roles": ["business_team"], "clock_field": name}}
            if not deadlines:
                del raw["deadlines"]
        return mutate

    assert errors_of(clock_field("outcome")) == []
    errors = errors_of(clock_field("colour"))
    assert any(e.startswith("mini.yaml: forms_in_all_states.decision.clock_field: unknown field") for e in errors), \
        errors
    assert "mini.yaml: forms_in_all_states.decision.clock_field: this case type has no clocks (deadlines) to name" \
        in errors_of(clock_field("outcome", deadlines=False))
    assert any(e.startswith("mini.yaml: forms_in_all_states.decision.clock_field: field name 'Out come'")
               for e in errors_of(clock_field("Out come"))), errors_of(clock_field("Out come"))


def test_a_definition_with_a_faulty_task_refuses_to_load(tmp_path: Path):
    raw = copy.deepcopy(BASE)
    _tasks({"states": ["done"]}, {})(raw)
    (tmp_path / "mini.yaml").write_text(yaml.safe_dump(raw))
    with pytest.raises(DefinitionInvalid) as exc:
        CaseTypeRegistry.load_dir(tmp_path, CATALOGUE)
    text = [str(e) for e in exc.value.errors]
    assert "mini.yaml: tasks[0].states[0]: 'done' is final: nothing is recorded there" in text
    assert "mini.yaml: tasks[1].id: duplicate task id 'told' (also tasks[0])" in text
