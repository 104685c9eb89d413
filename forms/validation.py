"""Validators built once per form version, and plain-English error messages.

Two validators exist per version: ``final`` (the schema as written) and ``draft`` (the same rules
with nothing obligatory, see :func:`forms.schema_tools.draft_schema`). Both are
``Draft202012Validator`` subclasses with format checking on and two extension keywords:

``x-not-future: true``
    on a ``format: date`` field: the date may not be after the ``today`` passed to ``validate``.
``x-unique-keys: ["row_id"]``
    on an array of rows: each row's value of those keys must differ from every earlier row's.

Cost is linear in the size of the submission (ADR 0012): the keywords of :mod:`forms.keywords`
replace jsonschema's (one pass for ``uniqueItems``, no ``repr`` of the instance in messages, an
oversized value not walked), and the validators run on a copy of the schema where every array and
string has a limit (:func:`forms.bounds.with_default_bounds`).

Messages are built from the schema alone (rule, limits, option labels). They never contain the
submitted value, which may be a child's name or date of birth.
"""

from __future__ import annotations

import contextvars
import re
from collections.abc import Iterable, Iterator, Mapping
from datetime import date
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker, ValidationError
from jsonschema.validators import extend

from .errors import FieldError
from .keywords import BOUNDED_KEYWORDS, combinators, jsonschema_is_valid, too_long
from .schema_tools import escape_pointer, to_pattern, to_pointer

_TODAY: contextvars.ContextVar[date | None] = contextvars.ContextVar("forms_today", default=None)
_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$", re.ASCII)
# Deliberately simple: something@something.tld, no spaces. jsonschema's own "email" only wants an "@".
_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]+$")


def _not_future(validator: Any, value: Any, instance: Any, schema: Mapping[str, Any]
                ) -> Iterator[ValidationError]:
    today = _TODAY.get()
    if not value or today is None or not isinstance(instance, str) or not _DATE_RE.match(instance):
        return
    try:
        when = date.fromisoformat(instance)
    except ValueError:
        return  # the format check reports it
    if when > today:
        yield ValidationError("Enter a date that is not in the future")


def _unique_keys(validator: Any, keys: Any, instance: Any, schema: Mapping[str, Any]
                 ) -> Iterator[ValidationError]:
    if not isinstance(instance, list) or too_long(instance, schema):
        return
    for key in keys:
        seen: set[Any] = set()
        for index, row in enumerate(instance):
            if not isinstance(row, dict) or key not in row:
                continue
            value = row[key]
            marker = (type(value).__name__, value) if isinstance(value, str | int | float | bool) else None
            if marker is None:
                continue
            if marker in seen:
                yield ValidationError(f"Each row needs its own {key.replace('_', ' ')}: this row repeats "
                                      f"an earlier row's", path=[index, key])
            seen.add(marker)


def _noop(validator: Any, value: Any, instance: Any, schema: Mapping[str, Any]) -> Iterator[ValidationError]:
    return iter(())


_KEYWORDS = {"x-not-future": _not_future, "x-unique-keys": _unique_keys,
             "x-messages": _noop, "x-pattern-hint": _noop, **BOUNDED_KEYWORDS}

#: jsonschema alone: every item of every array walked by jsonschema's machinery. The reference the
#: faster :data:`FormValidator` is proven against (tests/forms/test_skip_valid.py), and what
#: :func:`forms.checks.slow_errors` uses to check the fast yes/no check itself.
ReferenceValidator = extend(Draft202012Validator, validators=_KEYWORDS)

#: the checks compiled so far, by the id of their subschema (kept alive with it)
_CHECKS: dict[int, tuple[Any, Any]] = {}


def _compiled(schema: Any) -> Any:
    """The compiled yes/no check (:mod:`forms.fastcheck`) of a subschema, or None."""
    found = _CHECKS.get(id(schema))
    if found is None or found[0] is not schema:
        from .fastcheck import compile_check  # it imports this module

        if len(_CHECKS) > 20_000:  # registries loaded again and again (tests): start over
            _CHECKS.clear()
        found = _CHECKS[id(schema)] = (schema, compile_check(schema) if isinstance(schema, dict) else None)
    return found[1]


