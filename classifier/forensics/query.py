"""A safe subset of pandas ``DataFrame.query`` syntax, evaluated without ``eval``.

``DataFrame.query`` can run arbitrary Python (``@var``, attribute access, calls), so a
``--where`` expression is parsed with :mod:`ast`, checked against a whitelist, and evaluated
node by node over the flow table's columns. Allowed:

- column names, and literals (str, int, float, bool, None) and lists/tuples/sets of literals;
- comparisons ``== != < <= > >=`` (chained too), ``in`` / ``not in`` (a column against a list);
- ``and``, ``or``, ``not`` and their element-wise spellings ``&``, ``|``, ``~``;
- ``+ - * /`` between numbers or numeric columns, unary minus;
- ``col.str.contains/startswith/endswith/match/fullmatch(literal, case=, regex=)``,
  ``col.str.lower()/upper()/len()``, ``col.isna()/notna()/isnull()/notnull()``,
  ``col.isin([...])``, ``col.between(lo, hi)``.

Anything else (other calls, attributes, subscripts, lambdas, ``@``, dunder names) raises
:class:`classifier.errors.FilterError`. A row whose result is NA (a missing value) is not selected.
"""

from __future__ import annotations

import ast
import difflib
import io
import operator
import tokenize
from collections.abc import Callable
from typing import Any, Final

import pandas as pd

from classifier.errors import FilterError

MAX_LENGTH: Final = 4000
"""Longest accepted expression, in characters."""
MAX_NODES: Final = 500
"""Most AST nodes accepted (keeps evaluation and recursion bounded)."""

_COMPARE: Final[dict[type[ast.cmpop], Callable[[Any, Any], Any]]] = {
    ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.Lt: operator.lt,
    ast.LtE: operator.le, ast.Gt: operator.gt, ast.GtE: operator.ge,
}
_ARITH: Final[dict[type[ast.operator], Callable[[Any, Any], Any]]] = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
    ast.Div: operator.truediv,
}
_STR_PREDICATES: Final = frozenset({"contains", "startswith", "endswith", "match", "fullmatch"})
_STR_TRANSFORMS: Final = frozenset({"lower", "upper", "len"})
_SERIES_METHODS: Final = frozenset({"isna", "notna", "isnull", "notnull", "isin", "between"})
_STR_KWARGS: Final = frozenset({"case", "regex"})


def select(frame: pd.DataFrame, expr: str) -> pd.Series:
    """Flow table + expression → a boolean mask (NA counts as False) aligned to ``frame``."""
    tree = parse(expr, frame.columns)
    try:
        value = _Evaluator(frame).eval(tree.body)
    except FilterError:
        raise
    except (TypeError, ValueError, KeyError, ArithmeticError) as exc:
        raise FilterError(f"--where {expr!r}: cannot evaluate: {exc}") from exc
    if not isinstance(value, pd.Series):
        if isinstance(value, bool):
            return pd.Series(value, index=frame.index, dtype=bool)
        raise FilterError(f"--where {expr!r}: not a condition (gives {type(value).__name__})")
    if value.dtype.kind != "b" and str(value.dtype) != "boolean":
        raise FilterError(f"--where {expr!r}: not a condition (gives a {value.dtype} column)")
    return value.astype("boolean").fillna(False).astype(bool)


def parse(expr: str, columns: Any) -> ast.Expression:
    """Expression text + allowed column names → its checked AST, or FilterError saying why."""
    if len(expr) > MAX_LENGTH:
        raise FilterError(f"--where: expression longer than {MAX_LENGTH} characters")
    if "@" in expr:
        raise FilterError("--where: '@' (local variables) is not allowed")
    try:
        tree = ast.parse(_boolean_words(expr.strip()), mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError, tokenize.TokenError) as exc:
        raise FilterError(f"--where {expr!r}: not a valid expression: {exc}") from exc
    nodes = list(ast.walk(tree))
    if len(nodes) > MAX_NODES:
        raise FilterError(f"--where: expression has more than {MAX_NODES} parts")
    names = {str(c) for c in columns}
    for node in nodes:
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            raise FilterError(f"--where: calling {node.func.id!r} is not allowed "
                              "(only column methods such as .str.contains() or .isna())")
    for node in nodes:
        if isinstance(node, ast.Name) and node.id not in names:
            hint = difflib.get_close_matches(node.id, sorted(names), n=1)
            more = f" (did you mean {hint[0]!r}?)" if hint else ""
            raise FilterError(f"--where: unknown column {node.id!r}{more}")
        if isinstance(node, ast.Attribute) and node.attr.startswith("_"):
            raise FilterError(f"--where: attribute {node.attr!r} is not allowed")
    return tree


