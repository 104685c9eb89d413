"""The one write path: every mutation, online or offline, is applied here exactly once.

``apply_batch`` (sync push) and ``apply_one`` (online endpoints) both open a unit of work, run the
command handler inside a savepoint, and record the result under the mutation's idempotency keys
(``(device, seq)`` and ``mutation_id``) in the same unit of work as the effect: the store refuses a
second insert of either key, so a retried batch can never apply anything twice, and the batch is
durable (fsync) before the answer leaves.

Forms are validated before the unit of work opens (:mod:`sync.prevalidate`), so the write lock is
held only for the cheap checks and the writes (ADR 0012). Any failure inside a handler, expected
(a :class:`Problem`) or not, undoes that handler's writes and becomes its ``rejected`` result: a
batch is never rolled back for one mutation, and the device's later seqs go on (ADR 0013).
"""

from __future__ import annotations

import logging
import os
import random
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from forms.registry import FormRegistry
from store import DuplicateKey, Store, UnitOfWork, VersionConflict
from sync.actor import Actor
from sync.audits import audit_refusal, replay_read
from sync.clock import Clock
from sync.commands import HANDLERS
from sync.context import CASES, Ctx
from sync.payloads import PAYLOADS, load_payload
from sync.prevalidate import Validations, prevalidate
from sync.problems import Problem
from sync.recipients import Directory
from sync.system import SYSTEM_HANDLERS, is_system

log = logging.getLogger("caseflow.sync")

MAX_MUTATIONS = 200
KINDS = frozenset(HANDLERS)
MUTATION_ID = re.compile(r"^[A-Za-z0-9-]{8,64}$")
MUTATION_LOG, MUTATION_IDS, DEVICE_SEQ = "mutation_log", "mutation_ids", "device_seq"


@dataclass(frozen=True)
class Mutation:
    mutation_id: str
    kind: str
    case_id: str | None
    payload: Mapping[str, Any]
    seq: int | None = None
    base_version: int | None = None


def _envelope_errors(raw: Any, index: int) -> list[dict[str, str]]:
    where = f"/mutations/{index}"
    if not isinstance(raw, dict):
        return [{"path": where, "message": "Each mutation is an object."}]
    errors = []
    if not isinstance(raw.get("mutation_id"), str) or not MUTATION_ID.match(raw["mutation_id"]):
        errors.append({"path": where + "/mutation_id", "message": "Use the client's UUID for this mutation."})
    seq = raw.get("seq")
    if not isinstance(seq, int) or isinstance(seq, bool) or seq < 1:
        errors.append({"path": where + "/seq", "message": "seq is a whole number from 1, rising by one per device."})
    if raw.get("kind") not in KINDS:
        errors.append({"path": where + "/kind", "message": "Choose one of: " + ", ".join(sorted(KINDS)) + "."})
    if not isinstance(raw.get("payload"), dict):
        errors.append({"path": where + "/payload", "message": "payload is an object."})
    if raw.get("case_id") is not None and not isinstance(raw.get("case_id"), str):
        errors.append({"path": where + "/case_id", "message": "case_id is a string."})
    bv = raw.get("base_version")
    if bv is not None and (not isinstance(bv, int) or isinstance(bv, bool) or bv < 0):
        errors.append({"path": where + "/base_version", "message": "base_version is a whole number."})
    allowed = {"mutation_id", "seq", "kind", "case_id", "base_version", "payload", "client_time"}
    errors += [{"path": f"{where}/{k}", "message": "Remove this field: it is not part of a mutation."}
               for k in raw if k not in allowed]
    return errors


def parse_batch(body: Any) -> tuple[str, list[Mutation]]:
    """Validate a push body as a whole: a malformed envelope is a 422 for the request, not a rejection."""
    if not isinstance(body, dict):
        raise Problem(422, "validation-error", "The body is an object.",
                      errors=[{"path": "", "message": "Send an object."}])
    errors = []
    if not isinstance(body.get("device_id"), str):
        errors.append({"path": "/device_id", "message": "This field is required."})
    mutations = body.get("mutations")
    if not isinstance(mutations, list):
        errors.append({"path": "/mutations", "message": "This field is required (a list)."})
        mutations = []
    elif len(mutations) > MAX_MUTATIONS:
        raise Problem(413, "batch-too-large", f"Send at most {MAX_MUTATIONS} mutations per push.")
    errors += [{"path": f"/{k}", "message": "Remove this field: it is not part of a push."}
               for k in body if k not in ("device_id", "mutations")]
    for i, raw in enumerate(mutations):
        errors += _envelope_errors(raw, i)
    if not errors:
        seqs = [m["seq"] for m in mutations]
        if len(set(seqs)) != len(seqs):
            errors.append({"path": "/mutations", "message": "Each seq appears once in a batch."})
    if errors:
        raise Problem(422, "validation-error", f"{len(errors)} field(s) failed validation.",
                      title="Your request has invalid fields", errors=errors)
    return body["device_id"], [Mutation(m["mutation_id"], m["kind"], m.get("case_id"), m["payload"], m["seq"],
                                        m.get("base_version")) for m in mutations]


