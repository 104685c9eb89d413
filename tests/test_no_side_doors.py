"""No store write outside the one write path unless ADR 0006 lists it as a deliberate exception.

Walks the syntax tree of every production module and finds calls ``X.insert/update/delete/put(...)``
whose receiver is a store or a unit of work (``uow``, ``ctx.uow``, ``self.store``, ``store``...). A
call in a write-path module is fine; anywhere else its ``path::function`` must appear in the ADR's
"Deliberate exceptions" list, and every listed exception must still exist (no stale entries).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("server", "sync", "statemachines", "forms")
#: the write path: WritePath and the handlers it runs (each inside its unit of work and savepoint)
WRITE_PATH = {"sync/service.py", "sync/commands.py", "sync/transitions.py", "sync/context.py", "sync/system.py",
              "sync/amendments.py", "sync/tasks.py", "sync/links.py",
              "server/admin/handlers.py"}  # links: the hand-off, run by _fire
WRITES = {"insert", "update", "delete", "put"}
RECEIVER = re.compile(r"(^|\.)(uow|store|unit|_store)$")
ADR = ROOT / "docs" / "decisions" / "0006-one-write-path.md"


def store_writes(path: Path, rel: str | None = None) -> set[str]:
    """``rel/path.py::function`` of every store write in the module (methods by their own name)."""
    rel = rel or path.relative_to(ROOT).as_posix()
    found: set[str] = set()

    def visit(node: ast.AST, where: str) -> None:
        for child in ast.iter_child_nodes(node):
            name = where
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                name = child.name if where == "<module>" else f"{where}.{child.name}"
            if (isinstance(child, ast.Call) and isinstance(child.func, ast.Attribute) and child.func.attr in WRITES
                    and RECEIVER.search(ast.unparse(child.func.value))):
                found.add(f"{rel}::{where}")
            visit(child, name)

    visit(ast.parse(path.read_text(encoding="utf-8")), "<module>")
    return found


def listed_exceptions() -> set[str]:
    text = ADR.read_text(encoding="utf-8")
    section = text.split("## Deliberate exceptions", 1)[1].split("\n## ", 1)[0]
    return set(re.findall(r"`([\w/]+\.py::[\w.<>]+)`", section))


def all_writes() -> set[str]:
    out: set[str] = set()
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            out |= store_writes(path)
    return out


def test_every_store_write_is_the_write_path_or_a_listed_exception():
    writes = all_writes()
    outside = {w for w in writes if w.split("::")[0] not in WRITE_PATH}
    unlisted = sorted(outside - listed_exceptions())
    assert not unlisted, ("store writes outside the write path, not listed in ADR 0006 "
                          f"(route them through WritePath or list them with a reason): {unlisted}")


def test_every_listed_exception_still_exists():
    stale = sorted(listed_exceptions() - all_writes())
    assert not stale, f"ADR 0006 lists exceptions the code no longer has: {stale}"


def audits_without_actor(path: Path) -> list[str]:
    """``uow.audit({...})`` calls whose entry literal has no ``by`` (entries built by a helper,
    ``Ctx.audit``, ``audit_read``, ``refusal_entry``, add it there)."""
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "audit"
                and node.args and isinstance(node.args[0], ast.Dict)):
            keys = {k.value for k in node.args[0].keys if isinstance(k, ast.Constant)}
            if "by" not in keys and None not in node.args[0].keys:  # a **spread may carry it
                out.append(f"{path.relative_to(ROOT).as_posix()}:{node.lineno}")
    return out


def test_every_audit_entry_names_its_actor():
    missing = [hit for package in PACKAGES for path in sorted((ROOT / package).rglob("*.py"))
               for hit in audits_without_actor(path)]
    assert not missing, f"audit entries with no 'by' (who did it: a person, the operator or the system): {missing}"


def test_the_grep_finds_a_side_door(tmp_path):
    """The check itself can fail: a deadline-style direct insert is found."""
    module = ROOT / "server" / "push" / "deadlines.py"
    source = module.read_text(encoding="utf-8") + (
        "\n\ndef _side_door(store):\n    with store.transaction() as uow:\n        uow.insert('alerts', 'x', {})\n")
    fake = tmp_path / "deadlines.py"
    fake.write_text(source, encoding="utf-8")
    found = store_writes(fake, "server/push/deadlines.py")
    assert found == {"server/push/deadlines.py::_side_door"}  # and the scan's own writes are the write path's
