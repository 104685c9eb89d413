"""Hypothesis stateful: four devices (business team, CRG, two agency safeguarding leads) work
offline against one server and sync in random order through a proxy that loses requests and
responses at random. After a final clean round every device holds exactly what the server shows
it, every mutation was applied once, and every value anyone typed is in the record or in a
conflict record."""

from __future__ import annotations

import itertools
import shutil
import tempfile
import uuid
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, precondition, rule

from sync.client import Unavailable
from tests.faults import at_least
from tests.sync.harness import (
    FIELDS,
    FORM,
    InProcessServer,
    check_converged,
    check_exactly_once,
    device,
    form_version,
    referral_data,
    set_ptr,
    settle,
)
from tests.sync.proxy import CuttingProxy

USERS = ("esx.business", "esx.crg", "esx.school-dsl", "esx.health-dsl")
CREATORS = ("esx.business", "esx.school-dsl", "esx.health-dsl")  # may open a case and edit its referral
TOTALS: dict[str, int] = {}
ANSWER_LOSSES = ("drop_response", "cut_response")  # the server committed; the device never got the answer
LOSS_FLOOR = 20  # requests and answers lost per run, at least (asserted: docs/testing.md)


@pytest.fixture(scope="module")
def world():
    tmp = Path(tempfile.mkdtemp(prefix="caseflow-stateful-"))
    # each example logs every user in on a fresh device: lift the per-user device cap (tested on its own)
    server = InProcessServer(tmp / "data", max_devices_per_user=1000)
    proxy = CuttingProxy(server.port)
    yield server, proxy, tmp
    proxy.close()
    server.close()
    shutil.rmtree(tmp, ignore_errors=True)


@pytest.mark.timeout(600)  # a hang ceiling for a loaded machine
def test_devices_offline_with_lossy_sync_converge_exactly_once(world):
    server, proxy, tmp = world
    counter = itertools.count()
    version = form_version()

    class Devices(RuleBasedStateMachine):
        @initialize()
        def start(self):
            run = next(counter)
            self.dir = tmp / f"run{run}"
            proxy.reseed(run, 0.0)
            self.devices = {u: device(self.dir / f"{u}.db", proxy.url, u, seed=run) for u in USERS}
            self.cases: list[str] = []
            self.written: dict[str, dict[str, str]] = {}
            self.acked: dict[str, dict] = {}
            self.values = itertools.count()
            # one case everyone already holds, so that offline edits of the same form start from one base
            first = self.devices["esx.business"].create_case("serious_incident", FORM, version, referral_data())
            self.cases.append(first.case_id)
            self.devices["esx.business"].push()
            for d in self.devices.values():
                d.pull()

        @rule(who=st.sampled_from(CREATORS))
        def create_case(self, who):
            case_id = str(uuid.uuid4())
            self.devices[who].create_case("serious_incident", FORM, version, referral_data(), case_id)
            self.cases.append(case_id)

        def _known(self, d, pick):
            """A case this device knows (pulled, or opened by itself), or None."""
            known = [c for c in self.cases if d.local_submission(c, FORM) is not None]
            return known[pick % len(known)] if known else None

        def _edit(self, who, case_id, fields):
            d = self.devices[who]
            data = d.local_submission(case_id, FORM)
            typed = {}
            for pointer in fields:
                typed[pointer] = f"{who} typed value {next(self.values)}"
                set_ptr(data, pointer, typed[pointer])
            q = d.save_submission(case_id, FORM, version, data, status="final")
            self.written[q.mutation_id] = typed

        @precondition(lambda self: self.cases)
        @rule(who=st.sampled_from(CREATORS), pick=st.integers(0, 50),
              fields=st.lists(st.sampled_from(FIELDS), min_size=1, max_size=2, unique=True))
        def edit_referral(self, who, pick, fields):
            """Edit one or two fields of a referral this device knows."""
            case_id = self._known(self.devices[who], pick)
            if case_id is not None:
                self._edit(who, case_id, fields)

        @precondition(lambda self: self.cases)
        @rule(pick=st.integers(0, 50), field=st.sampled_from(FIELDS))
        def everyone_edits_the_same_field(self, pick, field):
            """Every device that knows the case types into the same field while offline."""
            case_id = self.cases[pick % len(self.cases)]
            for who in CREATORS:
                if self.devices[who].local_submission(case_id, FORM) is not None:
                    self._edit(who, case_id, [field])

        @precondition(lambda self: self.cases)
        @rule(pick=st.integers(0, 50), event=st.sampled_from(["put_to_crg"] + ["escalate_to_statutory_leads"] * 3),
              who=st.sampled_from(["esx.business", "esx.crg"]))
        def transition(self, pick, event, who):
            d = self.devices[who]
            known = [c for c in self.cases if d.local.entity("case", c) is not None]
            if known:
                case_id = known[pick % len(known)]
                d.transition(case_id, event, d.local.entity("case", case_id)[1]["state"])

        @rule(who=st.sampled_from(USERS), seed=st.integers(0, 2**16), loss=st.sampled_from([0.0, 0.2, 0.5]),
              pull=st.booleans())
        def sync(self, who, seed, loss, pull):
            d = self.devices[who]
            proxy.reseed(seed, loss)
            if loss and d.local.outbox():
                # a lossy push loses two requests and two answers after commit for sure (4 of the device's 6
                # attempts), then more at random: the losses land on whichever pushes the examples make
                proxy.force_push += ["drop_request", ANSWER_LOSSES[seed % 2], "drop_request", ANSWER_LOSSES[~seed % 2]]
            try:
                for r in d.push():
                    self.acked.setdefault(r["mutation_id"], r)
                if pull:
                    d.pull()
            except Unavailable:
                pass  # every retry was lost: the outbox keeps everything for next time
            finally:
                proxy.reseed(seed, 0.0)
                proxy.force_push.clear()  # a push that gave up (Unavailable) leaves nothing for the next one

        def teardown(self):
            if not hasattr(self, "devices"):
                return
            proxy.reseed(0, 0.0)
            clients = list(self.devices.values())
            settle(clients)
            check_converged(clients)
            stats = check_exactly_once(server.store, clients, self.written, self.acked)
            for k, v in stats.items():
                TOTALS[k] = TOTALS.get(k, 0) + v
            for c in clients:
                c.close()

    Devices.TestCase.settings = settings(max_examples=12, stateful_step_count=30, deadline=None,
                                         suppress_health_check=list(HealthCheck))
    # Losses fall on whichever pushes the examples make, so a run's count varies (one run dropped 15
    # requests): run more examples until both floors are reached, at most three rounds; the floors
    # below are still asserted from what the proxy actually did.
    for _ in range(3):
        Devices.TestCase().runTest()
        if (proxy.push_counts["drop_request"] >= LOSS_FLOOR
                and sum(proxy.push_counts[m] for m in ANSWER_LOSSES) >= LOSS_FLOOR):
            break
    print(f"\nstateful sync: proxy {dict(proxy.counts)}, of them push requests {dict(proxy.push_counts)}; "
          f"results {TOTALS}")
    at_least("push requests dropped before the server saw them", proxy.push_counts["drop_request"], LOSS_FLOOR,
             "a lost request must be retried and applied once")
    at_least("push answers lost after commit", sum(proxy.push_counts[m] for m in ANSWER_LOSSES), LOSS_FLOOR,
             "a committed batch whose answer is lost must answer its first result on retry")
    at_least("mutations applied", TOTALS.get("applied", 0), 50, "the devices' work got through")
    at_least("typed values kept", TOTALS.get("values_kept", 0), 20, "edits reached the record")