def _proven_valid(validator: Any, schema: Any, instance: Any) -> bool:
    """True when the compiled check says ``instance`` is valid against ``schema``: jsonschema
    would find no error in it, so walking it only costs time. False means "walk it"."""
    if validator.format_checker is not FORMAT_CHECKER:  # the checks assume the forms' format checker
        return False
    check = _compiled(schema)
    try:
        return check is not None and check(instance, _TODAY.get())
    except Exception:  # any surprise: let jsonschema judge
        return False


def _is_valid(validator: Any, schema: Any, instance: Any) -> bool:
    """The yes/no question of ``if``, ``anyOf``, ``oneOf``, ``not`` and ``contains``: answered by
    the compiled check (same verdicts, tests/forms/test_fastcheck.py), else by jsonschema."""
    check = _compiled(schema) if validator.format_checker is FORMAT_CHECKER else None
    if check is not None:
        try:
            return bool(check(instance, _TODAY.get()))
        except Exception:  # noqa: S110 - any surprise: let jsonschema judge
            pass
    return jsonschema_is_valid(validator, schema, instance)


# jsonschema's applicators, minus the subinstances the compiled check proves valid (ADR 0032). A
# valid part yields no error, so skipping it changes nothing but the time: jsonschema's walk of a
# well-formed chronology row costs ~0.1 ms, the compiled check a few µs. Parts the check refuses
# (or cannot judge) are walked by jsonschema as before, so the errors, their paths and their order
# are jsonschema's own (tests/forms/test_skip_valid.py compares with ReferenceValidator).

def _items(validator: Any, items: Any, instance: Any, schema: Mapping[str, Any]) -> Iterator[ValidationError]:
    if too_long(instance, schema):
        return
    if not isinstance(instance, list) or not isinstance(items, dict) or "prefixItems" in schema:
        yield from _BASE_ITEMS(validator, items, instance, schema)
        return
    for index, item in enumerate(instance):
        if not _proven_valid(validator, items, item):
            yield from validator.descend(instance=item, schema=items, path=index)


def _properties(validator: Any, properties: Any, instance: Any, schema: Mapping[str, Any]
                ) -> Iterator[ValidationError]:
    if not isinstance(instance, dict):
        return
    for name, subschema in properties.items():
        if name in instance and not _proven_valid(validator, subschema, instance[name]):
            yield from validator.descend(instance[name], subschema, path=name, schema_path=name)


def _all_of(validator: Any, parts: Any, instance: Any, schema: Mapping[str, Any]) -> Iterator[ValidationError]:
    for index, subschema in enumerate(parts):
        if not _proven_valid(validator, subschema, instance):
            yield from validator.descend(instance, subschema, schema_path=index)


_BASE_ITEMS = Draft202012Validator.VALIDATORS["items"]
FormValidator = extend(Draft202012Validator, validators={
    **_KEYWORDS, **combinators(_is_valid), "items": _items, "properties": _properties, "allOf": _all_of})


def _format_checker() -> FormatChecker:
    checker = FormatChecker()  # every format jsonschema[format] knows, as Draft202012Validator.FORMAT_CHECKER

    @checker.checks("email")
    def _is_email(instance: object) -> bool:
        return not isinstance(instance, str) or bool(_EMAIL_RE.match(instance))

    return checker


FORMAT_CHECKER = _format_checker()


def build_validator(schema: Mapping[str, Any]) -> Any:
    return FormValidator(schema, format_checker=FORMAT_CHECKER)


def check_schema(schema: Any) -> list[str]:
    """Problems with ``schema`` against the 2020-12 meta-schema, as ``pointer: message`` lines."""
    validator = Draft202012Validator(Draft202012Validator.META_SCHEMA)
    out = []
    for err in validator.iter_errors(schema):
        out.append(f"{to_pointer(err.absolute_path) or '/'}: {err.message}")
    return sorted(out)