def _boolean_words(expr: str) -> str:
    """As pandas.query does: '&', '|', '~' get the precedence of 'and', 'or', 'not'."""
    words = {"&": " and ", "|": " or ", "~": " not "}
    tokens = [(t.type, words.get(t.string, t.string) if t.type == tokenize.OP else t.string)
              for t in tokenize.generate_tokens(io.StringIO(expr).readline)]
    return tokenize.untokenize(tokens).strip()


class _Evaluator:
    """Walks a checked AST over a frame; every node kind not handled here is refused."""

    def __init__(self, frame: pd.DataFrame) -> None:
        self.frame = frame

    def eval(self, node: ast.AST) -> Any:
        method = getattr(self, "_" + type(node).__name__, None)
        if method is None:
            raise FilterError(f"--where: {_describe(node)} is not allowed")
        return method(node)

    # -- leaves ------------------------------------------------------------------------------
    def _Name(self, node: ast.Name) -> pd.Series:
        return self.frame[node.id]

    def _Constant(self, node: ast.Constant) -> Any:
        if node.value is None or isinstance(node.value, str | int | float | bool):
            return node.value
        raise FilterError(f"--where: literal {node.value!r} is not allowed")

    def _List(self, node: ast.List | ast.Tuple | ast.Set) -> list[Any]:
        out = []
        for elt in node.elts:
            value = self.eval(elt)
            if isinstance(value, pd.Series | list):
                raise FilterError("--where: lists may hold only literals")
            out.append(value)
        return out

    _Tuple = _List
    _Set = _List

    # -- boolean logic -----------------------------------------------------------------------
    def _BoolOp(self, node: ast.BoolOp) -> Any:
        values = [_as_bool(self.eval(v)) for v in node.values]
        out = values[0]
        for v in values[1:]:
            out = (out & v) if isinstance(node.op, ast.And) else (out | v)
        return out

    def _UnaryOp(self, node: ast.UnaryOp) -> Any:
        value = self.eval(node.operand)
        if isinstance(node.op, ast.Not | ast.Invert):
            return ~_as_bool(value) if isinstance(value, pd.Series) else not value
        if isinstance(node.op, ast.USub):
            _require_number(value)
            return -value
        if isinstance(node.op, ast.UAdd):
            _require_number(value)
            return value
        raise FilterError(f"--where: {_describe(node.op)} is not allowed")

    def _BinOp(self, node: ast.BinOp) -> Any:
        left, right = self.eval(node.left), self.eval(node.right)
        if isinstance(node.op, ast.BitAnd | ast.BitOr):
            a, b = _as_bool(left), _as_bool(right)
            return (a & b) if isinstance(node.op, ast.BitAnd) else (a | b)
        fn = _ARITH.get(type(node.op))
        if fn is None:
            raise FilterError(f"--where: operator {_describe(node.op)} is not allowed")
        _require_number(left)
        _require_number(right)
        return fn(left, right)

    def _Compare(self, node: ast.Compare) -> Any:
        result: Any = None
        left = self.eval(node.left)
        for op, right_node in zip(node.ops, node.comparators, strict=True):
            right = self.eval(right_node)
            part = _compare(op, left, right)
            result = part if result is None else (_as_bool(result) & _as_bool(part))
            left = right
        return result

    # -- method calls ------------------------------------------------------------------------
    def _Call(self, node: ast.Call) -> Any:
        func = node.func
        if not isinstance(func, ast.Attribute):
            raise FilterError(f"--where: calling {_describe(func)} is not allowed")
        args = [self.eval(a) for a in node.args]
        kwargs = {k.arg: self.eval(k.value) for k in node.keywords if k.arg is not None}
        if len(kwargs) != len(node.keywords):
            raise FilterError("--where: '**' arguments are not allowed")
        if any(isinstance(a, pd.Series) for a in (*args, *kwargs.values())):
            raise FilterError("--where: method arguments must be literals")
        # col.str.<method>(...)
        if isinstance(func.value, ast.Attribute) and func.value.attr == "str":
            target = self.eval(func.value.value)
            return _str_method(target, func.attr, args, kwargs)
        target = self.eval(func.value)
        if not isinstance(target, pd.Series) or func.attr not in _SERIES_METHODS:
            raise FilterError(f"--where: method {func.attr!r} is not allowed")
        if kwargs:
            raise FilterError(f"--where: {func.attr}() takes no keyword arguments here")
        if func.attr in ("isna", "isnull", "notna", "notnull"):
            if args:
                raise FilterError(f"--where: {func.attr}() takes no arguments")
            na = target.isna()
            return na if func.attr in ("isna", "isnull") else ~na
        if func.attr == "isin":
            if len(args) != 1 or not isinstance(args[0], list):
                raise FilterError("--where: isin() takes one list of literals")
            return _isin(target, args[0])
        if len(args) != 2:
            raise FilterError("--where: between() takes two literals")
        return (target >= args[0]) & (target <= args[1])

    def _Attribute(self, node: ast.Attribute) -> Any:
        raise FilterError(f"--where: attribute {node.attr!r} is not allowed here")


