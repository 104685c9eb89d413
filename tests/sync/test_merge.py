"""The three-way merge and the same-device rule (ADR 0007): a device never conflicts with its own
earlier edits, still conflicts with everyone else's, and never reverts another device's change with
a field it did not touch.

``Form`` plays the server's part of ``sync.commands._write_submission`` on plain data: a list of
revisions with who wrote them, each save merged from ``seen_base`` of its ``base_version``."""

from __future__ import annotations

import copy

from hypothesis import given, settings
from hypothesis import strategies as st

from sync.merge import merge, seen_base


class Form:
    def __init__(self, data: dict):
        self.revisions: list[tuple[dict, str]] = [(data, "creator")]  # revision n is index n - 1
        self.conflicts: list = []

    @property
    def version(self) -> int:
        return len(self.revisions)

    @property
    def data(self) -> dict:
        return self.revisions[-1][0]

    def at(self, version: int) -> dict:
        return copy.deepcopy(self.revisions[version - 1][0])

    def save(self, device: str, base_version: int, data: dict) -> list:
        base = self.revisions[base_version - 1][0]
        later = [(d, by == device) for d, by in self.revisions[base_version:]]
        merged, conflicts = merge(seen_base(base, later), self.data, data)
        self.revisions.append((merged, device))
        self.conflicts += conflicts
        return conflicts


BASE = {"f": "f0", "g": "g0", "child": {"name": "n0"},
        "actions": [{"row_id": "r1", "what": "w1", "status": "open"}]}


def edited(data: dict, **changes) -> dict:
    out = copy.deepcopy(data)
    out.update(changes)
    return out


def test_one_device_edits_a_field_twice_offline_the_second_wins():
    form = Form(BASE)
    first = edited(BASE, f="A1")
    assert form.save("A", 1, first) == []
    assert form.save("A", 1, edited(first, f="A2")) == []  # same base, the device saw its own first edit
    assert form.data["f"] == "A2" and form.revisions[1][0]["f"] == "A1"  # the first is in its revision


def test_another_device_between_the_two_edits_on_another_field_both_kept():
    form = Form(BASE)
    first = edited(BASE, f="A1")
    form.save("A", 1, first)
    assert form.save("B", 2, edited(form.at(2), g="B1")) == []
    assert form.save("A", 1, edited(first, f="A2")) == []
    assert form.data["f"] == "A2" and form.data["g"] == "B1"


def test_a_b_a_on_the_same_field_is_still_a_conflict_and_keeps_both_values():
    form = Form(BASE)
    first = edited(BASE, f="A1")
    form.save("A", 1, first)
    assert form.save("B", 2, edited(form.at(2), f="B1")) == []  # B saw A's edit: no clash
    clash = form.save("A", 1, edited(first, f="A2"))
    assert [(c.path, c.base, c.kept, c.incoming) for c in clash] == [("/f", "A1", "B1", "A2")]
    assert form.data["f"] == "B1"


def test_a_b_a_where_b_edited_offline_too_conflicts_against_b_only():
    form = Form(BASE)
    first = edited(BASE, f="A1")
    form.save("A", 1, first)
    b = form.save("B", 1, edited(BASE, f="B1"))  # B from the old base: clashes with A's first edit
    assert [(c.kept, c.incoming) for c in b] == [("A1", "B1")]
    assert form.save("A", 1, edited(first, f="A2")) == []  # the value held is still A's own
    assert form.data["f"] == "A2"


def test_a_later_edit_that_leaves_the_field_alone_does_not_revert_another_devices_change():
    form = Form(BASE)
    first = edited(BASE, f="A1")
    form.save("A", 1, first)
    form.save("B", 2, edited(form.at(2), f="B1"))
    assert form.save("A", 1, edited(first, g="A-g")) == []  # f as A last typed it: not a change
    assert form.data["f"] == "B1" and form.data["g"] == "A-g"


def test_another_devices_change_since_base_merges_as_before():
    form = Form(BASE)
    form.save("B", 1, edited(BASE, g="B1"))
    assert form.save("A", 1, edited(BASE, f="A1")) == []
    clash = form.save("A", 1, edited(BASE, g="A-g"))  # A never saw B's g
    assert [(c.path, c.kept, c.incoming) for c in clash] == [("/g", "B1", "A-g")]


def test_same_device_id_but_another_user_is_not_the_same_writer():
    form = Form(BASE)
    form.revisions.append((edited(BASE, f="X1"), "other-user-on-A"))
    assert len(form.save("A", 1, edited(BASE, f="A1"))) == 1


def test_nested_objects_and_new_keys():
    form = Form(BASE)
    first = edited(BASE, child={"name": "A1", "dob": "2020-01-01"})
    form.save("A", 1, first)
    form.save("B", 2, edited(form.at(2), child={"name": "A1", "dob": "2020-01-01", "school": "B1"}))
    second = edited(first, child={"name": "A2", "dob": "2020-02-02"})
    assert form.save("A", 1, second) == []
    assert form.data["child"] == {"name": "A2", "dob": "2020-02-02", "school": "B1"}


