from __future__ import annotations

import pytest

from tests.support import LiveServer

pytest_plugins = ["tests.pgfixtures"]


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
