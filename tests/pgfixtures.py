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
    module's PostgreSQL tests starts its own server: ``--dist loadgroup`` did not group them here.)"""
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
    store in ``data_dir/store``, or a fresh database served by ``caseflow serve --workers 2``."""
    if kind == "postgres":
        dbs = request.getfixturevalue("pg_server")
        url = dbs.create()
        request.addfinalizer(lambda: dbs.drop(url))
        return url, {"CASEFLOW_STORE": url, "CASEFLOW_WORKERS": "2"}
    return data_dir / "store", {}