def _str_method(target: Any, name: str, args: list[Any], kwargs: dict[str, Any]) -> Any:
    if not isinstance(target, pd.Series):
        raise FilterError("--where: .str methods apply to columns only")
    s = target.astype("string")
    if name in _STR_TRANSFORMS:
        if args or kwargs:
            raise FilterError(f"--where: str.{name}() takes no arguments")
        return getattr(s.str, name)()
    if name not in _STR_PREDICATES:
        raise FilterError(f"--where: str.{name}() is not allowed")
    if len(args) != 1 or not isinstance(args[0], str):
        raise FilterError(f"--where: str.{name}() takes one string literal")
    bad = set(kwargs) - _STR_KWARGS
    if bad or any(not isinstance(v, bool) for v in kwargs.values()):
        raise FilterError(f"--where: str.{name}() accepts only case=/regex= booleans")
    if name in ("startswith", "endswith"):
        if kwargs:
            raise FilterError(f"--where: str.{name}() takes no keyword arguments")
        return getattr(s.str, name)(args[0])
    if name == "contains":
        return s.str.contains(args[0], **kwargs)
    if "regex" in kwargs:
        raise FilterError(f"--where: str.{name}() is always a regular expression")
    return getattr(s.str, name)(args[0], **kwargs)


def _compare(op: ast.cmpop, left: Any, right: Any) -> Any:
    if isinstance(op, ast.In | ast.NotIn):
        if isinstance(left, pd.Series) and isinstance(right, list):
            hit = _isin(left, right)
        elif isinstance(right, pd.Series) and isinstance(left, list):
            hit = _isin(right, left)
        elif isinstance(left, pd.Series) and isinstance(right, str | int | float):
            hit = _isin(left, [right])
        else:
            raise FilterError("--where: 'in' compares a column with a list of literals")
        return ~hit if isinstance(op, ast.NotIn) else hit
    fn = _COMPARE.get(type(op))
    if fn is None:
        raise FilterError(f"--where: comparison {_describe(op)} is not allowed; use ==/!=")
    # pandas.query treats `col == [a, b]` as `col.isin([a, b])`.
    if isinstance(op, ast.Eq | ast.NotEq):
        for series, other in ((left, right), (right, left)):
            if isinstance(series, pd.Series) and isinstance(other, list):
                hit = _isin(series, other)
                return hit if isinstance(op, ast.Eq) else ~hit
    if isinstance(left, list) or isinstance(right, list):
        raise FilterError("--where: lists compare only with ==, !=, in, not in")
    if left is None or right is None:
        raise FilterError("--where: compare with None via .isna()/.notna()")
    return fn(left, right)


def _isin(series: pd.Series, values: list[Any]) -> pd.Series:
    # As in pandas.query: a missing value is never "in" a list, so it is "not in" every list.
    return series.isin(values).astype(bool)


def _as_bool(value: Any) -> Any:
    if isinstance(value, pd.Series):
        if value.dtype.kind != "b" and str(value.dtype) != "boolean":
            raise FilterError("--where: 'and'/'or'/'not' need conditions, not values")
        return value.astype("boolean")
    if isinstance(value, bool):
        return value
    raise FilterError("--where: 'and'/'or'/'not' need conditions, not values")


def _require_number(value: Any) -> None:
    if isinstance(value, pd.Series):
        if value.dtype.kind in "iuf" or str(value.dtype) in ("UInt16", "UInt32", "UInt64",
                                                               "Int64", "Float64"):
            return
        raise FilterError(f"--where: arithmetic needs numeric columns, not {value.dtype}")
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise FilterError("--where: arithmetic needs numbers")


def _describe(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return repr(node.id)
    try:
        return repr(ast.unparse(node))
    except (ValueError, TypeError, AttributeError):
        return type(node).__name__
