"""JSON the simulated model writes for tool calls and structured output.

:func:`instance` draws a value that validates against a JSON Schema: the subset that
OpenAI's strict mode, pydantic and LangChain produce (``type`` or a list of them,
``properties``/``required``, ``items``, ``enum``, ``const``, ``anyOf``/``oneOf``/``allOf``,
``$ref`` into ``$defs``, and the usual bounds). The same schema and seed give the same
value, so a test can check it against the schema it sent.
"""

from __future__ import annotations

import math
import random
from typing import Any

from llm_gateway.simulator.textmodel import VOCABULARY

# A schema nests at most this deep before the generator stops descending into optional parts;
# past twice that (a $ref cycle), it writes null.
MAX_DEPTH = 8
# Bounds on what one schema can ask for, whatever its minItems or minLength say.
MAX_ITEMS = 16
MAX_STRING = 1000


def instance(schema: Any, rng: random.Random) -> Any:
    """A value valid against ``schema``; for a schema this subset cannot honour (or one
    that is not a schema at all: a client's mistake the upstream would refuse), an empty
    object, as a lenient server would answer."""
    try:
        return _Generator(schema if isinstance(schema, dict) else {}, rng).value(schema, 0)
    except (TypeError, ValueError, AttributeError, KeyError, IndexError):
        return {}


class _Generator:
    def __init__(self, root: dict[str, Any], rng: random.Random) -> None:
        self._root = root
        self._rng = rng

    def value(self, schema: Any, depth: int) -> Any:
        if depth > 2 * MAX_DEPTH:
            return None
        if not isinstance(schema, dict):  # true, or a schema this subset does not read
            return self._words(1)
        if "$ref" in schema:
            return self.value(self._resolve(schema["$ref"]), depth + 1)
        if "const" in schema:
            return schema["const"]
        if schema.get("enum"):
            return self._rng.choice(schema["enum"])
        for combinator in ("anyOf", "oneOf"):
            if schema.get(combinator):
                options = [s for s in schema[combinator] if s.get("type") != "null"]
                return self.value((options or schema[combinator])[0], depth + 1)
        if schema.get("allOf"):
            merged: dict[str, Any] = {}
            for part in schema["allOf"]:
                merged.update(self._resolve(part["$ref"]) if "$ref" in part else part)
            return self.value(merged, depth + 1)
        kind = schema.get("type")
        if isinstance(kind, list):
            kind = next((k for k in kind if k != "null"), "null")
        if kind is None:
            kind = "object" if "properties" in schema else "string"
        return getattr(self, f"_{kind}", self._string)(schema, depth)

    def _resolve(self, ref: str) -> Any:
        node: Any = self._root
        for part in ref.removeprefix("#/").split("/"):
            node = node.get(part, {}) if isinstance(node, dict) else {}
        return node

    def _object(self, schema: dict[str, Any], depth: int) -> dict[str, Any]:
        properties = schema.get("properties") or {}
        required = set(schema.get("required") or ())
        names = [n for n in properties if n in required or depth < MAX_DEPTH]
        return {name: self.value(properties[name], depth + 1) for name in names}

    def _array(self, schema: dict[str, Any], depth: int) -> list[Any]:
        low = min(schema.get("minItems", 1 if depth < MAX_DEPTH else 0), MAX_ITEMS)
        high = max(low, min(schema.get("maxItems", 3), low + 2))
        items = schema.get("items", {})
        if depth >= MAX_DEPTH:
            high = low
        return [self.value(items, depth + 1) for _ in range(self._rng.randint(low, high))]

    def _string(self, schema: dict[str, Any], depth: int) -> str:
        text = self._words(self._rng.randint(1, 3))
        low, high = min(schema.get("minLength", 0), MAX_STRING), schema.get("maxLength")
        while len(text) < low:
            text += " " + self._words(1)
        return text[:high] if high is not None else text

    def _integer(self, schema: dict[str, Any], depth: int) -> int:
        low = schema.get("minimum", schema.get("exclusiveMinimum", -1) + 1)
        high = schema.get("maximum", schema.get("exclusiveMaximum", 101) - 1)
        low = math.ceil(low)
        return self._rng.randint(low, max(low, math.floor(high)))

    def _number(self, schema: dict[str, Any], depth: int) -> float:
        above, below = schema.get("exclusiveMinimum"), schema.get("exclusiveMaximum")
        low = schema.get("minimum", 0.0 if above is None else above)
        high = schema.get("maximum", low + 100.0 if below is None else below)
        value = round(self._rng.uniform(low, high), 2)
        if (above is not None and value <= above) or (below is not None and value >= below):
            value = (low + high) / 2  # strictly inside exclusive bounds
        return float(value)

    def _boolean(self, schema: dict[str, Any], depth: int) -> bool:
        return self._rng.random() < 0.5

    def _null(self, schema: dict[str, Any], depth: int) -> None:
        return None

    def _words(self, count: int) -> str:
        return " ".join(self._rng.choice(VOCABULARY) for _ in range(count))
