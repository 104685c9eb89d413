"""What goes over Web Push for an alert: an allowlisted payload, and its Topic, TTL and Urgency.

The payload carries ids and codes only: the case reference (a generated code such as
``ESX-2026-0007``), the case id, the alert kind, the state, the event, the deadline name, its due
date and status, and a link to the case in the client. Every value is checked against a strict
pattern, so a name or a date of birth cannot get in even if an alert document carried one. The
client renders the notification text from these codes; the full case is fetched (authenticated)
when the user opens it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from server.push.vapid import b64u
from sync.clock import LONDON

#: the RFC 8291 limit of one aes128gcm record in a 4,096-byte body
MAX_PLAINTEXT = 3993
MAX_TTL = 28 * 86_400  # push services cap TTL at about four weeks
MIN_TTL = 3_600

_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,99}$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
#: alert field -> pattern its value must match to be copied into the payload
ALLOWED: dict[str, re.Pattern[str]] = {
    "alert_id": _ID, "kind": _ID, "reference": _ID, "case_id": _ID, "state": _ID, "event": _ID,
    "deadline": _ID, "status": _ID, "due": _DATE,
}
ALLOWED_INTS = ("lead_days", "days_overdue")
ESCALATION_KINDS = frozenset({"deadline_overdue"})


def build_payload(alert: Mapping[str, Any], public_url: str) -> dict[str, Any]:
    out: dict[str, Any] = {"v": 1}
    for key, pattern in ALLOWED.items():
        value = alert.get(key)
        if isinstance(value, str) and pattern.match(value):
            out[key] = value
    for key in ALLOWED_INTS:
        value = alert.get(key)
        if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 100_000:
            out[key] = value
    if "case_id" in out:
        out["url"] = f"{public_url.rstrip('/')}/cases/{quote(out['case_id'], safe='')}"
    out["tag"] = topic_for(alert)  # the client's Notification tag: a re-sent or newer alert replaces it
    return out


def encode_payload(alert: Mapping[str, Any], public_url: str) -> bytes:
    data = json.dumps(build_payload(alert, public_url), separators=(",", ":"), ensure_ascii=True).encode()
    if len(data) > MAX_PLAINTEXT:  # cannot happen with the allowlist above; kept as a hard guard
        raise ValueError("push payload too large")
    return data


def topic_for(alert: Mapping[str, Any]) -> str:
    """RFC 8030 Topic (<= 32 base64url characters): one per case and deadline, so a newer reminder
    or escalation replaces an undelivered older one; other alerts get one of their own (a re-send
    after a crash replaces the first copy)."""
    if alert.get("deadline"):
        key = f"deadline|{alert.get('case_id')}|{alert['deadline']}"
    else:
        key = f"alert|{alert.get('alert_id')}"
    return b64u(hashlib.sha256(key.encode()).digest())[:32]


def urgency_for(alert: Mapping[str, Any]) -> str:
    if alert.get("kind") in ESCALATION_KINDS or alert.get("status") in ("overdue", "missed"):
        return "high"
    return "normal"


def _parse_time(text: Any) -> dt.datetime | None:
    if not isinstance(text, str):
        return None
    try:
        when = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=dt.UTC)


def expires_at(alert: Mapping[str, Any], now: dt.datetime, default_ttl: int) -> dt.datetime:
    """When the alert stops being worth delivering: a deadline reminder at the end of its due date
    (England time), anything else ``default_ttl`` after it was written; at most four weeks."""
    created = _parse_time(alert.get("created_at")) or now
    end = created + dt.timedelta(seconds=default_ttl)
    due = alert.get("due")
    if alert.get("kind") not in ESCALATION_KINDS and isinstance(due, str) and _DATE.match(due):
        try:
            day_after = dt.date.fromisoformat(due) + dt.timedelta(days=1)
            end = max(dt.datetime.combine(day_after, dt.time(0, 0), tzinfo=LONDON).astimezone(dt.UTC),
                      created + dt.timedelta(seconds=MIN_TTL))
        except ValueError:
            pass
    return min(end, created + dt.timedelta(seconds=MAX_TTL))


def ttl_seconds(expiry: dt.datetime, now: dt.datetime) -> int:
    """The TTL header for a send at ``now`` (0 or less: expired, do not send)."""
    return min(int((expiry - now).total_seconds()), MAX_TTL)
