"""The push outbox: alerts in the store -> one delivery per (alert, subscription) -> the push services.

Guarantees (docs/decisions/0008-push-outbox.md):

* **Nothing is lost.** An alert is written in the unit of work of its cause (``alerts``, published
  to the pull feed). The worker follows the store's change feed from a durable cursor
  (``push_state/alerts_cursor``); *expanding* an alert into its deliveries
  (``push_deliveries/{alert_id}:{sub_id}`` plus a due-queue entry in ``push_outbox``), marking the
  alert ``delivery: "queued"`` and advancing the cursor happen in one unit of work. A crash before
  it commits leaves the alert pending and the cursor behind it: the next pass expands it.
* **Nothing is doubled by the outbox.** A delivery id is deterministic and inserted once; an alert
  is expanded only while it is ``pending``.
* **At-least-once to the push service, with the smallest window we can make.** A delivery is
  *claimed* (``sending``, attempt counted) durably before its request, and its result is recorded
  durably right after the response (results are group-committed as they arrive). A crash between
  the push service's 201 and that commit (one fsync) makes the next process send it again; the
  copy has the same ``Topic`` (the push service replaces an undelivered message with the same
  topic) and the same ``tag``/``alert_id`` in the payload (the client's notification replaces the
  first), so nobody sees it twice.
* **Retries** with exponential backoff honouring ``Retry-After`` for 429, 5xx, timeouts and
  connection errors; 404/410 delete the subscription; 413 and other 4xx fail permanently (logged
  with ids only). A delivery past its TTL expires instead of being sent late.
"""

from __future__ import annotations

import concurrent.futures as cf
import datetime as dt
import email.utils
import logging
import random
import socket
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests
from pywebpush import WebPushException, webpush

from server import metrics
from server.push.addresses import Blocked, Resolver, Unresolvable, checked_address, pinned_session
from server.push.config import PushConfig, push_config
from server.push.payload import encode_payload, expires_at, topic_for, ttl_seconds, urgency_for
from server.push.subscriptions import SUBSCRIPTIONS, delete_subscription, subscriptions_by_user
from server.push.vapid import VapidKeys, load_or_create_vapid
from store import DuplicateKey, Store, VersionConflict
from sync.clock import rfc3339

log = logging.getLogger("caseflow.push")

ALERTS, DELIVERIES, OUTBOX, STATE = "alerts", "push_deliveries", "push_outbox", "push_state"
CURSOR_ID = "alerts_cursor"
FEED_BATCH = 500
CLAIM_BATCH = 256
VAPID_EXP_SECONDS = 12 * 3600  # RFC 8292 allows 24 h; we sign for at most 12 h
LEASE_MARGIN = 30.0
OPEN_STATES = ("pending", "sending")
TERMINAL_STATES = ("sent", "gone", "failed", "expired", "dropped")


def delivery_id(alert_id: str, sub_id: str) -> str:
    return f"{alert_id}:{sub_id}"


def _ts(when: dt.datetime) -> float:
    return when.timestamp()


def _services_lock(services: Any) -> threading.Lock:
    return services.extra.setdefault("push_pass_lock", threading.Lock())


# -- expansion: alerts -> deliveries ------------------------------------------------------------
def expand_alerts(services: Any, now: dt.datetime, config: PushConfig | None = None) -> int:
    """Turn every pending alert after the cursor into deliveries; returns how many deliveries."""
    config = config or push_config(services)
    store: Store = services.store
    created = 0
    subs_by_user: dict[str, list[dict]] | None = None
    while True:
        cursor_doc = store.get(STATE, CURSOR_ID)
        cursor = cursor_doc.data["seq"] if cursor_doc else 0
        # only alerts are parsed: the rest of the feed (every pushed form) is skipped by its key (issue #15)
        found, scanned = store.scan_changes(cursor, FEED_BATCH,
                                            lambda coll, _id, deleted: coll == ALERTS and not deleted)
        if scanned == cursor:
            return created
        alerts = [d for d in found if d.data.get("delivery") == "pending"]
        if alerts and subs_by_user is None:
            subs_by_user = subscriptions_by_user(store)
        with store.transaction() as uow:
            current = uow.get(STATE, CURSOR_ID)
            if (current.data["seq"] if current else 0) != cursor:
                continue  # another pass moved the cursor meanwhile: read again from there
            for doc in alerts:
                alert_doc = uow.get(ALERTS, doc.id)
                if alert_doc is None or alert_doc.data.get("delivery") != "pending":
                    continue
                created += _expand_one(uow, alert_doc, subs_by_user or {}, now, config)
            last = scanned
            if current is None:
                uow.insert(STATE, CURSOR_ID, {"seq": last})
            else:
                uow.update(STATE, CURSOR_ID, {"seq": last}, expected_version=current.version)


