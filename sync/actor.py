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