def test_rows_added_then_edited_by_the_same_device():
    form = Form(BASE)
    new_row = {"row_id": "r2", "what": "A1", "status": "open"}
    first = edited(BASE, actions=[*BASE["actions"], new_row])
    form.save("A", 1, first)
    b_row = {"row_id": "r3", "what": "B1", "status": "open"}
    form.save("B", 2, edited(form.at(2), actions=[*form.at(2)["actions"], b_row]))
    second = edited(first, actions=[BASE["actions"][0], {**new_row, "what": "A2"}])
    assert form.save("A", 1, second) == []
    assert [(r["row_id"], r["what"]) for r in form.data["actions"]] == [("r1", "w1"), ("r2", "A2"), ("r3", "B1")]


def test_a_row_edited_twice_with_another_devices_edit_of_another_column():
    form = Form(BASE)
    first = edited(BASE, actions=[{**BASE["actions"][0], "what": "A1"}])
    form.save("A", 1, first)
    form.save("B", 2, edited(form.at(2), actions=[{**form.at(2)["actions"][0], "status": "implemented"}]))
    assert form.save("A", 1, edited(BASE, actions=[{**BASE["actions"][0], "what": "A2"}])) == []
    assert form.data["actions"] == [{"row_id": "r1", "what": "A2", "status": "implemented"}]


def test_a_row_the_device_deleted_stays_deleted_and_its_re_edit_is_not_a_self_conflict():
    form = Form(BASE)
    form.save("A", 1, edited(BASE, actions=[]))
    assert form.save("A", 1, edited(BASE, actions=[])) == []
    assert form.data["actions"] == []
    # the device restores the row it deleted: its own deletion is no clash
    assert form.save("A", 1, edited(BASE, actions=[{**BASE["actions"][0], "what": "back"}])) == []
    assert form.data["actions"] == [{"row_id": "r1", "what": "back", "status": "open"}]


def test_another_devices_deletion_still_clashes_with_an_edit_of_the_row():
    form = Form(BASE)
    form.save("A", 1, edited(BASE, f="A1"))
    form.save("B", 2, edited(form.at(2), actions=[]))
    clash = form.save("A", 1, edited(BASE, f="A2", actions=[{**BASE["actions"][0], "what": "A-w"}]))
    assert [(c.path, c.to_dict()["kept_absent"]) for c in clash] == [("/actions/row_id=r1", True)]
    assert form.data["f"] == "A2" and form.data["actions"] == []


def test_a_key_the_device_removed_then_sets_again():
    form = Form(BASE)
    first = {k: v for k, v in BASE.items() if k != "g"}
    form.save("A", 1, first)
    assert form.save("A", 1, edited(first, g="A-g")) == []
    assert form.data["g"] == "A-g"


def test_without_own_revisions_the_base_is_the_plain_base():
    base = {"f": 1}
    assert seen_base(base, [({"f": 2}, False), ({"f": 3}, False)]) == base
    assert seen_base(base, []) == base


# -- properties -------------------------------------------------------------------------------------
KEYS = st.sampled_from(["a", "b", "c"])
LEAF = st.one_of(st.integers(0, 3), st.sampled_from(["x", "y"]), st.none())
DOC = st.recursive(LEAF, lambda inner: st.dictionaries(KEYS, inner, max_size=3), max_leaves=8)
DATA = st.dictionaries(KEYS, DOC, max_size=3)


@settings(max_examples=300, deadline=None)
@given(base=DATA, edits=st.lists(DATA, min_size=1, max_size=4))
def test_a_device_alone_always_gets_exactly_what_it_sent(base, edits):
    """Every edit from the same base, nobody else writing: never a conflict, the record is the last edit."""
    form = Form(base)
    for data in edits:
        assert form.save("A", 1, data) == []
        assert form.data == data


@settings(max_examples=300, deadline=None)
@given(base=DATA, steps=st.lists(st.tuples(st.sampled_from("AB"), DATA), min_size=1, max_size=5), last=DATA)
def test_every_value_held_before_the_last_edit_is_kept_or_in_a_conflict(base, steps, last):
    """Another device's value is overwritten only through a conflict record; only A's own values go."""
    form = Form(base)
    for who, data in steps:
        form.save(who, 1, data)
    before = form.data
    seen_by_a = seen_base(form.at(1), [(d, by == "A") for d, by in form.revisions[1:]])
    clash = form.save("A", 1, last)
    conflicted = {c.path for c in clash}
    for path, value in _leaves(before):
        if _get(form.data, path) == value or any(path.startswith(p) for p in conflicted):
            continue
        # gone without a conflict: A wrote it last itself, or A saw exactly this value where it was
        # (someone may have set it back to the value A's copy holds) and changed it knowingly
        assert _last_writer(form, path) in ("A", "creator") or _get(seen_by_a, path) == value, (path, value)


def _leaves(data, path=""):
    """Typed values (an empty object holds none)."""
    if isinstance(data, dict):
        for k, v in data.items():
            yield from _leaves(v, f"{path}/{k}")
    else:
        yield path, data


_MISSING = object()


def _get(data, path):
    for part in path.split("/")[1:]:
        if not isinstance(data, dict) or part not in data:
            return _MISSING
        data = data[part]
    return data


def _last_writer(form: Form, path: str) -> str:
    """Who last changed the value at ``path`` before the final save (the creator if nobody did)."""
    writer = "creator"
    for (prev, _), (cur, by) in zip(form.revisions[:-2], form.revisions[1:-1], strict=True):
        if _get(prev, path) != _get(cur, path):
            writer = by
    return writer