class today_is:  # noqa: N801 - used as a context manager, reads like a phrase
    """Set the date ``x-not-future`` compares against for the duration of a ``with`` block."""

    def __init__(self, today: date) -> None:
        self._today = today
        self._token: contextvars.Token[date | None] | None = None

    def __enter__(self) -> None:
        self._token = _TODAY.set(self._today)

    def __exit__(self, *exc: object) -> None:
        if self._token is not None:
            _TODAY.reset(self._token)


# ---------------------------------------------------------------- messages

REQUIRED = "This field is required"
NOT_IN_FORM = "Remove this field: it is not part of this form"

_TYPE_MESSAGES = {
    "string": "Enter text",
    "integer": "Enter a whole number",
    "number": "Enter a number",
    "boolean": "Answer yes or no",
    "array": "Enter a list",
    "object": "Enter this as a group of fields",
    "null": "Leave this empty",
}

_FORMAT_MESSAGES = {
    "date": "Enter a date as YYYY-MM-DD",
    "date-time": "Enter a date and time as YYYY-MM-DDThh:mm:ssZ",
    "time": "Enter a time as hh:mm:ssZ",
    "email": "Enter an email address, like name@example.org",
    "uri": "Enter a full web address, starting with https://",
    "uuid": "Enter an identifier in UUID format",
}

MAX_LISTED_OPTIONS = 10


def humanise(value: Any) -> str:
    if value is True:
        return "yes"
    if value is False:
        return "no"
    if value is None:
        return "none"
    return str(value).replace("_", " ")


def _option_label(value: Any, labels: Mapping[str, str] | None) -> str:
    if labels and isinstance(value, str) and value in labels:
        return labels[value]
    return humanise(value)


def _plural(n: int, one: str, many: str) -> str:
    return one if n == 1 else many.replace("{n}", str(n))


def _message(err: ValidationError, enum_labels: Mapping[str, Mapping[str, str]]) -> str:
    rule = err.validator
    value = err.validator_value
    schema = err.schema if isinstance(err.schema, dict) else {}
    if rule == "type":
        kinds = [value] if isinstance(value, str) else list(value)
        kinds = [k for k in kinds if k != "null"] or kinds
        return _TYPE_MESSAGES.get(kinds[0], "Enter a value of the right kind") if kinds else "Enter a value"
    if rule == "format":
        return _FORMAT_MESSAGES.get(value, f"Enter a value in {humanise(value)} format")
    if rule in ("enum", "const"):
        options = list(value) if rule == "enum" else [value]
        pattern = to_pattern(err.absolute_path)
        labels = enum_labels.get(pattern) or enum_labels.get(pattern.removesuffix("[]"))
        if rule == "const":
            return f"The answer here must be: {_option_label(value, labels)}"
        if len(options) > MAX_LISTED_OPTIONS:
            return "Choose one of the options listed for this field"
        return "Choose one of: " + ", ".join(_option_label(o, labels) for o in options)
    if rule == "minLength":
        return "This field cannot be empty" if value == 1 else f"Enter at least {value} characters"
    if rule == "maxLength":
        return f"Enter no more than {value} characters"
    if rule == "pattern":
        return str(schema.get("x-pattern-hint") or "Enter this in the format the form asks for")
    if rule == "minItems":
        return _plural(value, "Add at least one entry", "Add at least {n} entries")
    if rule == "maxItems":
        return _plural(value, "Enter no more than one entry", "Enter no more than {n} entries")
    if rule == "uniqueItems":
        return "Each entry may appear only once"
    if rule == "minimum":
        return f"Enter a number of at least {value}"
    if rule == "maximum":
        return f"Enter a number no greater than {value}"
    if rule == "exclusiveMinimum":
        return f"Enter a number greater than {value}"
    if rule == "exclusiveMaximum":
        return f"Enter a number less than {value}"
    if rule == "multipleOf":
        return f"Enter a multiple of {value}"
    if rule in ("x-not-future", "x-unique-keys"):
        return err.message  # built by our keyword functions, never from the instance
    if rule == "not":
        return "This answer is not allowed together with the other answers given"
    if rule in ("oneOf", "anyOf"):
        return "Fill this in in one of the ways the form allows"
    if rule in ("maxProperties", "minProperties"):
        return "This group has the wrong number of fields"
    if rule == "contains":
        return "This list is missing an entry the form needs"
    if rule is None or rule == "false":  # a `false` subschema: the field may not be there
        return "Leave this field empty with the answers given"
    return "This value is not allowed here"


