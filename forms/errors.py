"""Errors raised by the forms package and the per-field validation error type.

Nothing here ever carries a submitted value: messages name forms, versions, fields and rules.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date


@dataclass(frozen=True, order=True)
class FieldError:
    """One problem with one field of a submission.

    ``path`` is a JSON Pointer (RFC 6901) into the submitted data (``""`` is the whole form);
    ``message`` is plain English naming the rule, never the submitted value. ``rule`` is the
    JSON Schema keyword (or ``x-...`` extension) that failed; it is not part of equality.
    """

    path: str
    message: str
    rule: str = field(default="", compare=False)

    def to_dict(self) -> dict[str, str]:
        return {"path": self.path, "message": self.message}


class FormError(Exception):
    """Base class of the errors the registry raises for a form id or version."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class UnknownForm(FormError):
    def __init__(self, form_id: object, known: list[str] | None = None) -> None:
        self.form_id = form_id
        self.known = sorted(known or [])
        super().__init__(f"There is no form called {form_id!s}." if _printable_id(form_id)
                         else "There is no form with that id.")


class UnknownVersion(FormError):
    def __init__(self, form_id: str, version: object, available: list[int]) -> None:
        self.form_id = form_id
        self.version = version
        self.available = sorted(available)
        listed = ", ".join(str(v) for v in self.available)
        what = f"version {version}" if isinstance(version, int) and not isinstance(version, bool) \
            else "that version"
        super().__init__(f"Form {form_id} has no {what}. Versions that exist: {listed}.")


class RetiredVersion(FormError):
    def __init__(self, form_id: str, version: int, accept_until: date, latest: int) -> None:
        self.form_id = form_id
        self.version = version
        self.accept_until = accept_until
        self.latest = latest
        super().__init__(
            f"Version {version} of form {form_id} was retired and accepted only until "
            f"{accept_until.isoformat()}. Move the draft to version {latest} and submit it again."
        )


class MigrationError(FormError):
    """A draft cannot be carried between the versions asked for (e.g. backwards)."""


class DefinitionError(Exception):
    """The definition files are broken (raised at load time); ``problems`` lists every one."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        super().__init__("Form definitions are invalid:\n  " + "\n  ".join(self.problems))


def _printable_id(value: object) -> bool:
    """Form ids are short identifiers; anything else is not echoed back."""
    return isinstance(value, str) and len(value) <= 64 and value.replace("_", "").isalnum()