class _Unobserved:
    def mutation(self, kind: str, status: str) -> None:
        pass

    def commit(self, seconds: float) -> None:
        pass


class WritePath:
    def __init__(self, store: Store, forms: FormRegistry, case_types: Any, clock: Clock,
                 extra_handlers: Mapping[str, Any] | None = None, observer: Any = None):
        self.store = store
        # mutation(kind, status) and commit(seconds): the server's metrics (server.metrics.Observer)
        self.observer = observer or _Unobserved()
        # online-only kinds (administration): apply_one runs them, a sync push never does
        self.handlers = {**HANDLERS, **(extra_handlers or {})}
        self.forms = forms
        self.case_types = case_types
        self.clock = clock
        self.directory = Directory(store)

    def _ctx(self, uow: UnitOfWork, actor: Actor, mutation: Mutation, device_id: str | None,
             validations: Validations | None) -> Ctx:
        now = self.clock.now()
        return Ctx(uow=uow, actor=actor, forms=self.forms, case_types=self.case_types, now=now,
                   today=self.clock.today(), mutation_id=mutation.mutation_id, device_id=device_id,
                   directory=self.directory, validations=validations)

    def _prevalidate(self, actor: Actor, mutations: list[Mutation]) -> Validations:
        """Validate every form the mutations carry, with no lock held, unless the case already
        refuses it (see :mod:`sync.prevalidate`)."""
        validations = Validations(self.forms)
        today = self.clock.today()
        for m in mutations:
            prevalidate(validations, self.store, m.kind, m.payload, today,
                        case_types=self.case_types, actor=actor, case_id=m.case_id)
        return validations

    def _run(self, uow: UnitOfWork, actor: Actor, mutation: Mutation, device_id: str | None,
             validations: Validations | None = None, handlers: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """The handler inside a savepoint: a rejection, or any failure, undoes exactly its own writes."""
        try:
            # the kind's one schema (sync.payloads); online-only admin kinds carry server-built payloads
            payload = load_payload(mutation.kind, mutation.payload) if mutation.kind in PAYLOADS else mutation.payload
            with uow.savepoint():
                handler = (handlers or self.handlers)[mutation.kind]
                return handler(self._ctx(uow, actor, mutation, device_id, validations),
                               mutation.case_id, payload, mutation.base_version)
        except Problem as problem:
            return {"status": "rejected", "problem": problem.to_dict()}
        except Exception as exc:  # a fault in a handler: this mutation fails, the batch and the device go on
            if isinstance(exc, DuplicateKey) and handlers is SYSTEM_HANDLERS:
                # a concurrent writer (another host's scan) inserted the same key first: written once
                return {"status": "duplicate", "alert_id": mutation.mutation_id}
            log.error("mutation failed", exc_info=True,
                      extra={"mutation_id": mutation.mutation_id, "event": f"{mutation.kind}:failed",
                             "problem": type(exc).__name__})
            return {"status": "rejected", "problem": Problem(
                500, "mutation-failed",
                f"The server could not apply this {mutation.kind} mutation ({type(exc).__name__}); nothing "
                "of it was written. The fault is logged with the mutation id; the device's later "
                "mutations are applied as usual.").to_dict()}

    # -- online -------------------------------------------------------------------------------
    def apply_one(self, actor: Actor, mutation: Mutation,
                  respond: Callable[[UnitOfWork, dict[str, Any]], dict[str, Any]] | None = None) -> dict[str, Any]:
        """An online command. With an ``Idempotency-Key`` (the mutation id) a retry answers the
        first result; a rejection raises the problem for the HTTP layer (a refusal is audited).

        ``respond(uow, result)`` builds the answer's body in the same unit of work (a case view, its
        read audited there); it is recorded with the result as ``result["response"]``, so a replay
        answers exactly what the first request answered, never the case as it is now (issue #10)."""
        return _retry_races(lambda: self._apply_one(actor, mutation, respond))

    def _apply_one(self, actor: Actor, mutation: Mutation,
                   respond: Callable[[UnitOfWork, dict[str, Any]], dict[str, Any]] | None) -> dict[str, Any]:
        validations = self._prevalidate(actor, [mutation])
        refused: Problem | None = None
        with self.store.transaction() as uow:
            seen = uow.get(MUTATION_IDS, mutation.mutation_id)
            if seen is not None:
                if seen.data["user_id"] != actor.user_id:
                    raise Problem(409, "idempotency-key-reused", "This idempotency key was used by another request.")
                replay_read(uow, actor, seen.data)
                return {**seen.data["result"], "duplicate": True}
            result = self._run(uow, actor, mutation, actor.device_id, validations)
            if result["status"] == "rejected":
                refused = Problem.from_dict(result["problem"])
                audit_refusal(uow, actor, mutation, actor.device_id, result["problem"])
            else:
                record = {"device_id": actor.device_id, "seq": None, "user_id": actor.user_id, "result": result}
                if respond is not None:
                    result = record["result"] = {**result, "response": respond(uow, result)}
                    record["read_case"] = result["response"].get("case_id")
                uow.insert(MUTATION_IDS, mutation.mutation_id, record)
            committing = time.perf_counter()
        self.observer.commit(time.perf_counter() - committing)
        self.observer.mutation(mutation.kind, result["status"] if refused is None else "rejected")
        if refused is not None:
            raise refused
        return result

    # -- the server's own writes ---------------------------------------------------------------
    def apply_system(self, actor: Actor, mutations: list[Mutation]) -> list[dict[str, Any]]:
        return _retry_races(lambda: self._apply_system(actor, mutations))

    def _apply_system(self, actor: Actor, mutations: list[Mutation]) -> list[dict[str, Any]]:
        """System mutations (:mod:`sync.system`, e.g. deadline alerts) in one unit of work, each in
        its savepoint. A system mutation's id is the key of what it writes, so the store's insert is
        its idempotency key: a rescan answers ``duplicate`` and writes nothing twice."""
        if not is_system(actor):
            raise Problem(403, "forbidden-role", "Only the server itself makes system mutations.")
        with self.store.transaction() as uow:
            results = [self._run(uow, actor, m, None, handlers=SYSTEM_HANDLERS) for m in mutations]
            committing = time.perf_counter()
        self.observer.commit(time.perf_counter() - committing)
        for m, result in zip(mutations, results, strict=True):
            self.observer.mutation(m.kind, result["status"])
            if result["status"] != "duplicate":
                log.info("mutation", extra={"mutation_id": m.mutation_id, "event": f"{m.kind}:{result['status']}"})
        return results

    # -- offline ----------------------------------------------------------------------------------
    def apply_batch(self, actor: Actor, device_id: str, mutations: list[Mutation]) -> list[dict[str, Any]]:
        return _retry_races(lambda: self._apply_batch(actor, device_id, mutations))

    def _apply_batch(self, actor: Actor, device_id: str, mutations: list[Mutation]) -> list[dict[str, Any]]:
        if device_id != actor.device_id:
            raise Problem(403, "wrong-device", "A device pushes only its own mutations (the token's device).")
        results: dict[int, dict[str, Any]] = {}
        validations = self._prevalidate(actor, mutations)
        with self.store.transaction() as uow:
            uow.prefetch(_batch_keys(device_id, mutations))  # one round trip on PostgreSQL, not ~3 per mutation
            state = uow.get(DEVICE_SEQ, device_id)
            last = state.data["last_seq"] if state else 0
            # the push is under way (the operator's "started, never answered" after a crash; the
            # SIGKILL tests of ``caseflow serve`` kill on this line, inside the unit of work; the pid
            # names the gunicorn worker that holds the batch)
            log.info("push.applying", extra={"device_id": device_id, "event": "push.applying",
                                             "count": len(mutations), "pid": os.getpid()})
            for m in sorted(mutations, key=lambda m: m.seq):
                results[m.seq], last = self._one_in_batch(uow, actor, device_id, m, last, validations)
            if state is None:
                uow.insert(DEVICE_SEQ, device_id, {"last_seq": last})
            elif last != state.data["last_seq"]:
                uow.update(DEVICE_SEQ, device_id, {"last_seq": last}, expected_version=state.version)
            committing = time.perf_counter()
        self.observer.commit(time.perf_counter() - committing)
        counts: dict[str, int] = {}
        for m in mutations:
            status = results[m.seq]["status"]
            self.observer.mutation(m.kind, status)
            key = f"{m.kind}:{status}"
            counts[key] = counts.get(key, 0) + 1
        # one line per push, not per mutation (ADR 0027): kinds and statuses counted, ids only of rejections
        log.info("push", extra={"device_id": device_id, "event": "push", "counts": counts, "pid": os.getpid()})
        return [{"mutation_id": m.mutation_id, "seq": m.seq, **results[m.seq]} for m in mutations]

    def _one_in_batch(self, uow: UnitOfWork, actor: Actor, device_id: str, m: Mutation, last: int,
                      validations: Validations):
        logged = uow.get(MUTATION_LOG, f"{device_id}:{m.seq}")
        if logged is not None:
            if logged.data["mutation_id"] != m.mutation_id:
                return {"status": "rejected", "problem": Problem(
                    409, "seq-reused", "This seq was already used by another mutation of this device.").to_dict()}, last
            return {**logged.data["result"], "status": "duplicate",
                    "first_status": logged.data["result"]["status"]}, last
        if m.seq > last + 1:
            return {"status": "pending", "detail": f"Waiting for seq {last + 1} of this device; send it first."}, last
        if m.seq <= last:  # pragma: no cover - every seq up to last is logged
            problem = Problem(409, "seq-reused", "This seq was already used.")
            return {"status": "rejected", "problem": problem.to_dict()}, last
        seen = uow.get(MUTATION_IDS, m.mutation_id)
        if seen is not None and seen.data["user_id"] != actor.user_id:
            # another user's id: answering its first result would hand over their case ids and references
            result = {"status": "rejected", "problem": Problem(
                409, "mutation-id-reused", "This mutation id was used by another user; choose a new UUID.").to_dict()}
        elif seen is not None:
            result = {**seen.data["result"], "status": "duplicate", "first_status": seen.data["result"]["status"]}
        else:
            result = self._run(uow, actor, m, device_id, validations)
            if result["status"] == "rejected":
                audit_refusal(uow, actor, m, device_id, result["problem"])
            uow.insert(MUTATION_IDS, m.mutation_id, {"device_id": device_id, "seq": m.seq, "user_id": actor.user_id,
                                                     "result": result})
        uow.insert(MUTATION_LOG, f"{device_id}:{m.seq}", {"mutation_id": m.mutation_id, "result": result})
        if result["status"] == "rejected":  # rare, and worth its id; the rest is in the batch's summary line
            log.info("mutation", extra={"mutation_id": m.mutation_id, "device_id": device_id,
                                        "event": f"{m.kind}:rejected"})
        return result, m.seq


def _batch_keys(device_id: str, mutations: list[Mutation]) -> list[tuple[str, str]]:
    """What a push reads before its handlers run: the device's seq, each mutation's log and id, its case."""
    keys = [(DEVICE_SEQ, device_id)]
    for m in mutations:
        keys += [(MUTATION_LOG, f"{device_id}:{m.seq}"), (MUTATION_IDS, m.mutation_id)]
        if isinstance(m.case_id, str) and m.case_id:
            keys.append((CASES, m.case_id))
    return keys


#: attempts of a unit of work that lost a compare-and-set race at commit (ADR 0031)
RACE_ATTEMPTS = 8


def _retry_races(run: Callable[[], Any]) -> Any:
    """Run ``run`` (one unit of work) again when its commit lost a compare-and-set race: another
    server process committed a document this unit read (PostgreSQL store; the embedded store
    serialises its units and never raises here). Nothing of the losing attempt was written, and
    the handlers decide again on what is now committed, so a retry is the same as a later request."""
    for attempt in range(RACE_ATTEMPTS):
        try:
            return run()
        except (VersionConflict, DuplicateKey):
            if attempt == RACE_ATTEMPTS - 1:
                raise
            time.sleep(random.uniform(0, 0.002 * 2 ** attempt))  # noqa: S311 - jitter, not a secret
    raise AssertionError("unreachable")