def _expand_one(uow: Any, alert_doc: Any, subs_by_user: Mapping[str, list[dict]], now: dt.datetime,
                config: PushConfig) -> int:
    alert = alert_doc.data
    expiry = expires_at(alert, now, config.default_ttl)
    n = 0
    if ttl_seconds(expiry, now) > 0:
        for user_id in alert.get("recipients", ()):
            for sub in subs_by_user.get(user_id, ()):
                did = delivery_id(alert["alert_id"], sub["sub_id"])
                try:
                    with uow.savepoint():
                        uow.insert(DELIVERIES, did, {
                            "alert_id": alert["alert_id"], "sub_id": sub["sub_id"], "user_id": user_id,
                            "case_id": alert.get("case_id"), "state": "pending", "attempts": 0,
                            "expires_at": _ts(expiry), "created_at": rfc3339(now), "updated_at": rfc3339(now),
                            "last_status": None, "last_error": None, "sent_at": None,
                        })
                        uow.insert(OUTBOX, did, {"next_at": _ts(now)})
                except DuplicateKey:
                    continue
                n += 1
        state = "queued"
    else:
        state = "expired"
    uow.update(ALERTS, alert_doc.id, {**alert, "delivery": state}, expected_version=alert_doc.version, publish=True)
    return n


# -- sending ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Job:
    delivery_id: str
    alert: dict
    sub: dict
    attempt: int
    expires_at: float
    ttl: int  # seconds left until expires_at at the pass's ``now`` (the injectable clock)


@dataclass(frozen=True)
class Outcome:
    kind: str  # sent | gone | retry | failed
    status: int | None = None
    retry_after: float | None = None
    error: str | None = None  # exception class name only (messages may quote response bodies)


class Sender:
    """Shared sending machinery of one app: VAPID keys, a thread pool, one HTTP session per thread."""

    def __init__(self, keys: VapidKeys, config: PushConfig, public_url: str, *, allow_loopback: bool = False,
                 resolver: Resolver = socket.getaddrinfo):
        self.keys = keys
        self.config = config
        self.public_url = public_url
        self.allow_loopback = allow_loopback  # CASEFLOW_PUSH_ALLOW_HTTP_LOOPBACK (tests only)
        self.resolver = resolver
        self._local = threading.local()
        self.pool = cf.ThreadPoolExecutor(max_workers=config.concurrency, thread_name_prefix="push-send")

    def _session(self, host: str, port: int, ip: Any) -> requests.Session:
        """A keep-alive session per (host, checked address) and thread, connecting to that address only."""
        sessions = getattr(self._local, "sessions", None)
        if sessions is None:
            sessions = self._local.sessions = {}
        key = (host, port, str(ip))
        session = sessions.get(key)
        if session is None:
            if len(sessions) >= 64:  # many push hosts, or addresses that rotate: start afresh
                for old in sessions.values():
                    old.close()
                sessions.clear()
            session = sessions[key] = pinned_session(ip)
        return session

    def send(self, job: Job) -> Outcome:
        endpoint = job.sub["endpoint"]
        parts = urlsplit(endpoint)
        port = parts.port or (443 if parts.scheme == "https" else 80)
        try:
            # resolved and checked again at every send (DNS may have changed since the subscribe),
            # and the connection goes to the address that passed
            ip = checked_address(parts.hostname or "", port, allow_loopback=self.allow_loopback,
                                 resolver=self.resolver)
        except Blocked:
            return Outcome("failed", None, error="BlockedAddress")
        except Unresolvable:
            return Outcome("retry", None, error="Unresolvable")
        claims = {  # a fresh dict per request: pywebpush writes aud/exp into the dict it is given
            "sub": self.config.subject,
            "aud": f"{parts.scheme}://{parts.netloc}",
            "exp": int(time.time()) + VAPID_EXP_SECONDS,
        }
        try:
            resp = webpush(
                {"endpoint": endpoint, "keys": dict(job.sub["keys"])},
                data=encode_payload(job.alert, self.public_url),
                vapid_private_key=self.keys.vapid,
                vapid_claims=claims,
                content_encoding="aes128gcm",
                ttl=max(job.ttl, 1),
                timeout=self.config.timeout,
                headers={"Urgency": urgency_for(job.alert), "Topic": topic_for(job.alert)},
                requests_session=self._session(parts.hostname or "", port, ip),
            )
            return Outcome("sent", resp.status_code)
        except WebPushException as exc:
            resp = exc.response
            status = getattr(resp, "status_code", None)
            retry_after = parse_retry_after(resp.headers.get("Retry-After") if resp is not None else None)
            if status in (404, 410):
                return Outcome("gone", status)
            if status == 429 or (status is not None and status >= 500):
                return Outcome("retry", status, retry_after)
            return Outcome("failed", status, error="WebPushException")
        except requests.TooManyRedirects:
            return Outcome("failed", None, error="TooManyRedirects")
        except (requests.Timeout, requests.ConnectionError) as exc:
            return Outcome("retry", None, error=type(exc).__name__)
        except requests.RequestException as exc:
            return Outcome("retry", None, error=type(exc).__name__)
        except Exception as exc:  # noqa: BLE001 - e.g. keys the crypto refuses: permanent, logged by class
            return Outcome("failed", None, error=type(exc).__name__)

    def close(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)


