"""Who a handler alerts (``ctx.alert``, delivered by the push worker once the unit of work commits):
the people a case's new state names, and the people who can give an approval a step waits for."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sync.context import Ctx


def alert_state_entered(ctx: Ctx, ct, case: Mapping[str, Any], event: str | None) -> None:
    targets = ct.notifications_on_enter(case["state"])
    recipients = ctx.directory.resolve(case, targets) if targets else []
    recipients = [u for u in recipients if u != ctx.actor.user_id]
    ctx.alert(case, "state_entered", recipients, event=event)


def alert_approvers(ctx: Ctx, case: Mapping[str, Any], slots, event: str) -> None:
    users = []
    for slot in slots:
        for u in ctx.directory.active_users(case["partnership"]):
            if slot.role in u["roles"] and (slot.sector is None or _sector_of(ctx, u) == slot.sector):
                users.append(u["user_id"])
    ctx.alert(case, "approval_needed", users, event=event)


def _sector_of(ctx: Ctx, user: Mapping[str, Any]) -> str | None:
    if not user.get("agency"):
        return None
    doc = ctx.uow.get("agencies", user["agency"])
    return doc.data["sector"] if doc else None
