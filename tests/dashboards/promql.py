"""PromQL of the dashboards and rule files, read through promql-parser's syntax tree.

promql-parser (the Rust parser of GreptimeDB, with Python bindings) parses each
expression; this module only walks its tree for what the lint tests ask about:
vector selectors with their matchers, and each node with its ancestors (the
dashboard-linter rules look at a range's enclosing function). Grafana's
variables must be expanded first (tests/dashboards/grafana.py: `lint_form`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import promql_parser

# By the name of each promql_parser.MatchOp (its members are not hashable).
OPERATORS = {
    "MatchOp.Equal": "=",
    "MatchOp.NotEqual": "!=",
    "MatchOp.Re": "=~",
    "MatchOp.NotRe": "!~",
}
RATE_FUNCTIONS = {"rate", "irate", "increase"}


@dataclass(frozen=True)
class Selector:
    metric: str
    matchers: dict[str, tuple[str, str]]  # label -> (operator, value)


def parse(expr: str) -> promql_parser.Expr:
    """The syntax tree of `expr`; ValueError naming the problem if it does not parse."""
    return promql_parser.parse(expr)


def walk(expr: str) -> Iterator[tuple[promql_parser.Expr, tuple[promql_parser.Expr, ...]]]:
    """Every node of the tree, depth first, with its ancestors (outermost first)."""
    visited: list[tuple[promql_parser.Expr, tuple[promql_parser.Expr, ...]]] = []
    stack: list[promql_parser.Expr] = []

    def enter(node: promql_parser.Expr) -> None:
        visited.append((node, tuple(stack)))
        stack.append(node)

    def leave(node: promql_parser.Expr) -> None:
        stack.pop()

    promql_parser.walk(parse(expr), enter, leave)
    return iter(visited)


def _selector(node: promql_parser.VectorSelector) -> Selector:
    matchers = {m.name: (OPERATORS[str(m.op)], m.value) for m in node.matchers.matchers}
    name = node.name or matchers.pop("__name__", ("", ""))[1]
    return Selector(name, matchers)


def selectors(expr: str) -> list[Selector]:
    return [
        _selector(node) for node, _ in walk(expr) if isinstance(node, promql_parser.VectorSelector)
    ]


def metric_names(expr: str) -> set[str]:
    return {selector.metric for selector in selectors(expr)}
