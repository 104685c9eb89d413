"""A tiny, safe expression language for transition guards.

Guards are written in a small subset of Python expression syntax, parsed with
``ast.parse(mode="eval")`` and walked against a whitelist. Nothing is ever passed to ``eval``.

Allowed::

    sin_decision.decision == "notify"                       # dotted field names: <form>.<field>...
    sin_decision.child_died_or_seriously_harmed and not crg_referral.child.looked_after
    rapid_review_report.lcspr_decision in ["commission_lcspr", "no_lcspr"]
    returns.all_received or is_set(rapid_review_report.omissions_explained)  # context from the server
    len(action_plan.actions) > 0 and all(action_plan.actions[].status == "implemented")
    is_set(sin_decision.notified_on)
    age_in_years(crg_referral.child.date_of_birth, on=crg_referral.incident_date) >= 18
    working_days_between(publication_record.sent_to_panel_on, publication_record.published_on) >= 7

* constants: strings, numbers, ``True``, ``False``, ``None``, lists/tuples of constants;
* ``and``, ``or``, ``not``, comparisons ``== != < <= > >= in not in``, unary minus on numbers;
* field names: dotted paths whose first part is a form id (or a context root such as
  ``returns``); a ``[]`` after a list field projects the rest of the path over its items
  (``action_plan.actions[].status``) and must sit inside ``all()``, ``any()`` or ``len()``;
* functions: ``all``, ``any``, ``len``, ``is_set``, ``age_in_years(date, on=date)``,
  ``working_days_between(a, b)`` (England's working days after ``a`` up to and including ``b``;
  ``None`` when either date is missing, so a comparison with it is false).

Rejected when the expression is compiled (i.e. when a definition is loaded or checked):
any other syntax (calls to anything else, attribute names starting with ``_``, subscripts other
than ``[]``, arithmetic, lambdas, comprehensions, f-strings, walrus...). Unknown field names are
rejected by the definition checker, which knows the forms catalogue.

Evaluation never raises on data: a missing form or field is ``None``; ordering comparisons
involving ``None`` or mismatched types are false; ``all()`` of an empty or missing list is
**false** (nothing recorded is not the same as everything done); ``any()`` of it is false;
``len()`` of a missing value is 0. Dates are ISO ``YYYY-MM-DD`` strings (as stored in forms), so
comparing two dates compares the strings, which orders them correctly.
"""

from __future__ import annotations

import ast
import datetime as dt
import io
import keyword
import tokenize
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from . import calendar as _calendar

__all__ = [
    "FUNCTIONS",
    "Expression",
    "ExpressionError",
    "compile_expression",
    "resolve_path",
]

#: whitelisted functions -> (min positional args, max positional args, allowed keywords)
FUNCTIONS: dict[str, tuple[int, int, frozenset[str]]] = {
    "all": (1, 1, frozenset()),
    "any": (1, 1, frozenset()),
    "len": (1, 1, frozenset()),
    "is_set": (1, 1, frozenset()),
    "age_in_years": (1, 1, frozenset({"on"})),
    "working_days_between": (2, 2, frozenset()),
}
_AGGREGATES = frozenset({"all", "any", "len"})
_MAX_LENGTH = 2000
_MAX_DEPTH = 40

_COMPARE_OPS: dict[type, Callable[[Any, Any], bool]] = {}


class ExpressionError(ValueError):
    """The expression is not in the guard language."""


class _Projection(list):
    """The values of one field over the items of a list (``actions[].status``)."""


@dataclass(frozen=True)
class Expression:
    """A compiled, whitelisted guard expression.

    ``fields`` are the dotted paths it reads, with ``[]`` marking projections
    (``action_plan.actions[].status``); the checker validates them against the catalogue.
    """

    source: str
    tree: ast.Expression
    fields: frozenset[str]

    def evaluate(self, resolve: Callable[[str], Any]) -> bool:
        """Evaluate with ``resolve(path)`` giving the value of a dotted path (``[]`` allowed).

        The result is a plain ``bool``. Never raises for missing or odd data.
        """
        return bool(_Evaluator(resolve).eval(self.tree.body))

    def evaluate_on(self, data: Mapping[str, Any]) -> bool:
        """Evaluate against nested data: ``{"sin_decision": {"decision": "notify"}, ...}``."""
        return self.evaluate(lambda path: resolve_path(data, path))


