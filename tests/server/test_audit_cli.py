"""``caseflow audit verify`` / ``audit show`` on real data directories written by a real server.

An attacker with disk access edits, removes or reorders audit entries in the files the store
wrote: in the audit segments of a checkpoint, and in the write-ahead journal (re-framing the
record with a correct CRC, as anyone can). The command must name the first broken entry each
time, say "intact" with the entry count and head hash otherwise, and refuse (exit 2) while a
server holds the data directory. Also: every write and every full-record read of a case leaves an
audit entry with who, roles, device, when and what, in ids only.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from server.cli import main
from store import journal as jr
from store import open_store
from store.audit import entry_hash
from store.auditcheck import audit_entries, verify_audit
from tests.server.casehelpers import SENTINEL_DOB, SENTINEL_NAME, Device, latest, ok, referral_data
from tests.support import ROOT, LiveServer


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "server.cli", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=60)


@pytest.fixture(scope="module")
def audited(tmp_path_factory):
    """A data dir with a case written and read by several users on their devices; the server stopped."""
    data = tmp_path_factory.mktemp("audit") / "data"
    srv = LiveServer(data).start()
    ops = []
    try:
        dsl, business, crg = (Device(srv.url, u) for u in ("esx.school-dsl", "esx.business", "esx.crg"))
        case_id = dsl.open_case()
        ops.append(("case.create", dsl))
        ok(business.get(f"/api/v1/cases/{case_id}"))
        ops.append(("case.read", business))
        ok(business.post(f"/api/v1/cases/{case_id}/submissions", {
            "form_id": "crg_referral", "form_version": latest("crg_referral"), "data": referral_data(),
            "status": "final"}))
        ops.append(("submission.save", business))
        # a refused write leaves a trace (issue #10: refused attempts are audited), and so does a listing
        outsider = Device(srv.url, "esx.social-worker")
        assert outsider.post(f"/api/v1/cases/{case_id}/transitions", {
            "event": "put_to_crg", "expected_state": "referred"}).status_code == 404
        ops.append(("access.refused", outsider))
        ok(business.get("/api/v1/cases"))
        ops.append(("case.read", business))
        ok(business.post(f"/api/v1/cases/{case_id}/transitions", {"event": "put_to_crg",
                                                                  "expected_state": "referred"}))
        ops.append(("transition.fired", business))
        ops.append(("case.read", business))  # the case view the transition answered with
        ok(crg.get(f"/api/v1/cases/{case_id}"))
        ops.append(("case.read", crg))
        locked = cli("audit", "verify", "--data", str(data))
    finally:
        srv.stop()
    yield {"data": data, "case_id": case_id, "ops": ops, "locked": locked}


def test_verify_refuses_while_a_server_holds_the_data_dir(audited):
    out = audited["locked"]
    assert out.returncode == 2, (out.stdout, out.stderr)
    assert "cannot check" in out.stderr and "in use by process" in out.stderr and "intact" not in out.stdout


def test_an_intact_chain_prints_count_and_head(audited, tmp_path):
    out = cli("audit", "verify", "--data", str(audited["data"]))
    assert out.returncode == 0, out.stderr
    m = re.fullmatch(r"audit chain intact: (\d+) entries checked; head ([0-9a-f]{64})\n", out.stdout)
    assert m, out.stdout
    copy = tmp_path / "copy"
    shutil.copytree(audited["data"] / "store", copy)
    with open_store(copy) as store:  # the store's own view of the same chain
        entries = list(store.audit_log())
    assert int(m.group(1)) == len(entries) and m.group(2) == entries[-1].hash
    # the recorded head works as an anchor; a hash that was never in the chain does not
    assert cli("audit", "verify", "--data", str(audited["data"]), "--anchor", entries[3].hash).returncode == 0
    forged = cli("audit", "verify", "--data", str(audited["data"]), "--anchor", "0" * 64)
    assert forged.returncode == 1 and "anchor" in forged.stderr
    assert cli("audit", "verify", "--data", str(tmp_path / "nothing")).returncode == 2


def test_every_write_and_full_read_of_a_case_is_audited_in_ids_only(audited):
    entries = audit_entries(audited["data"] / "store", subject=audited["case_id"])
    assert [e.entry["action"] for e in entries] == [op for op, _ in audited["ops"]]
    for e, (_, device) in zip(entries, audited["ops"], strict=True):
        user = device.client.user
        assert e.entry["by"]["user_id"] == user["user_id"] and e.entry["by"]["roles"] == user["roles"]
        assert e.entry["device_id"] == device.client.device_id and e.entry["case_id"] == audited["case_id"]
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", e.at), e.at
    assert entries[2].entry["form_id"] == "crg_referral" and entries[5].entry["event"] == "put_to_crg"
    every = json.dumps([e.entry for e in audit_entries(audited["data"] / "store")])
    for personal in (SENTINEL_NAME, SENTINEL_DOB, "esx.school-dsl", "esx.business", "Referrer D"):
        assert personal not in every
    shown = cli("audit", "show", audited["case_id"], "--data", str(audited["data"]))
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    assert [line.split("\t")[2] for line in lines] == [op for op, _ in audited["ops"]]
    assert SENTINEL_NAME not in shown.stdout


# -- tampering ---------------------------------------------------------------------------------
def _segment_lines(store: Path) -> tuple[Path, list[str]]:
    files = sorted((store / "audit").glob("*.jsonl"))
    assert len(files) == 1
    return files[0], files[0].read_text().splitlines()


def _journal(store: Path) -> list[tuple[Path, list[dict]]]:
    out = []
    for number in jr.list_segments(str(store / "journal")):
        path = store / "journal" / jr.segment_name(number)
        out.append((path, [json.loads(p) for _, p in jr.scan_segment(str(path), last=True).records]))
    return out


def _write_journal(segments: list[tuple[Path, list[dict]]]) -> None:
    """Re-frame every record with a correct CRC: the frame protects against damage, not attackers."""
    for path, records in segments:
        path.write_bytes(b"".join(jr.frame(json.dumps(r, separators=(",", ":")).encode()) for r in records))


def _rehash(d: dict) -> None:
    d["hash"] = entry_hash(d["prev_hash"], d["n"], d["at"], d["subject"], d["entry"])


def tamper(store: Path, where: str, how: str, k: int) -> None:
    """Change entry ``k`` (1-based) the way someone with disk access would."""
    if where == "segment":
        path, lines = _segment_lines(store)
        items = [json.loads(line) for line in lines]
    else:
        segments = _journal(store)
        refs = [(rec, i) for _, records in segments for rec in records for i in range(len(rec["audit"]))]
        items = [rec["audit"][i] for rec, i in refs]
    assert items[k - 1]["n"] == k and len(items) > k + 1
    if how in ("edit", "edit_rehash"):
        items[k - 1]["entry"]["by"]["user_id"] = "someone-else"  # reattribute an action
        if how == "edit_rehash":
            _rehash(items[k - 1])
    elif how == "delete":
        items[k - 1] = None
    elif how == "swap":
        items[k - 1], items[k] = items[k], items[k - 1]
    if where == "segment":
        path.write_text("".join(json.dumps(d, sort_keys=True, separators=(",", ":")) + "\n"
                                for d in items if d is not None))
        return
    for (rec, i), d in zip(refs, items, strict=True):
        rec["audit"][i] = d
    for _, records in segments:
        for rec in records:
            rec["audit"] = [d for d in rec["audit"] if d is not None]
    _write_journal(segments)


@pytest.mark.parametrize("where", ["segment", "journal"])
@pytest.mark.parametrize(("how", "broken"), [("edit", 0), ("edit_rehash", 1), ("delete", 0), ("swap", 0)])
def test_verify_names_the_first_broken_entry(audited, tmp_path, where, how, broken):
    store = tmp_path / "data" / "store"
    shutil.copytree(audited["data"] / "store", store)
    if where == "segment":
        with open_store(store, background_checkpoint=False) as s:
            assert s.checkpoint()  # the chain moves from the journal into an audit segment
    entries = audit_entries(store)
    k = next(e.n for e in entries if e.entry.get("action") == "case.read")
    assert verify_audit(store).intact
    tamper(store, where, how, k)
    result = CliRunner().invoke(main, ["audit", "verify", "--data", str(store.parent)])
    assert result.exit_code == 1, result.output
    assert f"BROKEN at entry {k + broken}" in result.output, result.output
    first = next(line for line in result.output.splitlines() if line.startswith(f"entry {k + broken} "))
    assert ("line" if where == "segment" else "record at byte offset") in first, first
    expected = {"edit": "altered", "edit_rehash": "does not link", "delete": "removed", "swap": "moved"}[how]
    assert expected in first, first
    assert SENTINEL_NAME not in result.output


def test_a_damaged_last_journal_record_is_a_note_and_the_files_are_left_alone(audited, tmp_path):
    store = tmp_path / "data" / "store"
    shutil.copytree(audited["data"] / "store", store)
    last = max((store / "journal").glob("*.log"))
    raw = bytearray(last.read_bytes())
    raw[-2] ^= 0x01  # flip a bit in the final record's payload without fixing its CRC
    last.write_bytes(bytes(raw))
    before = {p: p.read_bytes() for p in store.rglob("*") if p.is_file() and p.name != "LOCK"}
    result = CliRunner().invoke(main, ["audit", "verify", "--data", str(store.parent)])
    assert result.exit_code == 0 and "torn record" in result.output, result.output
    assert {p: p.read_bytes() for p in before} == before  # read-only: nothing truncated or removed
    assert os.path.exists(last)
