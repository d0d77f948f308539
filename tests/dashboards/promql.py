"""Just enough PromQL lexing to lint expressions in dashboards and rule files.

Not a parser: Prometheus itself parses every expression in the contract test
(tests/integration/test_prometheus_contract.py) and promtool in the lint tests.
This module finds what a linter needs: vector selectors and their matchers, bare
metric names, the range of each rate(), and counters used outside rate().
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

_TOKEN = re.compile(
    r"""
    (?P<ws>\s+|\#[^\n]*)
  | (?P<string>"(?:\\.|[^"\\])*"|'(?:\\.|[^'\\])*'|`[^`]*`)
  | (?P<var>\$\{[A-Za-z_][A-Za-z0-9_]*\}|\$[A-Za-z_][A-Za-z0-9_]*)
  | (?P<number>(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?(?:(?:ms|[smhdwy])(?:\d+(?:ms|[smhdwy]))*)?)
  | (?P<ident>[A-Za-z_:][A-Za-z0-9_:]*)
  | (?P<op>=~|!~|!=|==|<=|>=|[-+*/%^<>=,(){}\[\]:@])
    """,
    re.VERBOSE,
)

AGGREGATIONS = {
    "sum", "min", "max", "avg", "group", "stddev", "stdvar", "count", "count_values",
    "bottomk", "topk", "quantile", "limitk", "limit_ratio",
}  # fmt: skip
KEYWORDS = {
    "and", "or", "unless", "by", "without", "on", "ignoring", "group_left", "group_right",
    "offset", "bool", "atan2", "inf", "nan", "start", "end",
}  # fmt: skip
LABEL_LIST_KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right"}
RATE_FUNCTIONS = {"rate", "irate", "increase"}
COUNTER_SUFFIXES = ("_total", "_bucket", "_count", "_sum")


@dataclass(frozen=True)
class Token:
    kind: str
    text: str


@dataclass(frozen=True)
class Selector:
    metric: str
    matchers: dict[str, tuple[str, str]]  # label -> (operator, value)
    enclosing_function: str  # innermost function call around it, "" at top level


def tokens(expr: str) -> list[Token]:
    out: list[Token] = []
    pos = 0
    while pos < len(expr):
        match = _TOKEN.match(expr, pos)
        if match is None:
            raise ValueError(f"cannot lex {expr[pos : pos + 20]!r} in {expr!r}")
        kind = match.lastgroup or ""
        if kind != "ws":
            out.append(Token(kind, match.group()))
        pos = match.end()
    return out


def _unquote(text: str) -> str:
    return text[1:-1]


def _closing(toks: list[Token], start: int, open_: str, close: str) -> int:
    depth = 0
    for i in range(start, len(toks)):
        if toks[i].text == open_:
            depth += 1
        elif toks[i].text == close:
            depth -= 1
            if depth == 0:
                return i
    raise ValueError(f"unbalanced {open_!r}")


def _walk(expr: str) -> Iterator[tuple[str, object]]:
    """Yield ("selector", Selector), ("bare", name) and ("rate_range", text) events."""
    toks = tokens(expr)
    stack: list[str] = []  # function name (or "") of each open parenthesis
    i = 0
    while i < len(toks):
        tok = toks[i]
        nxt = toks[i + 1].text if i + 1 < len(toks) else ""
        if tok.kind == "ident" and tok.text in LABEL_LIST_KEYWORDS and nxt == "(":
            i = _closing(toks, i + 1, "(", ")") + 1
            continue
        if tok.text == "{" or (tok.kind == "ident" and nxt == "{"):
            metric = tok.text if tok.kind == "ident" else ""
            start = i + 1 if metric else i
            end = _closing(toks, start, "{", "}")
            body = toks[start + 1 : end]
            matchers: dict[str, tuple[str, str]] = {}
            for j in range(0, len(body), 4):
                label, op, value = body[j].text, body[j + 1].text, _unquote(body[j + 2].text)
                if label == "__name__" and op == "=":
                    metric = value
                else:
                    matchers[label] = (op, value)
            yield "selector", Selector(metric, matchers, stack[-1] if stack else "")
            i = end + 1
            continue
        if tok.text == "[":
            end = _closing(toks, i, "[", "]")
            if stack and stack[-1] in RATE_FUNCTIONS:
                yield "rate_range", "".join(t.text for t in toks[i + 1 : end])
            i = end + 1
            continue
        if tok.text == "(":
            previous = toks[i - 1] if i else None
            is_call = (
                previous is not None
                and previous.kind == "ident"
                and (previous.text not in KEYWORDS)
            )
            stack.append(previous.text if is_call and previous is not None else "")
        elif tok.text == ")":
            stack.pop()
        elif tok.kind == "ident" and tok.text not in KEYWORDS and tok.text not in AGGREGATIONS:
            if nxt != "(":
                yield "bare", tok.text
        i += 1
    if stack:
        raise ValueError(f"unbalanced parentheses in {expr!r}")


def selectors(expr: str) -> list[Selector]:
    return [value for kind, value in _walk(expr) if kind == "selector"]  # type: ignore[misc]


def bare_metric_names(expr: str) -> list[str]:
    """Metric names used without a `{...}` matcher block."""
    return [value for kind, value in _walk(expr) if kind == "bare"]  # type: ignore[misc]


def rate_ranges(expr: str) -> list[str]:
    """The range of every rate(), irate() and increase(), e.g. "$__rate_interval"."""
    return [value for kind, value in _walk(expr) if kind == "rate_range"]  # type: ignore[misc]


def function_calls(expr: str) -> list[str]:
    toks = tokens(expr)
    return [
        t.text
        for t, n in zip(toks, toks[1:], strict=False)
        if t.kind == "ident" and n.text == "(" and t.text not in KEYWORDS
    ]


def metric_names(expr: str) -> set[str]:
    return {s.metric for s in selectors(expr)} | set(bare_metric_names(expr))