# ---------------------------------------------------------------------------------------------
# compile


def _rewrite_projections(source: str) -> str:
    """Turn ``name[]`` into ``name[:]`` so that Python's parser accepts it."""
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(source).readline))
    except (tokenize.TokenError, SyntaxError, IndentationError) as exc:
        raise ExpressionError(f"syntax error: {exc}") from None
    line_starts = [0]
    for line in source.splitlines(keepends=True):
        line_starts.append(line_starts[-1] + len(line))

    def offset(pos: tuple[int, int]) -> int:
        return line_starts[pos[0] - 1] + pos[1]

    edits: list[tuple[int, int]] = []
    significant = [t for t in tokens if t.type not in (tokenize.NL, tokenize.NEWLINE, tokenize.COMMENT)]
    for i in range(1, len(significant) - 1):
        tok, nxt, prev = significant[i], significant[i + 1], significant[i - 1]
        if tok.type == tokenize.OP and tok.string == "[" and nxt.type == tokenize.OP and nxt.string == "]":
            after_name = prev.type == tokenize.NAME and not keyword.iskeyword(prev.string)
            after_close = prev.type == tokenize.OP and prev.string in (")", "]")
            if after_name or after_close:
                edits.append((offset(tok.start), offset(nxt.end)))
    for start, end in reversed(edits):
        source = source[:start] + "[:]" + source[end:]
    return source


def compile_expression(source: str) -> Expression:
    """Parse and whitelist-check ``source``; raise :class:`ExpressionError` with a plain message."""
    if not isinstance(source, str):
        raise ExpressionError("an expression must be a string")
    text = source.strip()
    if not text:
        raise ExpressionError("the expression is empty")
    if len(text) > _MAX_LENGTH:
        raise ExpressionError(f"the expression is longer than {_MAX_LENGTH} characters")
    rewritten = _rewrite_projections(text)
    try:
        tree = ast.parse("(\n" + rewritten + "\n)", mode="eval")
    except SyntaxError as exc:
        raise ExpressionError(f"syntax error: {exc.msg}") from None
    checker = _Checker()
    projected = checker.check(tree.body, in_aggregate=False, depth=0)
    if projected:
        raise ExpressionError("a [] projection must be inside all(), any() or len()")
    return Expression(source=text, tree=tree, fields=frozenset(checker.fields))


def _field_path(node: ast.AST) -> str | None:
    """The dotted path of a Name/Attribute/[:] chain, or None if the node is not one."""
    parts: list[str] = []
    while True:
        if isinstance(node, ast.Name):
            parts.append(node.id)
            break
        if isinstance(node, ast.Attribute):
            parts.append("." + node.attr)
            node = node.value
            continue
        if isinstance(node, ast.Subscript):
            parts.append("[]")
            node = node.value
            continue
        return None
    return "".join(reversed(parts))


