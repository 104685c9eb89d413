"""The case engine's value types: who acts (:class:`Actor`), their votes and the approvals they
fill, a case's :class:`Timeline`, and what the engine decides about an event (:class:`Decision`,
the :class:`Problem` list, :class:`TransitionRefused`). Pure data: no engine, no storage."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from statemachine.exceptions import StateMachineError, TransitionNotAllowed

from .definition import ApprovalSlot


@dataclass(frozen=True, init=False)
class Actor:
    """Who acts: their role names and (for statutory leads) their agency's sector."""

    roles: frozenset[str]
    sector: str | None

    def __init__(self, roles: Iterable[str], sector: str | None = None) -> None:
        if isinstance(roles, str):
            roles = (roles,)
        object.__setattr__(self, "roles", frozenset(roles))
        object.__setattr__(self, "sector", sector)


VoteDecision = Literal["approve", "reject"]


@dataclass(frozen=True)
class Vote:
    """One approver's decision. ``role`` is the role they vote in; ``voter`` (a user id) makes
    sure one person fills one slot at most (their latest vote counts)."""

    role: str
    sector: str | None
    decision: VoteDecision
    voter: str | None = None

    def __post_init__(self) -> None:
        if self.decision not in ("approve", "reject"):
            raise ValueError(f"a vote is 'approve' or 'reject', not {self.decision!r}")


@dataclass(frozen=True)
class ApprovalStatus:
    needed: tuple[ApprovalSlot, ...]
    filled: tuple[tuple[ApprovalSlot, Vote], ...]
    missing: tuple[ApprovalSlot, ...]
    rejected_by: tuple[Vote, ...]

    @property
    def satisfied(self) -> bool:
        return not self.missing and not self.rejected_by

    def to_dict(self) -> dict[str, Any]:
        return {
            "needed": [s.to_dict() for s in self.needed],
            "missing": [s.to_dict() for s in self.missing],
            "rejected_by": [{"role": v.role, "sector": v.sector, "voter": v.voter} for v in self.rejected_by],
            "satisfied": self.satisfied,
        }


ProblemKind = Literal[
    "unknown_event", "not_from_state", "role", "form_missing", "form_stale", "task_missing", "guard",
    "approval_rejected", "approval_missing",
]


@dataclass(frozen=True)
class Timeline:
    """The facts the freshness rule needs, as positions rather than times (a pinned or coarse clock
    gives equal timestamps; positions never tie).

    * ``states``: the states the case entered, in order; the last one is the current state;
    * ``final_at``: ``{form_id: position in states}`` of the entry during which the form's latest
      final submission was made (a form missing here is taken as submitted at the start).
    """

    states: tuple[str, ...]
    final_at: Mapping[str, int] = field(default_factory=dict)

    def round_start(self, state: str) -> int:
        """The first position of the current round of ``state``: just after the case last left
        it (0 on the first visit)."""
        if not self.states or self.states[-1] != state:
            raise ValueError(f"the timeline ends in {self.states[-1] if self.states else None!r}, not {state!r}")
        visit = len(self.states) - 1
        while visit > 0 and self.states[visit - 1] == state:  # an event that stays is the same visit
            visit -= 1
        earlier = [i for i, s in enumerate(self.states[:visit]) if s == state]
        return earlier[-1] + 1 if earlier else 0


@dataclass(frozen=True)
class Problem:
    """Why an event cannot happen (yet). ``approval_missing`` is a wait, not a refusal."""

    kind: ProblemKind
    message: str


@dataclass(frozen=True)
class Decision:
    """What would happen if ``actor`` fired ``event`` in ``source`` now.

    * ``allowed``: the actor may fire it (role, final forms, guard all fine, no approver rejected);
    * ``complete``: allowed and every approval is in: :meth:`CaseType.fire` will succeed;
    * ``waiting_for_approvals``: allowed but approvals are outstanding (HTTP 202);
    * ``reasons``: plain-English explanations of every problem, refusals and waits alike.
    """

    event: str
    source: str
    target: str | None
    problems: tuple[Problem, ...] = ()
    approvals_needed: tuple[ApprovalSlot, ...] = ()
    approvals: ApprovalStatus | None = None

    @property
    def allowed(self) -> bool:
        return not any(p.kind != "approval_missing" for p in self.problems)

    @property
    def complete(self) -> bool:
        return not self.problems

    @property
    def waiting_for_approvals(self) -> bool:
        return self.allowed and bool(self.problems)

    @property
    def forbidden(self) -> bool:
        """Refused because of the actor's roles (HTTP 403 rather than 422)."""
        return any(p.kind == "role" for p in self.problems)

    @property
    def reasons(self) -> list[str]:
        return [p.message for p in self.problems]

    def to_dict(self) -> dict[str, Any]:
        return {
            "event": self.event,
            "from": self.source,
            "to": self.target,
            "allowed": self.allowed,
            "complete": self.complete,
            "reasons": self.reasons,
            "problems": [{"kind": p.kind, "message": p.message} for p in self.problems],
            "approvals_needed": [s.to_dict() for s in self.approvals_needed],
            "approvals": self.approvals.to_dict() if self.approvals else None,
        }


class UnknownState(ValueError):
    """The state is not one of the case type's states (e.g. a corrupted stored value)."""


class TransitionRefused(TransitionNotAllowed):
    """An event was refused; the case stays where it was. ``decision.reasons`` says why."""

    def __init__(self, decision: Decision) -> None:
        self.decision = decision
        self.event = decision.event  # type: ignore[assignment]
        self.configuration = set()  # type: ignore[assignment]
        self.state = decision.source
        self.reasons = decision.reasons
        why = "; ".join(self.reasons) or "not allowed"
        StateMachineError.__init__(self, f"Can't {decision.event} in {decision.source}: {why}")
