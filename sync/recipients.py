"""Resolve a definition's declarative notify targets to user ids (ids only, never names)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from store import Store


class Directory:
    def __init__(self, store: Store):
        self.store = store

    def active_users(self, partnership: str) -> list[dict]:
        return [d.data for d in self.store.scan("users", lambda u: u["partnership"] == partnership
                                                and not u.get("disabled"))]

    def resolve(self, case: Mapping[str, Any], targets: Iterable[Any]) -> list[str]:
        """``targets`` are NotifyTarget-like objects with ``kind`` and ``roles``."""
        users = self.active_users(case["partnership"])
        out: set[str] = set()
        for target in targets:
            roles = set(target.roles)
            for u in users:
                if not roles & set(u["roles"]):
                    continue
                involved = u.get("agency") in case.get("involved_agencies", ())
                assigned = u["user_id"] in case.get("assigned_reviewers", ())
                if target.kind == "roles" or (target.kind == "involved_agencies" and involved) or (
                        target.kind == "assigned" and assigned):
                    out.add(u["user_id"])
        return sorted(out)

    def users_with(self, partnership: str, roles: Iterable[str], agency: str | None = None) -> list[str]:
        roles = set(roles)
        return sorted(u["user_id"] for u in self.active_users(partnership)
                      if roles & set(u["roles"]) and (agency is None or u.get("agency") == agency))