class _Checker:
    def __init__(self) -> None:
        self.fields: set[str] = set()

    def fail(self, node: ast.AST, message: str) -> ExpressionError:
        return ExpressionError(message)

    def check(self, node: ast.AST, *, in_aggregate: bool, depth: int) -> bool:
        """Raise on anything outside the whitelist; return True when the value is projected."""
        if depth > _MAX_DEPTH:
            raise ExpressionError("the expression is nested too deeply")
        d = depth + 1
        if isinstance(node, ast.BoolOp):
            return any([self.check(v, in_aggregate=in_aggregate, depth=d) for v in node.values])
        if isinstance(node, ast.UnaryOp):
            if isinstance(node.op, ast.Not):
                return self.check(node.operand, in_aggregate=in_aggregate, depth=d)
            if (
                isinstance(node.op, ast.USub)
                and isinstance(node.operand, ast.Constant)
                and isinstance(node.operand.value, int | float)
                and not isinstance(node.operand.value, bool)
            ):
                return False
            raise ExpressionError("only 'not' and a minus sign before a number are allowed")
        if isinstance(node, ast.Compare):
            for op in node.ops:
                if type(op) not in _COMPARE_OPS:
                    raise ExpressionError(f"comparison operator {type(op).__name__} is not allowed")
            operands = [node.left, *node.comparators]
            return any([self.check(o, in_aggregate=in_aggregate, depth=d) for o in operands])
        if isinstance(node, ast.Constant):
            if node.value is None or isinstance(node.value, bool | int | float | str):
                return False
            raise ExpressionError(f"constant {node.value!r} is not allowed")
        if isinstance(node, ast.List | ast.Tuple):
            for elt in node.elts:
                if isinstance(elt, ast.Constant | ast.UnaryOp):
                    self.check(elt, in_aggregate=in_aggregate, depth=d)
                else:
                    raise ExpressionError("lists may only hold constants")
            return False
        if isinstance(node, ast.Name | ast.Attribute | ast.Subscript):
            return self._check_field(node, in_aggregate=in_aggregate)
        if isinstance(node, ast.Call):
            return self._check_call(node, in_aggregate=in_aggregate, depth=d)
        raise ExpressionError(f"{_describe(node)} is not allowed in an expression")

    def _check_field(self, node: ast.AST, *, in_aggregate: bool) -> bool:
        cur = node
        projections = 0
        while not isinstance(cur, ast.Name):
            if isinstance(cur, ast.Attribute):
                if cur.attr.startswith("_"):
                    raise ExpressionError(f"attribute {cur.attr!r} is not allowed (no names starting with _)")
                cur = cur.value
            elif isinstance(cur, ast.Subscript):
                sl = cur.slice
                if not (isinstance(sl, ast.Slice) and sl.lower is None and sl.upper is None and sl.step is None):
                    raise ExpressionError("indexing is not allowed; use [] to project over a list")
                projections += 1
                cur = cur.value
            else:
                raise ExpressionError(f"{_describe(cur)} is not allowed in a field name")
        if cur.id.startswith("_"):
            raise ExpressionError(f"name {cur.id!r} is not allowed (no names starting with _)")
        if cur.id in FUNCTIONS:
            raise ExpressionError(f"{cur.id!r} is a function: call it")
        if projections > 1:
            raise ExpressionError("only one [] projection per field name is allowed")
        path = _field_path(node)
        assert path is not None  # noqa: S101 - the loop above guarantees it
        if path.endswith("[]"):
            raise ExpressionError(f"{path}: a [] projection must be followed by a field name")
        self.fields.add(path)
        if projections and not in_aggregate:
            raise ExpressionError(f"{path}: a [] projection must be inside all(), any() or len()")
        return projections > 0

    def _check_call(self, node: ast.Call, *, in_aggregate: bool, depth: int) -> bool:
        if not isinstance(node.func, ast.Name):
            raise ExpressionError(f"only the functions {', '.join(sorted(FUNCTIONS))} may be called")
        name = node.func.id
        if name not in FUNCTIONS:
            raise ExpressionError(f"function {name!r} is not allowed (allowed: {', '.join(sorted(FUNCTIONS))})")
        low, high, kw_allowed = FUNCTIONS[name]
        if any(isinstance(a, ast.Starred) for a in node.args):
            raise ExpressionError(f"{name}(): *arguments are not allowed")
        if not low <= len(node.args) <= high:
            raise ExpressionError(f"{name}() takes {low} argument(s)")
        for kw in node.keywords:
            if kw.arg is None or kw.arg not in kw_allowed:
                raise ExpressionError(f"{name}() does not take the keyword {kw.arg or '**'!r}")
        if name in _AGGREGATES:
            self.check(node.args[0], in_aggregate=True, depth=depth)
            return False
        if name == "is_set":
            return self.check(node.args[0], in_aggregate=in_aggregate, depth=depth)
        if name == "working_days_between":
            for arg in node.args:
                if self.check(arg, in_aggregate=in_aggregate, depth=depth):
                    raise ExpressionError("working_days_between() does not take a [] projection")
            return False
        # age_in_years: scalar dates only, and the reference date is explicit (the engine is pure)
        if not any(kw.arg == "on" for kw in node.keywords):
            raise ExpressionError("age_in_years() needs the date to measure on: age_in_years(dob, on=...)")
        for arg in [*node.args, *(kw.value for kw in node.keywords)]:
            if self.check(arg, in_aggregate=in_aggregate, depth=depth):
                raise ExpressionError("age_in_years() does not take a [] projection")
        return False


