"""What every fault test shares: its floors and the run's SIGKILL ledger.

A kill test counts the SIGKILLs it *observed* (a child reaped with SIGKILL, not loop iterations),
asserts the floors docs/testing.md lists, and records its count with :func:`record_kills`. The
run's total is summed in tests/conftest.py, printed at the end, and a full run (every test in
``KILL_TESTS`` ran) fails when the total is below ``RUN_KILL_FLOOR``.

A new kill test (the PostgreSQL store's, for one) marks itself ``@pytest.mark.kills``, calls
``record_kills(request, kills, floor=..., what=...)``, and adds its node id to ``KILL_TESTS`` with
its floor, so that the run's total counts it and a run without it is not taken for a full one.
"""

from __future__ import annotations

import pytest

#: node id -> the SIGKILLs that test asserts it delivered at least (their sum is the run's floor)
KILL_TESTS: dict[str, int] = {
    "tests/store/test_crash.py::test_sigkill_writer_at_random_moments_loses_nothing_acknowledged": 260,
    "tests/sync/test_kill.py::test_sigkill_during_push_batches_applies_everything_exactly_once": 230,
    "tests/sync/test_kill_serve.py::test_sigkill_of_caseflow_serve_during_sync_applies_everything_exactly_once": 10,
    # PostgreSQL (issue #14): gunicorn workers of `serve --store postgresql://... --workers 2`
    "tests/sync/test_kill_pg.py::test_sigkill_of_gunicorn_workers_on_postgres_applies_everything_exactly_once": 12,
}
RUN_KILL_FLOOR = 500
assert sum(KILL_TESTS.values()) >= RUN_KILL_FLOOR + 12  # the embedded store's 500, and PostgreSQL's on top


def floor(test: str) -> int:
    """The floor of one test of ``KILL_TESTS``, by its function name."""
    (n,) = [v for k, v in KILL_TESTS.items() if k.endswith("::" + test)]
    return n


def record_kills(request: pytest.FixtureRequest, kills: int, *, what: str) -> None:
    """Assert this test's floor and put its count into the run's ledger."""
    need = KILL_TESTS.get(request.node.nodeid, 0)
    assert kills >= need, f"{what}: {kills} SIGKILLs observed, the floor is {need}"
    request.node.user_properties.append(("sigkills", kills))


def at_least(name: str, value: int, floor_: int, why: str) -> None:
    """A floor of a fault test's figure, failing with the reason the figure matters."""
    assert value >= floor_, f"{name} = {value}, expected at least {floor_}: {why}"
