"""JSON-schema forms as data: versioned definitions, validation, migration of drafts.

Pure: no Flask, no storage. See docs/forms.md.
"""

from .errors import (
    DefinitionError,
    FieldError,
    FormError,
    MigrationError,
    RetiredVersion,
    UnknownForm,
    UnknownVersion,
)
from .migration import DroppedValue, MigrationReport
from .registry import FormInfo, FormRegistry, FormVersion, VersionInfo, default_definitions_dir

__all__ = [
    "DefinitionError",
    "DroppedValue",
    "FieldError",
    "FormError",
    "FormInfo",
    "FormRegistry",
    "FormVersion",
    "MigrationError",
    "MigrationReport",
    "RetiredVersion",
    "UnknownForm",
    "UnknownVersion",
    "VersionInfo",
    "default_definitions_dir",
]
