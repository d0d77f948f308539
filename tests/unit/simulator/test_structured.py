"""The simulated model's JSON validates against the schema it was given, whatever that is."""

from __future__ import annotations

import random
from typing import Any

import jsonschema
import pytest
from pydantic import BaseModel, Field

from llm_gateway.simulator.structured import instance


class Address(BaseModel):
    city: str
    postcode: str | None = None


class Person(BaseModel):
    name: str = Field(min_length=3, max_length=12)
    age: int = Field(ge=18, le=99)
    score: float = Field(gt=0, lt=1)
    tags: list[str] = Field(min_length=2, max_length=4)
    home: Address
    past: list[Address]
    kind: str = Field(json_schema_extra={"enum": ["a", "b"]})
    active: bool


SCHEMAS: dict[str, dict[str, Any]] = {
    "pydantic, with $defs and anyOf": Person.model_json_schema(),
    "strict, as OpenAI asks": {
        "type": "object",
        "properties": {"unit": {"type": ["string", "null"], "enum": ["c", "f", None]}},
        "required": ["unit"],
        "additionalProperties": False,
    },
    "allOf and const": {"allOf": [{"type": "object", "properties": {"v": {"const": 3}}}]},
    "an array at the top": {"type": "array", "items": {"type": "integer"}, "minItems": 1},
    "empty": {},
}


@pytest.mark.parametrize("name", SCHEMAS)
@pytest.mark.parametrize("seed", range(5))
def test_instances_validate_against_their_schema(name: str, seed: int) -> None:
    schema = SCHEMAS[name]

    value = instance(schema, random.Random(seed))

    jsonschema.validate(value, schema)


def test_the_same_seed_gives_the_same_value() -> None:
    schema = Person.model_json_schema()

    assert instance(schema, random.Random(1)) == instance(schema, random.Random(1))


@pytest.mark.parametrize(
    "schema",
    [
        {"$ref": "#"},
        {"type": "array", "minItems": 10**9},
        {"type": "string", "minLength": 10**9},
        {"type": "integer", "minimum": "five"},
        {"type": "object", "properties": []},
        ["not", "a", "schema"],
    ],
)
def test_a_schema_it_cannot_honour_still_gets_an_answer_quickly(schema: Any) -> None:
    value = instance(schema, random.Random(0))

    assert len(repr(value)) < 100_000
