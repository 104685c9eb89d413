"""Case types as data: YAML definitions, their checker and the pure case engine."""

from .definition import DefinitionError, DefinitionInvalid
from .engine import Actor, CaseType, Decision, TransitionRefused, Vote
from .registry import CaseTypeRegistry

__all__ = [
    "Actor",
    "CaseType",
    "CaseTypeRegistry",
    "Decision",
    "DefinitionError",
    "DefinitionInvalid",
    "TransitionRefused",
    "Vote",
]
