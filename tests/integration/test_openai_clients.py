"""What applications send, from the real openai SDK and langchain-openai, through the gateway
in front of the simulator: tools, structured output, logprobs, legacy completions and
embeddings, streamed and not."""

from __future__ import annotations

import json

import jsonschema
import numpy as np
import openai
import pytest
from langchain_openai import ChatOpenAI, OpenAIEmbeddings
from pydantic import BaseModel, Field

from tests.helpers import EMBEDDING_MODEL, KINDS, MODEL, Gateway, either_kind
from tests.langchain_tools import assert_streamed_tool_call, assert_tool_round_trip


@pytest.fixture(params=KINDS)
def gateway(request: pytest.FixtureRequest, hf_gateway: Gateway, gateway: Gateway) -> Gateway:
    """Each test on both upstream kinds."""
    return either_kind(request, hf_gateway, gateway)


WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The weather in a city.",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string"},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
                "days": {"type": "integer", "minimum": 1, "maximum": 7},
            },
            "required": ["city", "unit"],
            "additionalProperties": False,
        },
    },
}
TIME = {
    "type": "function",
    "function": {"name": "get_time", "parameters": {"type": "object", "properties": {}}},
}


class Person(BaseModel):
    name: str = Field(description="The person's name.")
    age: int = Field(ge=0, le=130)
    languages: list[str]


def chat_model(gateway: Gateway, **options: object) -> ChatOpenAI:
    return ChatOpenAI(
        base_url=f"{gateway.url}/v1",
        api_key="unused",  # type: ignore[arg-type]
        model="mistral",
        max_retries=0,
        **options,  # type: ignore[arg-type]
    )


async def test_a_named_tool_is_called_with_arguments_that_validate(
    gateway: Gateway, client: openai.AsyncOpenAI
) -> None:
    before = gateway.sample("llm_gateway_tool_calls_total", model=MODEL)

    completion = await client.chat.completions.create(
        model="mistral",
        messages=[{"role": "user", "content": "Weather in Paris?"}],
        tools=[TIME, WEATHER],  # type: ignore[list-item]
        tool_choice={"type": "function", "function": {"name": "get_weather"}},
    )

    choice = completion.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.tool_calls is not None
    (call,) = choice.message.tool_calls
    assert call.function.name == "get_weather"  # type: ignore[union-attr]
    jsonschema.validate(json.loads(call.function.arguments), WEATHER["function"]["parameters"])  # type: ignore[union-attr]
    assert gateway.sample("llm_gateway_tool_calls_total", model=MODEL) == before + 1


async def test_tool_choice_none_answers_in_text(client: openai.AsyncOpenAI) -> None:
    completion = await client.chat.completions.create(
        model="mistral",
        messages=[{"role": "developer", "content": "Be brief."}, {"role": "user", "content": "Hi"}],
        tools=[WEATHER],  # type: ignore[list-item]
        tool_choice="none",
        max_tokens=5,
    )

    assert completion.choices[0].message.content
    assert completion.choices[0].message.tool_calls is None


async def test_a_streamed_tool_call_accumulates_in_the_sdk(
    gateway: Gateway, client: openai.AsyncOpenAI
) -> None:
    before = gateway.sample("llm_gateway_tool_calls_total", model=MODEL)

    async with client.chat.completions.stream(
        model="mistral",
        messages=[{"role": "user", "content": "Weather in Oslo?"}],
        tools=[WEATHER],  # type: ignore[list-item]
        tool_choice="required",
    ) as stream:
        final = await stream.get_final_completion()

    (call,) = final.choices[0].message.tool_calls or []
    assert final.choices[0].finish_reason == "tool_calls"
    assert call.function.name == "get_weather"
    jsonschema.validate(json.loads(call.function.arguments), WEATHER["function"]["parameters"])
    assert gateway.sample("llm_gateway_tool_calls_total", model=MODEL) == before + 1


async def test_streamed_tool_call_deltas_carry_no_null_keys(client: openai.AsyncOpenAI) -> None:
    stream = await client.chat.completions.create(
        model="mistral",
        messages=[{"role": "user", "content": "Weather?"}],
        tools=[WEATHER],  # type: ignore[list-item]
        stream=True,
    )
    deltas = [
        call.model_dump(exclude_unset=True)
        async for chunk in stream
        for choice in chunk.choices
        for call in choice.delta.tool_calls or ()
    ]

    assert deltas[0]["id"] and deltas[0]["function"]["name"] == "get_weather"
    assert len(deltas) > 2
    for later in deltas[1:]:
        assert set(later) == {"index", "function"}
        assert set(later["function"]) == {"arguments"}


async def test_json_schema_output_validates_against_its_schema(client: openai.AsyncOpenAI) -> None:
    parsed = await client.chat.completions.parse(
        model="mistral",
        messages=[{"role": "user", "content": "Describe someone."}],
        response_format=Person,
    )

    person = parsed.choices[0].message.parsed
    assert isinstance(person, Person)
    assert 0 <= person.age <= 130


async def test_logprobs_come_with_their_top_alternatives(client: openai.AsyncOpenAI) -> None:
    completion = await client.chat.completions.create(
        model="mistral",
        messages=[{"role": "user", "content": "Hi"}],
        logprobs=True,
        top_logprobs=3,
        max_tokens=4,
    )

    logprobs = completion.choices[0].logprobs
    assert logprobs is not None and logprobs.content is not None
    assert (
        "".join(entry.token for entry in logprobs.content) == completion.choices[0].message.content
    )
    assert all(len(entry.top_logprobs) == 3 for entry in logprobs.content)