def _describe(node: ast.AST) -> str:
    names = {
        "BinOp": "arithmetic",
        "Lambda": "lambda",
        "IfExp": "an if-else expression",
        "Dict": "a dict",
        "Set": "a set",
        "ListComp": "a comprehension",
        "SetComp": "a comprehension",
        "DictComp": "a comprehension",
        "GeneratorExp": "a generator",
        "Await": "await",
        "Yield": "yield",
        "YieldFrom": "yield",
        "JoinedStr": "an f-string",
        "FormattedValue": "an f-string",
        "NamedExpr": "an assignment expression",
        "Starred": "a starred expression",
        "Slice": "a slice",
    }
    return names.get(type(node).__name__, type(node).__name__)


# ---------------------------------------------------------------------------------------------
# evaluate


def resolve_path(data: Any, path: str) -> Any:
    """Look up ``a.b[].c`` in nested mappings/lists; missing parts give ``None``.

    A ``[]`` segment returns a list of the remaining path's values over the items (missing list ->
    empty list).
    """
    if "[]" in path:
        head, _, tail = path.partition("[]")
        items = resolve_path(data, head)
        if not isinstance(items, list | tuple):
            return _Projection()
        tail = tail.lstrip(".")
        return _Projection(resolve_path(item, tail) if tail else item for item in items)
    cur = data
    for part in path.split("."):
        if isinstance(cur, Mapping):
            cur = cur.get(part)
        else:
            return None
        if cur is None:
            return None
    return cur


def _lt(a: Any, b: Any) -> bool:
    return a < b


def _le(a: Any, b: Any) -> bool:
    return a <= b


def _gt(a: Any, b: Any) -> bool:
    return a > b


def _ge(a: Any, b: Any) -> bool:
    return a >= b


def _ordered(fn: Callable[[Any, Any], bool]) -> Callable[[Any, Any], bool]:
    def compare(a: Any, b: Any) -> bool:
        if a is None or b is None or isinstance(a, bool) or isinstance(b, bool):
            return False
        a, b = _comparable_dates(a, b)
        try:
            return bool(fn(a, b))
        except TypeError:
            return False

    return compare


def _eq(a: Any, b: Any) -> bool:
    a, b = _comparable_dates(a, b)
    return bool(a == b)


def _ne(a: Any, b: Any) -> bool:
    return not _eq(a, b)


def _in(a: Any, b: Any) -> bool:
    if isinstance(b, list | tuple):
        return any(_eq(a, x) for x in b)
    if isinstance(b, str) and isinstance(a, str):
        return a in b
    return False


def _not_in(a: Any, b: Any) -> bool:
    if isinstance(b, list | tuple | str):
        return not _in(a, b)
    return False


def _comparable_dates(a: Any, b: Any) -> tuple[Any, Any]:
    if isinstance(a, dt.date) and isinstance(b, str):
        return a.isoformat(), b
    if isinstance(b, dt.date) and isinstance(a, str):
        return a, b.isoformat()
    return a, b


_COMPARE_OPS.update(
    {
        ast.Eq: _eq,
        ast.NotEq: _ne,
        ast.Lt: _ordered(_lt),
        ast.LtE: _ordered(_le),
        ast.Gt: _ordered(_gt),
        ast.GtE: _ordered(_ge),
        ast.In: _in,
        ast.NotIn: _not_in,
    }
)


def _to_date(value: Any) -> dt.date | None:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value[:10])
        except ValueError:
            return None
    return None