def parse_retry_after(value: str | None) -> float | None:
    """Retry-After as seconds (delta-seconds or an HTTP-date), None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return max(0.0, (when - dt.datetime.now(dt.UTC)).total_seconds())


def sender_for(services: Any) -> Sender:
    sender = services.extra.get("push_sender")
    if sender is None:
        keys = load_or_create_vapid(services.settings.data_dir)
        sender = services.extra.setdefault("push_sender", Sender(
            keys, push_config(services), services.settings.public_url,
            allow_loopback=services.settings.push_allow_http_loopback))
    return sender


def close_sender(services: Any) -> None:
    sender = services.extra.pop("push_sender", None)
    if sender is not None:
        sender.close()


# -- one pass -----------------------------------------------------------------------------------
def _claim(services: Any, now: dt.datetime, config: PushConfig, stats: dict[str, int]) -> list[Job]:
    store: Store = services.store
    due = sorted((d.data["next_at"], d.id) for d in store.scan(OUTBOX, lambda o: o["next_at"] <= _ts(now)))
    due = due[:CLAIM_BATCH]
    if not due:
        return []
    jobs: list[Job] = []
    lease = _ts(now) + config.timeout + LEASE_MARGIN
    alerts: dict[str, tuple[dict, frozenset[str]] | None] = {}  # one parse per alert, not per delivery
    with store.transaction() as uow:
        for _, did in due:
            queued = uow.get(OUTBOX, did)
            if queued is None or queued.data["next_at"] > _ts(now):
                continue  # claimed or finished meanwhile
            delivery = uow.get(DELIVERIES, did)
            sub = uow.get(SUBSCRIPTIONS, delivery.data["sub_id"]) if delivery else None
            alert = None
            if delivery is not None:
                alert_id = delivery.data["alert_id"]
                if alert_id not in alerts:
                    doc = uow.get(ALERTS, alert_id)
                    alerts[alert_id] = (doc.data, frozenset(doc.data.get("recipients", ()))) if doc else None
                alert = alerts[alert_id]
            final = None
            if delivery is None or alert is None or sub is None:
                final = "dropped"  # unsubscribed, logged out, device revoked, or the alert is gone
            elif not _recipient_ok(uow, sub.data, alert[1]):
                final = "dropped"
            elif delivery.data["expires_at"] <= _ts(now):
                final = "expired"
            elif delivery.data["attempts"] >= config.max_attempts:
                final = "failed"
            if final is not None:
                uow.delete(OUTBOX, did, expected_version=queued.version)
                if delivery is not None:
                    uow.update(DELIVERIES, did, {**delivery.data, "state": final, "updated_at": rfc3339(now)},
                               expected_version=delivery.version)
                stats[final] = stats.get(final, 0) + 1
                continue
            attempt = delivery.data["attempts"] + 1
            if delivery.data["state"] == "sending":
                # the previous attempt's outcome was never recorded (crash or lease timeout): this is
                # the at-least-once re-send; same Topic and tag, so it replaces the first copy
                log.warning("push resend after interrupted attempt: delivery %s", did,
                            extra={"case_id": alert[0].get("case_id"), "event": "push.resend"})
            uow.update(DELIVERIES, did, {**delivery.data, "state": "sending", "attempts": attempt,
                                         "updated_at": rfc3339(now)}, expected_version=delivery.version)
            uow.update(OUTBOX, did, {"next_at": lease}, expected_version=queued.version)
            expiry = delivery.data["expires_at"]
            ttl = ttl_seconds(dt.datetime.fromtimestamp(expiry, dt.UTC), now)
            jobs.append(Job(did, alert[0], sub.data, attempt, expiry, ttl))
    return jobs


def _recipient_ok(uow: Any, sub: Mapping[str, Any], recipients: frozenset[str]) -> bool:
    """The subscription's user is still a recipient, active, and the device is not revoked."""
    if sub["user_id"] not in recipients:
        return False
    user = uow.get("users", sub["user_id"])
    if user is None or user.data.get("disabled"):
        return False
    device = uow.get("devices", sub["device_id"])
    return not (device is not None and device.data.get("revoked"))


