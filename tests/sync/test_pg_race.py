"""Two server processes on PostgreSQL write the same case: the unit that loses the compare-and-set
at commit is run again by the write path (ADR 0031), so the push is applied, not answered 503,
and neither write is lost."""

from __future__ import annotations

import contextlib
import uuid

from forms.registry import FormRegistry
from server.app import load_case_types
from server.auth.accounts import Accounts
from server.demo import AGENCIES, PARTNERSHIPS, USERS
from store import open_store
from sync.clock import Clock
from sync.service import Mutation, WritePath
from tests.support import DEMO_PASSWORD
from tests.sync.harness import FORM, form_version, referral_data


class Interleaved:
    """The store, except that before the first ``n`` commits another process commits a change to
    ``case_id`` (a real second pool on the same database, not a stand-in)."""

    def __init__(self, store, other, case_id: str, n: int):
        self.store, self.other, self.case_id, self.n, self.units = store, other, case_id, n, 0

    def __getattr__(self, name):
        return getattr(self.store, name)

    @contextlib.contextmanager
    def transaction(self):
        self.units += 1
        with self.store.transaction() as uow:
            yield uow
            if self.units <= self.n:
                with self.other.transaction() as o:
                    d = o.get("cases", self.case_id)
                    touched = d.data.get("touched_by_other", 0) + 1
                    o.update("cases", self.case_id, {**d.data, "touched_by_other": touched},
                             expected_version=d.version, publish=True)


def test_a_push_that_loses_a_commit_race_is_run_again_and_both_writes_stay(pg_url):
    store, other = open_store(pg_url), open_store(pg_url)
    try:
        clock = Clock()
        accounts = Accounts(store, clock)
        for pid, (name, prefix) in PARTNERSHIPS.items():  # the demo fixture, but only the two users hashed
            accounts.add_partnership(pid, name, prefix)
        for agency_id, partnership, sector, name in AGENCIES:
            accounts.add_agency(agency_id, partnership, sector, name)
        for username, partnership, agency, roles in USERS:
            if username in ("esx.school-dsl", "esx.business"):
                accounts.add_user(username, DEMO_PASSWORD, partnership, roles, agency=agency)
        forms, case_types = FormRegistry.load_default(), load_case_types()

        def actor(username):
            return accounts.actor_for(accounts.user_by_username(username), device_id=f"dev-{username}")

        school, business = actor("esx.school-dsl"), actor("esx.business")
        case_id = str(uuid.uuid4())
        create = Mutation(str(uuid.uuid4()), "create_case", case_id, {"case_type": "serious_incident", "referral": {
            "form_id": FORM, "form_version": form_version(), "data": referral_data()}}, 1)
        (r,) = WritePath(store, forms, case_types, clock).apply_batch(school, school.device_id, [create])
        assert r["status"] == "applied", r

        racing = Interleaved(store, other, case_id, n=2)
        move = Mutation(str(uuid.uuid4()), "transition", case_id,
                        {"event": "put_to_crg", "expected_state": "referred"}, 1)
        (r,) = WritePath(racing, forms, case_types, clock).apply_batch(business, business.device_id, [move])
        assert r["status"] == "applied", r
        assert racing.units == 3  # lost twice at commit, then committed
        case = store.get("cases", case_id).data
        assert case["state"] == "sin_consideration" and case["touched_by_other"] == 2
        assert store.get("mutation_ids", move.mutation_id) is not None
        assert store.verify() == []
    finally:
        other.close()
        store.close()
