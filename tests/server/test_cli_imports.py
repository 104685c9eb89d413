"""The CLI's definition tools are part of the package: a module of theirs that fails to import makes
``caseflow`` fail loudly instead of quietly dropping the subcommand (issue #16)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from statemachines.check import default_form_catalogue
from statemachines.cli import form_catalogue
from tests.support import ROOT


def _cli(prelude: str, *args: str) -> subprocess.CompletedProcess:
    code = f"import sys; {prelude}; sys.argv = ['caseflow', *{list(args)!r}]; import runpy; " \
           "runpy.run_module('server.cli', run_name='__main__')"
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)


def test_every_subcommand_is_mounted():
    out = _cli("pass", "--help")
    assert out.returncode == 0, out.stderr
    for command in ("serve", "store", "audit", "forms", "check", "push", "deadlines", "users"):
        assert f"  {command}" in out.stdout, (command, out.stdout)


@pytest.mark.parametrize("module", ["forms.cli", "statemachines.cli"])
def test_a_tool_that_fails_to_import_fails_the_cli(module):
    out = _cli(f"sys.modules[{module!r}] = None", "--help")  # None in sys.modules: importing it raises ImportError
    assert out.returncode != 0, out.stdout
    assert "ImportError" in out.stderr or "ModuleNotFoundError" in out.stderr, out.stderr


def test_default_form_catalogue_raises_when_forms_cannot_import(monkeypatch):
    assert "crg_referral" in default_form_catalogue()
    monkeypatch.setitem(sys.modules, "forms", None)
    with pytest.raises(ImportError):
        default_form_catalogue()


def test_the_check_commands_catalogue_raises_when_forms_cannot_import(monkeypatch):
    assert form_catalogue()[0]
    monkeypatch.setitem(sys.modules, "forms.registry", None)
    with pytest.raises(ImportError):
        form_catalogue()
