from __future__ import annotations

import pytest

from tests.faults import KILL_TESTS, RUN_KILL_FLOOR
from tests.support import LiveServer

pytest_plugins = ["tests.pgfixtures"]

#: The only skips the suite accepts: a fragment of the skip's reason -> why it is acceptable. Each is
#: listed in docs/testing.md ("Skips"). Any other skip fails the run, so that a missing registry, a
#: failed import or an absent service turns red instead of quietly testing less.
ALLOWED_SKIPS: dict[str, str] = {}


def _refuse_undocumented_skip(report) -> None:
    if report.skipped and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        if not any(fragment in reason for fragment in ALLOWED_SKIPS):
            report.outcome = "failed"
            report.longrepr = (f"skipped without a documented reason: {reason!r}. A skip must be allowed in "
                               f"tests/conftest.py ALLOWED_SKIPS and listed in docs/testing.md; otherwise fix "
                               f"what made the test skip.")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    _refuse_undocumented_skip(outcome.get_result())


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector):
    """A whole module skipped at import (``pytest.importorskip``, ``allow_module_level``) counts too."""
    outcome = yield
    _refuse_undocumented_skip(outcome.get_result())


_kills: dict[str, int] = {}


def pytest_runtest_logreport(report):
    """Collects each kill test's SIGKILL count (in the xdist controller too: reports carry it)."""
    if report.when == "call" and report.passed:
        for name, value in report.user_properties:
            if name == "sigkills":
                _kills[report.nodeid] = value


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    if _kills:
        parts = ", ".join(f"{nodeid.split('::')[0]} {n}" for nodeid, n in sorted(_kills.items()))
        terminalreporter.write_line(f"SIGKILLs this run: {sum(_kills.values())} ({parts})")


def pytest_sessionfinish(session, exitstatus):
    """A full run (every kill test ran and passed) must have killed at least RUN_KILL_FLOOR times."""
    if hasattr(session.config, "workerinput") or set(KILL_TESTS) - set(_kills):
        return
    total = sum(_kills.values())
    if total < RUN_KILL_FLOOR:
        session.config.get_terminal_writer().line(
            f"FAILED: {total} SIGKILLs this run, the floor is {RUN_KILL_FLOOR} (tests/faults.py)", red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.fixture(scope="session")
def server(tmp_path_factory):
    """One demo server for tests that do not change global state."""
    srv = LiveServer(tmp_path_factory.mktemp("shared") / "data").start()
    yield srv
    srv.stop()


@pytest.fixture
def fresh_server(tmp_path):
    """A server of its own, for tests that change global state (throttling, revocation, restarts)."""
    servers = []

    def start(**kw) -> LiveServer:
        srv = LiveServer(tmp_path / f"data{len(servers)}", **kw).start()
        servers.append(srv)
        return srv

    yield start
    for srv in servers:
        srv.stop()
