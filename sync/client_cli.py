"""``caseflow-sync`` / ``python -m sync.client_cli``: the reference client on the command line.

    caseflow-sync --server URL --state FILE login --username esx.business   (password: CASEFLOW_PASSWORD or prompt)
    caseflow-sync --state FILE queue-create --case-type serious_incident --form-id crg_referral \
        --form-version 2 --data referral.json
    caseflow-sync --state FILE sync          # push then pull; prints one line per mutation

Exit status: 0 done, 1 refused (4xx), 2 unreachable, 3 device revoked (local data deleted).
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
from pathlib import Path
from typing import Any

from sync.client.core import DeviceRevoked, NeedLogin, SyncClient, SyncError
from sync.client.transport import Unavailable


def _data(text: str) -> Any:
    """A JSON document given inline or as @file / a path."""
    path = Path(text[1:] if text.startswith("@") else text)
    if text.startswith("@") or (not text.lstrip().startswith(("{", "[")) and path.exists()):
        return json.loads(path.read_text())
    return json.loads(text)


def result_line(r: dict[str, Any]) -> str:
    extra = []
    for key in ("version", "case_id", "reference", "state", "first_status", "reason"):
        if r.get(key) is not None:
            extra.append(f"{key}={r[key]}")
    if r.get("conflicts"):
        extra.append(f"conflicts={len(r['conflicts'])}")
    if r.get("problem"):
        extra.append(f"problem={r['problem'].get('type', '').rsplit('/', 1)[-1]}")
    return f"{r.get('seq')}\t{r.get('mutation_id')}\t{r['status']}\t{' '.join(extra)}".rstrip()


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="caseflow-sync", description="The caseflow reference sync client.")
    p.add_argument("--server", help="Server base URL (remembered in the state file).")
    p.add_argument("--state", required=True, help="The device's local file (outbox, replica, tokens).")
    sub = p.add_subparsers(dest="command", required=True)
    login = sub.add_parser("login")
    login.add_argument("--username", required=True)
    login.add_argument("--device-id")
    create = sub.add_parser("queue-create")
    create.add_argument("--case-type", required=True)
    create.add_argument("--form-id", required=True)
    create.add_argument("--form-version", type=int, required=True)
    create.add_argument("--data", required=True, help="JSON, or @file")
    create.add_argument("--case-id")
    save = sub.add_parser("queue-save")
    save.add_argument("--case-id", required=True)
    save.add_argument("--form-id", required=True)
    save.add_argument("--form-version", type=int, required=True)
    save.add_argument("--data", required=True, help="JSON, or @file")
    save.add_argument("--status", choices=("draft", "final"), default="draft")
    save.add_argument("--base-version", type=int)
    tr = sub.add_parser("queue-transition")
    tr.add_argument("--case-id", required=True)
    tr.add_argument("--event", required=True)
    tr.add_argument("--expected-state")
    tr.add_argument("--comment")
    ap = sub.add_parser("queue-approve")
    ap.add_argument("--case-id", required=True)
    ap.add_argument("--event", required=True)
    ap.add_argument("--decision", choices=("approve", "reject"), default="approve")
    ap.add_argument("--comment")
    rc = sub.add_parser("queue-resolve")
    rc.add_argument("--case-id", required=True)
    rc.add_argument("--conflict-id", required=True)
    rc.add_argument("--choose", choices=("kept", "incoming", "value"), required=True)
    rc.add_argument("--value", help="JSON value, with --choose value")
    for name in ("push", "pull", "sync", "status", "results"):
        sub.add_parser(name)
    return p


def run(args: argparse.Namespace, out=sys.stdout) -> int:
    client = SyncClient(args.state, args.server)
    try:
        queued = None
        if args.command == "login":
            password = os.environ.get("CASEFLOW_PASSWORD") or getpass.getpass("Password: ")
            user = client.login(args.username, password, args.device_id)
            print(f"logged in as {user['username']} on device {client.device_id}", file=out)
        elif args.command == "queue-create":
            queued = client.create_case(args.case_type, args.form_id, args.form_version, _data(args.data),
                                        args.case_id)
        elif args.command == "queue-save":
            queued = client.save_submission(args.case_id, args.form_id, args.form_version, _data(args.data),
                                            args.status, args.base_version)
        elif args.command == "queue-transition":
            queued = client.transition(args.case_id, args.event, args.expected_state, args.comment)
        elif args.command == "queue-approve":
            queued = client.approve(args.case_id, args.event, args.decision, args.comment)
        elif args.command == "queue-resolve":
            has = args.value is not None
            queued = client.resolve_conflict(args.case_id, args.conflict_id, args.choose,
                                             json.loads(args.value) if has else None, has)
        elif args.command in ("push", "sync"):
            for r in client.push():
                print(result_line(r), file=out)
            if args.command == "sync":
                print(f"pulled {client.pull()} change(s)", file=out)
        elif args.command == "pull":
            print(f"pulled {client.pull()} change(s)", file=out)
        elif args.command == "status":
            print(json.dumps(client.status(), indent=2), file=out)
        elif args.command == "results":
            for r in client.local.results():
                print(f"{r['kind']}\t" + result_line(r["result"]), file=out)
        if queued is not None:
            print(f"queued seq={queued.seq} mutation_id={queued.mutation_id} kind={queued.kind} "
                  f"case_id={queued.case_id}", file=out)
        return 0
    except DeviceRevoked as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 3
    except Unavailable as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except (NeedLogin, SyncError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        client.close()


def main(argv: list[str] | None = None) -> int:
    return run(parser().parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
