"""Moving and keeping data: ``caseflow store copy`` between the embedded store and PostgreSQL (both
ways, audit chain included and verified), the online backup of a running embedded store, and restore."""

from __future__ import annotations

import subprocess
import time

import pytest

from store import open_store
from store.transfer import copy_store
from tests.store.helpers import check_units, start_writer
from tests.store.writer import run_unit


def caseflow(*args: str) -> subprocess.CompletedProcess:
    """The real ``caseflow`` command, run in this process (click's runner: a subprocess per call is slow)."""
    from click.testing import CliRunner

    from server.cli import main

    result = CliRunner().invoke(main, list(args))
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return subprocess.CompletedProcess(args, result.exit_code, result.stdout, result.stderr)


def _fill(s, units: int = 40) -> None:
    for i in range(1, units + 1):
        run_unit(s, i)  # published documents, CAS updates, tombstones, hard deletes, a failed savepoint, audit
    with s.transaction() as u:
        u.insert("private", "p1", {"unpublished": True, "odd": "é☃\U0001f600", "n": 1.5})


def test_copy_embedded_to_postgres_and_back_keeps_everything(tmp_path, pg_url):
    src_dir = tmp_path / "src" / "store"
    with open_store(src_dir, background_checkpoint=False, checkpoint_records=15) as s:
        _fill(s)
        before = s.export()
        head = list(s.audit_log())[-1]
    out = caseflow("store", "copy", "--from", str(src_dir), "--to", pg_url)
    assert out.returncode == 0, out.stderr
    assert "verified" in out.stdout and "postgres@" in out.stdout
    out = caseflow("audit", "verify", "--store", pg_url)
    assert out.returncode == 0 and f"head {head.hash}" in out.stdout, out.stdout + out.stderr
    assert caseflow("store", "check", "--store", pg_url).returncode == 0
    with open_store(pg_url) as pg:
        assert pg.store_id == before.store_id and pg.export().digest() == before.digest()
        check_units(pg, 40)  # the writer's invariants hold on the copy too
        with pg.transaction() as u:  # and it goes on where the source stopped
            assert u.insert("c", "next", {}, publish=True).seq == before.last_seq + 1
        after = pg.export()
    back = tmp_path / "back" / "store"
    out = caseflow("store", "copy", "--from", pg_url, "--to", str(back))
    assert out.returncode == 0, out.stderr
    assert caseflow("audit", "verify", "--data", str(back.parent)).returncode == 0
    with open_store(back) as s:
        assert s.export().digest() == after.digest() and s.verify() == []
    # never over existing data
    out = caseflow("store", "copy", "--from", str(src_dir), "--to", pg_url)
    assert out.returncode != 0 and "not empty" in out.stderr
    out = caseflow("store", "copy", "--from", pg_url, "--to", str(src_dir))
    assert out.returncode != 0 and "not empty" in out.stderr


def test_copy_refuses_a_source_that_is_not_a_store(tmp_path, pg_url):
    out = caseflow("store", "copy", "--from", str(tmp_path / "nothing"), "--to", pg_url)
    assert out.returncode != 0 and "there is no store" in out.stderr


def test_online_backup_of_a_running_store_restores_consistently(tmp_path):
    data = tmp_path / "live"
    p = start_writer(data / "store", 7, "bg")  # checkpoints every 7 units: backups race with them
    try:
        assert p.stdout.readline() == b"ready\n", p.stderr.read()
        backups = []
        for k in range(4):
            time.sleep(0.3)
            out = caseflow("store", "backup", "--data", str(data), "--to", str(tmp_path / f"b{k}"))
            assert out.returncode == 0, out.stderr
            backups.append(tmp_path / f"b{k}")
    finally:
        p.kill()
        p.wait()
        p.stdout.close()
        p.stderr.close()
    lasts = []
    for k, b in enumerate(backups):
        restored = tmp_path / f"r{k}"
        out = caseflow("store", "restore", "--from", str(b), "--data", str(restored))
        assert out.returncode == 0, out.stderr
        with open_store(restored / "store", background_checkpoint=False) as s:
            lasts.append(check_units(s, 0))  # whole units only, every invariant of the writer
            assert s.verify() == []
        assert caseflow("audit", "verify", "--data", str(restored)).returncode == 0
    assert lasts == sorted(lasts) and lasts[-1] > 0  # later backups hold more
    out = caseflow("store", "restore", "--from", str(backups[0]), "--data", str(tmp_path / "r0"))
    assert out.returncode != 0 and "already holds a store" in out.stderr


@pytest.mark.parametrize("kind", ["embedded", "postgres"])
def test_copy_store_reports_a_target_in_use(tmp_path, request, kind):
    with open_store(tmp_path / "a", background_checkpoint=False) as s:
        _fill(s, 3)
        target = request.getfixturevalue("pg_url") if kind == "postgres" else tmp_path / "b"
        assert copy_store(s, target).problems == []
        with pytest.raises(Exception, match="not empty"):
            copy_store(s, target)