def age_in_years(date_of_birth: Any, on: Any = None) -> int | None:
    """Whole years between ``date_of_birth`` and ``on``; ``None`` when either is missing/invalid."""
    born, when = _to_date(date_of_birth), _to_date(on)
    if born is None or when is None:
        return None
    years = when.year - born.year - ((when.month, when.day) < (born.month, born.day))
    return years


def working_days_between(start: Any, end: Any) -> int | None:
    """England's working days after ``start`` up to and including ``end`` (negative when ``end`` is
    earlier); ``None`` when either date is missing or invalid."""
    a, b = _to_date(start), _to_date(end)
    if a is None or b is None:
        return None
    return _calendar.working_days_between(a, b)


def _is_set(value: Any) -> bool:
    if value is None:
        return False
    if isinstance(value, str | list | tuple | dict):
        return len(value) > 0
    return True


def _broadcast(values: list[Any]) -> Iterator[tuple[Any, ...]] | None:
    """Elementwise tuples over projections (scalars repeat); None when lengths differ."""
    lengths = {len(v) for v in values if isinstance(v, _Projection)}
    if len(lengths) > 1:
        return None
    n = lengths.pop()
    return iter([tuple(v[i] if isinstance(v, _Projection) else v for v in values) for i in range(n)])


class _Evaluator:
    def __init__(self, resolve: Callable[[str], Any]) -> None:
        self.resolve = resolve

    def eval(self, node: ast.AST) -> Any:  # noqa: C901 - one branch per whitelisted node
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, ast.List | ast.Tuple):
            return [self.eval(e) for e in node.elts]
        if isinstance(node, ast.Name | ast.Attribute | ast.Subscript):
            path = _field_path(node)
            value = self.resolve(path) if path is not None else None
            if path is not None and "[]" in path and not isinstance(value, _Projection):
                value = _Projection(value) if isinstance(value, list | tuple) else _Projection()
            return value
        if isinstance(node, ast.UnaryOp):
            operand = self.eval(node.operand)
            if isinstance(node.op, ast.USub):
                return -operand
            if isinstance(operand, _Projection):
                return _Projection(not v for v in operand)
            return not operand
        if isinstance(node, ast.BoolOp):
            values = [self.eval(v) for v in node.values]
            combine = all if isinstance(node.op, ast.And) else any
            if any(isinstance(v, _Projection) for v in values):
                rows = _broadcast(values)
                if rows is None:
                    return _Projection()
                return _Projection(combine(bool(x) for x in row) for row in rows)
            return combine(bool(v) for v in values)
        if isinstance(node, ast.Compare):
            operands = [self.eval(node.left), *(self.eval(c) for c in node.comparators)]
            if any(isinstance(v, _Projection) for v in operands):
                rows = _broadcast(operands)
                if rows is None:
                    return _Projection()
                return _Projection(self._compare(node.ops, list(row)) for row in rows)
            return self._compare(node.ops, operands)
        if isinstance(node, ast.Call):
            return self._call(node)
        return None  # unreachable for compiled expressions

    @staticmethod
    def _compare(ops: list[ast.cmpop], operands: list[Any]) -> bool:
        return all(_COMPARE_OPS[type(op)](operands[i], operands[i + 1]) for i, op in enumerate(ops))

    def _call(self, node: ast.Call) -> Any:
        name = node.func.id  # type: ignore[attr-defined]
        arg = self.eval(node.args[0])
        if name == "len":
            return len(arg) if isinstance(arg, list | tuple | str | dict) else 0
        if name == "all":
            items = list(arg) if isinstance(arg, list | tuple) else []
            return bool(items) and all(bool(x) for x in items)
        if name == "any":
            items = list(arg) if isinstance(arg, list | tuple) else []
            return any(bool(x) for x in items)
        if name == "is_set":
            if isinstance(arg, _Projection):
                return _Projection(_is_set(v) for v in arg)
            return _is_set(arg)
        if name == "working_days_between":
            return working_days_between(arg, self.eval(node.args[1]))
        if name == "age_in_years":
            on = None
            for kw in node.keywords:
                on = self.eval(kw.value)
            return age_in_years(arg, on=on)
        return None
