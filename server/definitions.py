"""The definitions a server runs on: the shipped ones plus a deployment's own (``CASEFLOW_DEFINITIONS_DIR``).

A deployment's definitions directory holds ``forms/`` (``<form_id>.v<n>.json`` and their own
``published.lock``) and ``case_types/`` (``<case_type>.yaml``). They are loaded beside the shipped
ones and checked the same way at start; any problem stops the start (nothing half-loaded). See
docs/decisions/0011-deployment-definitions-dir.md.
"""

from __future__ import annotations

from pathlib import Path

from forms.errors import DefinitionError as FormsInvalid
from forms.registry import LOCAL_SUBDIR as FORMS_SUBDIR
from forms.registry import FormRegistry
from statemachines import CaseTypeRegistry
from statemachines.check import catalogue_from_form_registry
from statemachines.registry import LOCAL_SUBDIR as CASE_TYPES_SUBDIR


class DefinitionsBroken(Exception):
    """The definitions cannot be loaded; ``problems`` lists every one (``file: path: message``)."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


def load_definitions(definitions_dir: Path | None):  # type: ignore[no-untyped-def]
    """(forms registry, case-type registry). A failed import of either is an error, never a server
    without case types."""
    if definitions_dir is None:
        return FormRegistry.load_default(), CaseTypeRegistry.load_default()
    root = Path(definitions_dir)
    if not root.is_dir():
        raise DefinitionsBroken([f"{root}: CASEFLOW_DEFINITIONS_DIR is not a directory"])
    if not (root / FORMS_SUBDIR).is_dir() and not (root / CASE_TYPES_SUBDIR).is_dir():
        # most likely the wrong folder: say so rather than start without the partnership's definitions
        raise DefinitionsBroken([f"{root}: has neither a {FORMS_SUBDIR}/ nor a {CASE_TYPES_SUBDIR}/ folder"])
    forms = _forms(root)
    try:
        # the deployment's case types name its forms: check guard and deadline fields against them
        case_types = CaseTypeRegistry.load_deployment(root, catalogue_from_form_registry(forms))
    except ValueError as exc:  # DefinitionInvalid: one problem a line, each naming its file
        raise DefinitionsBroken(str(exc).splitlines()) from None
    return forms, case_types


def _forms(definitions_dir: Path | None) -> FormRegistry:
    try:
        return FormRegistry.load_deployment(definitions_dir)
    except FormsInvalid as exc:
        raise DefinitionsBroken(exc.problems) from None