def _backoff(config: PushConfig, attempt: int, retry_after: float | None) -> float:
    delay = min(config.backoff_max, config.backoff_base * (2 ** max(0, attempt - 1)))
    delay += random.uniform(0, delay * 0.1)  # noqa: S311 - jitter, not security
    if retry_after is not None:
        delay = max(delay, retry_after)
    return delay


def _record(services: Any, results: Iterable[tuple[Job, Outcome]], now: dt.datetime, config: PushConfig,
            stats: dict[str, int]) -> None:
    results = list(results)
    if not results:
        return
    with services.store.transaction() as uow:
        for job, outcome in results:
            did = job.delivery_id
            delivery = uow.get(DELIVERIES, did)
            queued = uow.get(OUTBOX, did)
            if delivery is None or delivery.data["state"] != "sending" or delivery.data["attempts"] != job.attempt:
                continue  # someone else decided meanwhile
            data = {**delivery.data, "last_status": outcome.status, "last_error": outcome.error,
                    "updated_at": rfc3339(now)}
            kind = outcome.kind
            if kind == "retry":
                next_at = _ts(now) + _backoff(config, job.attempt, outcome.retry_after)
                if job.attempt >= config.max_attempts:
                    kind = "failed"
                elif next_at >= job.expires_at:
                    kind = "expired"
                else:
                    data.update(state="pending", next_at=next_at)
                    uow.update(DELIVERIES, did, data, expected_version=delivery.version)
                    if queued is not None:
                        uow.update(OUTBOX, did, {"next_at": next_at}, expected_version=queued.version)
                    stats["retried"] = stats.get("retried", 0) + 1
                    log.info("push retry: delivery %s attempt %d status %s in %.0fs", did, job.attempt,
                             outcome.status or outcome.error, next_at - _ts(now),
                             extra={"case_id": job.alert.get("case_id"), "event": "push.retry"})
                    continue
            state = {"sent": "sent", "gone": "gone"}.get(kind, kind)
            data["state"] = state
            if state == "sent":
                data["sent_at"] = rfc3339(now)
            uow.update(DELIVERIES, did, data, expected_version=delivery.version)
            if queued is not None:
                uow.delete(OUTBOX, did, expected_version=queued.version)
            if state == "gone":
                delete_subscription(uow, job.sub["sub_id"], reason=f"push-service-{outcome.status}")
            stats[state] = stats.get(state, 0) + 1
            level = logging.INFO if state in ("sent", "gone") else logging.WARNING
            log.log(level, "push %s: delivery %s attempt %d status %s", state, did, job.attempt,
                    outcome.status or outcome.error,
                    extra={"case_id": job.alert.get("case_id"), "event": f"push.{state}"})


def deliver_pending(services: Any, now: dt.datetime | None = None, *, rounds: int = 20) -> dict[str, int]:
    """One delivery pass at ``now`` (default: the services' clock): expand new alerts, send every
    due delivery, record each outcome. Returns counters (``sent``, ``retried``, ``gone``, ...)."""
    now = now or services.clock.now()
    config = push_config(services)
    stats: dict[str, int] = {}
    with _services_lock(services):
        stats["expanded"] = expand_alerts(services, now, config)
        sender = sender_for(services)
        for _ in range(rounds):
            jobs = _claim(services, now, config, stats)
            if not jobs:
                break
            futures = {sender.pool.submit(sender.send, job): job for job in jobs}
            waiting = set(futures)
            while waiting:  # group commit: record whatever finished while the previous commit ran
                done, waiting = cf.wait(waiting, return_when=cf.FIRST_COMPLETED)
                _record(services, [(futures[f], f.result()) for f in done], now, config, stats)
    metrics.count_push(stats)
    return stats


