"""pytest fixtures for the PostgreSQL store: one throwaway cluster per test session (per xdist worker),
or the server named by ``CASEFLOW_TEST_PG`` (a superuser URL, e.g. one ``scripts/test`` started),
and a fresh database per test. PostgreSQL missing is a failure with the fix in its message."""

from __future__ import annotations

import os

import pytest

from tests.pgcluster import Cluster, Databases, PostgresMissing

STORES = ["embedded", "postgres"]


def stores(group: str) -> list:
    """STORES as the params of a module-scoped server fixture. (Each xdist worker that runs one of the
    module's PostgreSQL tests starts its own server: with pytest 9.2 and pytest-xdist 3.8,
    ``--dist loadgroup`` spread even explicitly ``xdist_group``-marked tests over both workers.)"""
    del group
    return list(STORES)


@pytest.fixture(scope="session")
def pg_server():
    """Databases on a running PostgreSQL server (started here unless CASEFLOW_TEST_PG names one)."""
    url = os.environ.get("CASEFLOW_TEST_PG")
    if url:
        yield Databases(url)
        return
    try:
        cluster = Cluster().start()
    except PostgresMissing as exc:
        pytest.fail(str(exc), pytrace=False)
    try:
        yield Databases(cluster.url())
    finally:
        cluster.stop()


@pytest.fixture
def pg_url(pg_server):
    """A fresh, empty database of its own, dropped afterwards."""
    url = pg_server.create()
    yield url
    pg_server.drop(url)


@pytest.fixture
def store_target(request, tmp_path):
    """Where a store lives for a test parametrised over STORES: a data directory or a database URL."""
    kind = getattr(request, "param", "embedded")
    if kind == "postgres":
        return request.getfixturevalue("pg_url")
    return tmp_path / "db"


def store_for(request, kind: str, data_dir):
    """(store target, extra LiveServer env) for a test module parametrised over STORES: the embedded
    store in ``data_dir/store``, or a fresh database served by ``caseflow serve --workers 4``."""
    if kind == "postgres":
        dbs = request.getfixturevalue("pg_server")
        url = dbs.create()
        request.addfinalizer(lambda: dbs.drop(url))
        return url, {"CASEFLOW_STORE": url, "CASEFLOW_WORKERS": "4"}
    return data_dir / "store", {}


class ServedOnPostgres:
    """``caseflow serve --workers 4`` on a fresh database, with ``store``: the same database opened in
    the test process, so a test can look at what the server wrote as it does on the in-process app."""

    def __init__(self, request, data_dir, env: dict | None = None):
        from store import open_store
        from tests.support import LiveServer

        url, store_env = store_for(request, "postgres", data_dir)
        self.server = LiveServer(data_dir, env={**store_env, **(env or {})}).start(timeout=120)
        self.url, self.port = self.server.url, self.server.port
        self.store = open_store(url, pool_size=2, create=False)

    def close(self) -> None:
        self.store.close()
        self.server.stop()
