"""The device: queue mutations offline, push them exactly once, pull what the user may see.

``push`` sends the outbox in seq order, in whole batches (at most 200 mutations and 1 MiB), and
retries a batch cut off half way as a whole: the server answers ``duplicate`` with the first result
for whatever it had already applied. ``pull`` pages with the cursor until ``has_more`` is false,
storing each page with its cursor in one local transaction.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import uuid
from typing import Any

from sync.client.local import LocalState, Queued
from sync.client.transport import Http, Response

MAX_BATCH = 200
MAX_BATCH_BYTES = 1024 * 1024 - 4096  # the server's body limit, less room for the envelope
PULL_LIMIT = 200


class SyncError(Exception):
    def __init__(self, message: str, response: Response | None = None):
        super().__init__(message)
        self.response = response


class NeedLogin(SyncError):
    """The session cannot be refreshed: log in again (the outbox is kept)."""


class DeviceRevoked(SyncError):
    """An administrator revoked this device; the local file has been deleted."""


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def submission_id(case_id: str, form_id: str, agency_id: str | None = None) -> str:
    return f"{case_id}.{form_id}" + (f".{agency_id}" if agency_id else "")


class SyncClient:
    def __init__(self, state_path: str | os.PathLike[str], server: str | None = None, *, http: Http | None = None):
        self.local = LocalState(state_path)
        server = server or self.local.get("server")
        if http is None and server is None:
            raise SyncError("No server known: pass --server the first time.")
        self.http = http or Http(server)
        self.local.set(server=self.http.base_url)
        self.revoked = False

    # -- identity ---------------------------------------------------------------------------------
    @property
    def device_id(self) -> str:
        device = self.local.get("device_id")
        if device is None:
            device = f"dev-{uuid.uuid4()}"
            self.local.set(device_id=device)
        return device

    @property
    def user(self) -> dict[str, Any] | None:
        return self.local.get("user")

    def login(self, username: str, password: str, device_id: str | None = None) -> dict[str, Any]:
        previous = self.local.get("user")
        if previous and previous.get("username") != username:
            if self.local.outbox():  # it would be pushed under the new user's name
                raise SyncError("This device holds unsent work of another user; that user must sync it first.")
            self.local.forget_user()
        if device_id:
            if self.local.get("device_id") not in (None, device_id) and self.local.outbox():
                raise SyncError("This file has unsent mutations of another device id.")
            self.local.set(device_id=device_id)
        r = self.http.request("POST", "/api/v1/auth/login",
                              json_body={"username": username, "password": password, "device_id": self.device_id})
        self._raise_for_revoked(r)
        if r.status != 200:
            raise SyncError(f"login failed: HTTP {r.status} {r.problem_type}", r)
        self.local.set(access_token=r.body["access_token"], refresh_token=r.body["refresh_token"], user=r.body["user"])
        return r.body["user"]

    def _refresh(self) -> None:
        token = self.local.get("refresh_token")
        if not token:
            raise NeedLogin("Not logged in.")
        r = self.http.request("POST", "/api/v1/auth/refresh", token=token)
        self._raise_for_revoked(r)
        if r.status != 200:
            raise NeedLogin(f"The session ended ({r.problem_type or r.status}); log in again.", r)
        self.local.set(access_token=r.body["access_token"], refresh_token=r.body["refresh_token"])

    def _raise_for_revoked(self, r: Response) -> None:
        if r.status == 403 and r.problem_type == "device-revoked":
            self.local.wipe()  # the server says so: nothing of this device's data may stay on it
            self.revoked = True
            raise DeviceRevoked("This device was revoked; its local data has been deleted.", r)

    def _authed(self, method: str, path: str, **kw: Any) -> Response:
        """One call with the access token; on 401 refresh (rotating the refresh token) and try once more."""
        if self.revoked:
            raise DeviceRevoked("This device was revoked.")
        token = self.local.get("access_token")
        if not token:
            raise NeedLogin("Not logged in.")
        r = self.http.request(method, path, token=token, **kw)
        if r.status == 401:
            self._refresh()
            r = self.http.request(method, path, token=self.local.get("access_token"), **kw)
        self._raise_for_revoked(r)
        if r.status == 401:
            raise NeedLogin("The server refused the refreshed token; log in again.", r)
        return r

    # -- queueing ---------------------------------------------------------------------------------
    def queue(self, kind: str, case_id: str | None, payload: dict[str, Any],
              base_version: int | None = None) -> Queued:
        return self.local.enqueue(str(uuid.uuid4()), kind, case_id, base_version, payload, _now())

    def create_case(self, case_type: str, form_id: str, form_version: int, data: dict[str, Any],
                    case_id: str | None = None) -> Queued:
        """The client chooses the case id, so later offline mutations can refer to the case."""
        return self.queue("create_case", case_id or str(uuid.uuid4()),
                          {"case_type": case_type, "referral": {"form_id": form_id, "form_version": form_version,
                                                                "data": data}})

    def save_submission(self, case_id: str, form_id: str, form_version: int, data: dict[str, Any],
                        status: str = "draft", base_version: int | None = None,
                        agency_id: str | None = None) -> Queued:
        """``base_version`` defaults to the submission's version in the replica: the server merges
        the edit onto whatever happened since, and records clashes as conflicts."""
        if base_version is None:
            known = self.local.entity("submission", submission_id(case_id, form_id, agency_id))
            base_version = known[0] if known else None
        return self.queue("save_submission", case_id, {"form_id": form_id, "form_version": form_version,
                                                       "data": data, "status": status}, base_version)

    def transition(self, case_id: str, event: str, expected_state: str | None = None,
                   comment: str | None = None) -> Queued:
        if expected_state is None:
            known = self.local.entity("case", case_id)
            if known is None:
                raise SyncError("expected_state is needed for a case not in the replica.")
            expected_state = known[1]["state"]
        payload: dict[str, Any] = {"event": event, "expected_state": expected_state}
        if comment is not None:
            payload["comment"] = comment
        return self.queue("transition", case_id, payload)

    def approve(self, case_id: str, event: str, decision: str = "approve", comment: str | None = None) -> Queued:
        payload: dict[str, Any] = {"event": event, "decision": decision}
        if comment is not None:
            payload["comment"] = comment
        return self.queue("approve", case_id, payload)

    def resolve_conflict(self, case_id: str, conflict_id: str, choose: str, value: Any = None,
                         has_value: bool = False) -> Queued:
        payload: dict[str, Any] = {"conflict_id": conflict_id, "choose": choose}
        if choose == "value" or has_value:
            payload["value"] = value
        return self.queue("resolve_conflict", case_id, payload)

    def local_submission(self, case_id: str, form_id: str, agency_id: str | None = None) -> dict[str, Any] | None:
        """The form as this device sees it: its latest queued edit, else its latest pushed edit the
        replica has not caught up with yet, else the replica's copy. (The server takes a device's own
        earlier edits as seen by it, so a later edit must start from them, not from a stale copy.)"""
        for q in reversed(self.local.outbox()):
            if q.kind == "save_submission" and q.case_id == case_id and q.payload["form_id"] == form_id:
                return json.loads(json.dumps(q.payload["data"]))
            if q.kind == "create_case" and q.case_id == case_id and q.payload["referral"]["form_id"] == form_id:
                return json.loads(json.dumps(q.payload["referral"]["data"]))
        known = self.local.entity("submission", submission_id(case_id, form_id, agency_id))
        sent = self.local.sent_form(case_id, form_id)
        if sent and (known is None or sent[0] > known[0]):
            return sent[1]
        return known[1]["data"] if known else None

    # -- push -------------------------------------------------------------------------------------
    @staticmethod
    def batches(outbox: list[Queued]) -> list[list[Queued]]:
        out: list[list[Queued]] = []
        current: list[Queued] = []
        size = 0
        for q in outbox:
            n = len(json.dumps(q.wire(), separators=(",", ":"))) + 1
            if current and (len(current) >= MAX_BATCH or size + n > MAX_BATCH_BYTES):
                out.append(current)
                current, size = [], 0
            current.append(q)
            size += n
        if current:
            out.append(current)
        return out

    def push(self) -> list[dict[str, Any]]:
        """Send the outbox; answer every result the server gave (``pending`` ones stay queued)."""
        answered: list[dict[str, Any]] = []
        for batch in self.batches(self.local.outbox()):
            self.local.mark_attempt(q.seq for q in batch)
            r = self._authed("POST", "/api/v1/sync/push",
                             json_body={"device_id": self.device_id, "mutations": [q.wire() for q in batch]})
            if r.status != 200:
                raise SyncError(f"push refused: HTTP {r.status} {r.problem_type}", r)
            results = r.body["results"]
            self.local.record(batch, results)
            answered += results
            if any(x["status"] == "pending" for x in results):
                break  # the server waits for an earlier seq: sending more now only adds pending ones
        return answered

    # -- pull -------------------------------------------------------------------------------------
    def pull(self, limit: int = PULL_LIMIT) -> int:
        """Page until ``has_more`` is false; answer how many changes were applied."""
        applied = 0
        resets = 0
        while True:
            cursor = self.local.get("cursor", "")
            r = self._authed("GET", "/api/v1/sync/pull", query={"cursor": cursor, "limit": limit})
            if r.status == 410 and r.problem_type == "cursor-reset":
                resets += 1
                if resets > 2:
                    raise SyncError("the server keeps resetting the cursor", r)
                self.local.clear_replica()  # the server cannot continue from here: start over
                continue
            if r.status != 200:
                raise SyncError(f"pull refused: HTTP {r.status} {r.problem_type}", r)
            self.local.apply_page(r.body["changes"], r.body["cursor"])
            applied += len(r.body["changes"])
            if not r.body["has_more"]:
                return applied

    def sync(self) -> tuple[list[dict[str, Any]], int]:
        results = self.push()
        return results, self.pull()

    def status(self) -> dict[str, Any]:
        counts: dict[str, int] = {}
        for (entity, _), _v in self.local.entities().items():
            counts[entity] = counts.get(entity, 0) + 1
        return {"server": self.http.base_url, "device_id": self.local.get("device_id"),
                "user": (self.user or {}).get("username"), "outbox": len(self.local.outbox()),
                "replica": counts, "cursor": bool(self.local.get("cursor"))}

    def close(self) -> None:
        self.local.close()