def recover_interrupted(services: Any, now: dt.datetime | None = None) -> int:
    """At start-up (the embedded store has one process): deliveries claimed by a process that died
    are due again now rather than when their lease would have ended."""
    now = now or services.clock.now()
    store: Store = services.store
    claimed = [d.id for d in store.scan(OUTBOX, lambda o: o["next_at"] > _ts(now))]
    n = 0
    with store.transaction() as uow:
        for did in claimed:
            delivery = uow.get(DELIVERIES, did)
            queued = uow.get(OUTBOX, did)
            if delivery is not None and queued is not None and delivery.data["state"] == "sending":
                uow.update(OUTBOX, did, {"next_at": _ts(now)}, expected_version=queued.version)
                n += 1
    return n


def prune_deliveries(services: Any, now: dt.datetime, retention_days: int) -> int:
    """Delete finished delivery records older than the retention period."""
    cutoff = rfc3339(now - dt.timedelta(days=retention_days))
    old = [d.id for d in services.store.scan(
        DELIVERIES, lambda d: d["state"] in TERMINAL_STATES and d["updated_at"] < cutoff)]
    for start in range(0, len(old), 500):
        with services.store.transaction() as uow:
            for did in old[start:start + 500]:
                doc = uow.get(DELIVERIES, did)
                if doc is not None and doc.data["state"] in TERMINAL_STATES:
                    uow.delete(DELIVERIES, did, expected_version=doc.version)
    return len(old)


def next_due(services: Any) -> float | None:
    times = [d.data["next_at"] for d in services.store.scan(OUTBOX)]
    return min(times) if times else None


# -- the thread inside ``caseflow serve`` ----------------------------------------------------------
def start_push_worker(app_or_services: Any) -> Callable[[], None]:
    """Start the delivery thread; returns ``stop()`` (idempotent; waits for the current pass).

    The VAPID key pair is created here on first start. The thread runs a pass whenever the store
    changed, a retry is due, or ``interval`` seconds passed."""
    services = _services(app_or_services)
    config = push_config(services)
    load_or_create_vapid(services.settings.data_dir)
    stop_event = threading.Event()
    recovered = recover_interrupted(services)
    if recovered:
        log.warning("push: %d interrupted deliveries will be re-sent", recovered, extra={"event": "push.recover"})

    def loop() -> None:
        last_seq, last_pass, last_prune, due = -1, 0.0, 0.0, None
        while not stop_event.is_set():
            try:
                seq = services.store.last_seq()
                now = services.clock.now()
                if (seq != last_seq or (due is not None and due <= _ts(now))
                        or time.monotonic() - last_pass >= config.interval):
                    last_seq, last_pass = seq, time.monotonic()
                    deliver_pending(services, now)
                    due = next_due(services)  # the earliest retry, read once per pass
                if time.monotonic() - last_prune > 3600:
                    last_prune = time.monotonic()
                    prune_deliveries(services, now, config.retention_days)
            except (VersionConflict, DuplicateKey) as exc:
                # another process claimed or expanded the same alert first (two leaders overlapping
                # during a takeover): nothing is lost, the next pass goes on from what it wrote
                log.info("push worker pass lost a race: %s", type(exc).__name__, extra={"event": "push.race"})
            except Exception as exc:  # noqa: BLE001 - keep the worker alive; the store may be briefly unavailable
                log.error("push worker pass failed: %s", type(exc).__name__, extra={"event": "push.error"})
                stop_event.wait(config.interval)
            stop_event.wait(min(0.25, config.interval))

    thread = threading.Thread(target=loop, name="push-worker", daemon=True)
    thread.start()

    def stop() -> None:
        stop_event.set()
        thread.join(timeout=config.timeout + 5)
        close_sender(services)

    return stop


def _services(app_or_services: Any) -> Any:
    extensions = getattr(app_or_services, "extensions", None)
    return extensions["caseflow"] if extensions is not None else app_or_services
