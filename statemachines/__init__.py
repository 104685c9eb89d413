"""Case types as data: YAML definitions, their checker and the pure case engine.

No Flask, no storage, no users beyond role names and sectors. See ``docs/case-types.md``::

    from statemachines import Actor, CaseTypeRegistry

    si = CaseTypeRegistry.load_default().get("serious_incident")
    decision = si.evaluate("referred", "put_to_crg", Actor(["business_team"]), forms)
    new_state = si.fire("referred", "put_to_crg", actor=Actor(["business_team"]), forms=forms)
"""

from .approvals import approval_status, approvals_satisfied, eligible_slots
from .check import FormCatalogue, check_definition, check_file, check_paths
from .deadlines import DeadlineStatus
from .definition import (
    CONTEXT_FIELDS,
    ROLES,
    SECTORS,
    ApprovalSlot,
    Definition,
    DefinitionError,
    DefinitionInvalid,
    NotifyTarget,
)
from .engine import CaseType
from .expressions import Expression, ExpressionError, compile_expression
from .registry import CaseTypeRegistry, default_definitions_dir
from .values import (
    Actor,
    ApprovalStatus,
    Decision,
    Problem,
    TransitionRefused,
    UnknownState,
    Vote,
)

__all__ = [
    "CONTEXT_FIELDS",
    "ROLES",
    "SECTORS",
    "Actor",
    "ApprovalSlot",
    "ApprovalStatus",
    "CaseType",
    "CaseTypeRegistry",
    "DeadlineStatus",
    "Decision",
    "Definition",
    "DefinitionError",
    "DefinitionInvalid",
    "Expression",
    "ExpressionError",
    "FormCatalogue",
    "NotifyTarget",
    "Problem",
    "TransitionRefused",
    "UnknownState",
    "Vote",
    "approval_status",
    "approvals_satisfied",
    "check_definition",
    "check_file",
    "check_paths",
    "compile_expression",
    "default_definitions_dir",
    "eligible_slots",
]
