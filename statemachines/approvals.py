"""Approvals: which slots of an event the votes fill (a maximum matching: one vote per slot, one
slot per voter, the voter's latest vote counts) and who rejected."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from .definition import ApprovalSlot
from .values import Actor, ApprovalStatus, Vote


def _latest_per_voter(votes: Iterable[Vote]) -> list[Vote]:
    latest: dict[Any, Vote] = {}
    for i, v in enumerate(votes):
        latest[v.voter if v.voter is not None else ("anonymous", i)] = v
    return list(latest.values())


def _match(slots: Sequence[ApprovalSlot], votes: Sequence[Vote]) -> dict[int, int]:
    """Maximum matching slot index -> vote index (each vote fills at most one slot)."""
    slot_of_vote: dict[int, int] = {}

    def augment(si: int, seen: set[int]) -> bool:
        for vi, v in enumerate(votes):
            if vi in seen or not slots[si].accepts(v.role, v.sector):
                continue
            seen.add(vi)
            if vi not in slot_of_vote or augment(slot_of_vote[vi], seen):
                slot_of_vote[vi] = si
                return True
        return False

    for si in range(len(slots)):
        augment(si, set())
    return {si: vi for vi, si in slot_of_vote.items()}


def approval_status(slots: Sequence[ApprovalSlot], votes: Iterable[Vote]) -> ApprovalStatus:
    """Which slots the votes fill (one vote per slot, one slot per voter) and who rejected.

    A rejecting vote from anyone who could fill one of the slots refuses the transition.
    Votes from people who fit no slot are ignored.
    """
    slots = tuple(slots)
    current = _latest_per_voter(votes)
    rejected = tuple(v for v in current if v.decision == "reject" and any(s.accepts(v.role, v.sector) for s in slots))
    approving = [v for v in current if v.decision == "approve"]
    matching = _match(slots, approving)
    filled = tuple((slots[si], approving[vi]) for si, vi in sorted(matching.items()))
    missing = tuple(s for i, s in enumerate(slots) if i not in matching)
    return ApprovalStatus(needed=slots, filled=filled, missing=missing, rejected_by=rejected)


def approvals_satisfied(slots: Sequence[ApprovalSlot], votes: Iterable[Vote]) -> bool:
    """True when every slot has its own approving vote and nobody eligible rejected."""
    return approval_status(slots, votes).satisfied


def eligible_slots(slots: Sequence[ApprovalSlot], actor: Actor) -> tuple[ApprovalSlot, ...]:
    """The slots this actor could fill (the server may refuse votes from anyone else)."""
    return tuple(s for s in slots if any(s.accepts(r, actor.sector) for r in actor.roles))