class ErrorList(list):  # noqa: FURB189 - a list that also says how many errors it leaves out
    """Field errors, sorted; ``omitted`` counts those found beyond the listing limit, and
    ``complete`` is False when the walk stopped counting (the true number is larger)."""

    omitted: int = 0
    complete: bool = True
    walked: int = 0  # jsonschema errors looked at


#: with a listing limit, jsonschema's errors are walked at most this many times the limit: its
#: per-error cost is what bounds an invalid submission's (ADR 0012). 3 (was 20, ADR 0032): one
#: error can cost a whole row's walk (~0.07 ms, 1,000 such rows once took 140 ms); past the 100
#: listed, the walk only counts, and "at least 301 problems" tells the client as much as 1,000
WALK_FACTOR = 3


def to_field_errors(errors: Iterable[ValidationError],
                    enum_labels: Mapping[str, Mapping[str, str]] | None = None,
                    limit: int | None = None, walk: int | None = None) -> ErrorList:
    """Turn jsonschema errors into sorted, de-duplicated :class:`FieldError` s.

    ``required`` and ``dependentRequired`` land on the missing child's path;
    ``additionalProperties`` on each unexpected field's path. With ``limit``, at most that many
    are listed (the first found), the rest are counted in ``omitted``, and the walk stops after
    ``walk`` (default ``WALK_FACTOR * limit``) jsonschema errors (``complete`` False) (ADR 0012: a 1 MiB body of unknown
    fields once cost seconds and a 5 MB answer).
    """
    labels = enum_labels or {}
    out: set[FieldError] = set()
    beyond: set[FieldError] = set()
    omitted = 0

    def add(error: FieldError) -> None:
        if error in out:
            return
        if limit is None or len(out) < limit:
            out.add(error)
        else:
            beyond.add(error)

    complete, walked = True, 0
    if walk is None and limit is not None:
        walk = WALK_FACTOR * limit
    for err in errors:
        if walk is not None and walked >= walk:
            complete = False
            break
        walked += 1
        base = list(err.absolute_path)
        pointer = to_pointer(base)
        schema = err.schema if isinstance(err.schema, dict) else {}
        override = (schema.get("x-messages") or {}).get(err.validator) if schema else None
        instance = err.instance
        if err.validator == "required" and isinstance(instance, dict):
            for name in err.validator_value:
                if name not in instance:
                    add(FieldError(f"{pointer}/{escape_pointer(name)}", override or REQUIRED, "required"))
        elif err.validator == "dependentRequired" and isinstance(instance, dict):
            for trigger, needed in err.validator_value.items():
                if trigger in instance:
                    for name in needed:
                        if name not in instance:
                            msg = override or (f"This field is required when "
                                               f"{humanise(trigger)} is filled in")
                            add(FieldError(f"{pointer}/{escape_pointer(name)}", msg, "required"))
        elif err.validator in ("additionalProperties", "unevaluatedProperties") \
                and isinstance(instance, dict):
            known = set(schema.get("properties") or {})
            patterns = [re.compile(p) for p in (schema.get("patternProperties") or {})]
            unknown = [name for name in instance if name not in known]
            if patterns:
                unknown = [name for name in unknown if not any(p.search(name) for p in patterns)]
            for index, name in enumerate(unknown):
                if limit is not None and len(out) >= limit:
                    omitted += len(unknown) - index  # one object's names never repeat: count without building
                    break
                add(FieldError(f"{pointer}/{escape_pointer(name)}", override or NOT_IN_FORM, str(err.validator)))
        else:
            add(FieldError(pointer, override or _message(err, labels), str(err.validator)))
    listed = ErrorList(sorted(out, key=lambda e: (e.path, e.message)))
    listed.omitted = omitted + len(beyond)
    listed.complete, listed.walked = complete, walked
    return listed