async def test_n_choices_come_back_streamed_and_not(client: openai.AsyncOpenAI) -> None:
    whole = await client.chat.completions.create(
        model="mistral", messages=[{"role": "user", "content": "Hi"}], n=3, max_tokens=4
    )
    stream = await client.chat.completions.create(
        model="mistral",
        messages=[{"role": "user", "content": "Hi"}],
        n=2,
        max_tokens=4,
        stream=True,
    )
    indexes = {choice.index async for chunk in stream for choice in chunk.choices}

    assert [choice.index for choice in whole.choices] == [0, 1, 2]
    assert indexes == {0, 1}


async def test_unknown_fields_travel_upstream_without_a_422(client: openai.AsyncOpenAI) -> None:
    completion = await client.chat.completions.create(
        model="mistral",
        messages=[{"role": "user", "content": [{"type": "text", "text": "Hi"}]}],
        max_tokens=3,
        user="u-1",
        metadata={"team": "sre"},
        store=False,
        service_tier="auto",
        parallel_tool_calls=False,
        stop=["never"],
        extra_body={"top_k": 40, "repetition_penalty": 1.1, "guided_json": {"type": "object"}},
    )

    assert completion.choices[0].message.content


def test_langchain_binds_tools_and_answers_their_results(gateway: Gateway) -> None:
    assert_tool_round_trip(chat_model(gateway))


def test_langchain_streams_a_tool_call(gateway: Gateway) -> None:
    assert_streamed_tool_call(chat_model(gateway))


def test_langchain_structured_output_is_a_pydantic_model(gateway: Gateway) -> None:
    person = chat_model(gateway).with_structured_output(Person).invoke("Describe someone.")

    assert isinstance(person, Person)
    assert person.languages


async def test_legacy_completions_stream_and_not(client: openai.AsyncOpenAI) -> None:
    whole = await client.completions.create(
        model="mistral", prompt=["One", "Two"], max_tokens=5, logprobs=2
    )
    stream = await client.completions.create(
        model="mistral",
        prompt="Once",
        max_tokens=5,
        stream=True,
        echo=True,
        stream_options={"include_usage": True},
    )
    chunks = [chunk async for chunk in stream]
    two = await client.completions.create(
        model="mistral", prompt=["A", "B"], max_tokens=3, stream=True, echo=True, logprobs=0
    )
    pieces = [choice async for chunk in two for choice in chunk.choices]

    assert [choice.index for choice in whole.choices] == [0, 1]
    assert whole.usage is not None and whole.usage.completion_tokens == 10
    assert whole.choices[0].logprobs is not None
    assert "".join(whole.choices[0].logprobs.tokens or []) == whole.choices[0].text
    text = "".join(choice.text for chunk in chunks for choice in chunk.choices)
    assert text.startswith("Once") and len(text) > len("Once")
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == 5
    assert [p.index for p in pieces] == sorted(p.index for p in pieces)
    assert {p.index for p in pieces} == {0, 1}
    assert "".join(p.text for p in pieces if p.index == 1).startswith("B")
    offsets = [
        o for p in pieces if p.index == 1 and p.logprobs for o in p.logprobs.text_offset or ()
    ]
    assert offsets and offsets[0] == len("B")


async def test_embeddings_as_floats_and_base64_agree(
    gateway: Gateway, client: openai.AsyncOpenAI
) -> None:
    before = gateway.sample(
        "llm_gateway_prompt_tokens_total", model=EMBEDDING_MODEL, api="embeddings"
    )

    floats = await client.embeddings.create(
        model="e5", input=["a cat", "a dog"], encoding_format="float"
    )
    packed = await client.embeddings.create(model="e5", input=["a cat", "a dog"])  # base64
    ids = await client.embeddings.create(model="e5", input=[[1, 2, 3]], dimensions=8)

    assert floats.model == EMBEDDING_MODEL
    assert [len(item.embedding) for item in floats.data] == [1024, 1024]
    assert np.allclose(floats.data[0].embedding, packed.data[0].embedding)
    assert floats.data[0].embedding != floats.data[1].embedding
    assert np.isclose(np.linalg.norm(floats.data[0].embedding), 1.0, atol=1e-4)
    assert len(ids.data[0].embedding) == 8
    assert floats.usage.prompt_tokens == 4
    assert (
        gateway.sample("llm_gateway_prompt_tokens_total", model=EMBEDDING_MODEL, api="embeddings")
        == before + 4 + 4 + 3
    )


def test_langchain_embeds_documents_and_queries(gateway: Gateway) -> None:
    embeddings = OpenAIEmbeddings(
        base_url=f"{gateway.url}/v1",
        api_key="unused",  # type: ignore[arg-type]
        model="e5",
        # Otherwise it tokenizes with tiktoken, whose encodings are downloaded.
        check_embedding_ctx_length=False,
    )

    documents = embeddings.embed_documents(["first", "second"])
    query = embeddings.embed_query("first")

    assert len(documents) == 2 and len(documents[0]) == 1024
    assert np.allclose(documents[0], query)


async def test_a_model_is_retrieved_by_id_or_alias(client: openai.AsyncOpenAI) -> None:
    by_alias = await client.models.retrieve("nemo")
    by_id = await client.models.retrieve(MODEL)

    assert by_alias.id == "nemo" and by_alias.owned_by == "mistralai"
    assert by_id.id == MODEL and by_id.created > 0
    with pytest.raises(openai.NotFoundError):
        await client.models.retrieve("gpt-4o")
