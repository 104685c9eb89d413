"""Who is asking: the identity every read and write is authorised against."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Actor:
    user_id: str
    username: str
    partnership: str
    roles: frozenset[str]
    agency: str | None = None
    sector: str | None = None  # the sector of the user's agency (a statutory lead's partner)
    device_id: str | None = None
    session_id: str | None = None
    extra: dict = field(default_factory=dict, compare=False, hash=False)

    def has_role(self, *roles: str) -> bool:
        return bool(self.roles.intersection(roles))

    def audit_ref(self) -> dict:
        """Ids only: what the audit trail records about the actor."""
        return {
            "user_id": self.user_id,
            "roles": sorted(self.roles),
            "partnership": self.partnership,
            "agency": self.agency,
            "device_id": self.device_id,
        }


def actor_ref(user_id: str, roles: tuple[str, ...] = (), device_id: str | None = None) -> dict:
    """The ``by`` of an audit entry made outside a request's :class:`Actor` (a login, the command
    line, the server itself): the same shape as :meth:`Actor.audit_ref`, ids only."""
    return {"user_id": user_id, "roles": sorted(roles), "partnership": None, "agency": None, "device_id": device_id}


#: the server itself (the deadline scheduler, the push worker, token reuse detection)
SYSTEM_REF = actor_ref("system", ("system",))
#: the command line on the server's host (``caseflow init``, bootstrap accounts; ADR 0020)
OPERATOR_REF = actor_ref("operator", ("admin",))
