"""The simulator through huggingface_hub's AsyncInferenceClient, as the gateway reaches it."""

from __future__ import annotations

from huggingface_hub import AsyncInferenceClient

from llm_gateway.simulator.textmodel import count_tokens

MESSAGES = [
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": "How is the gateway doing?"},
]
PROMPT_TOKENS = count_tokens("system: Be brief.\nuser: How is the gateway doing?")
MODEL = "mistralai/Mistral-Nemo-Instruct-2407"


async def test_chat_completion_answers_with_honest_usage(hf_client: AsyncInferenceClient) -> None:
    output = await hf_client.chat_completion(MESSAGES, model=MODEL, max_tokens=10, seed=1)

    assert output.model == MODEL
    assert output.object == "chat.completion"
    choice = output.choices[0]
    assert choice.finish_reason == "length"
    assert output.usage.prompt_tokens == PROMPT_TOKENS
    assert output.usage.completion_tokens == 10 == count_tokens(choice.message.content)
    assert output.usage.total_tokens == PROMPT_TOKENS + 10


async def test_chat_completion_stream_spells_the_same_answer(
    hf_client: AsyncInferenceClient,
) -> None:
    whole = await hf_client.chat_completion(MESSAGES, max_tokens=10, seed=1)

    stream = await hf_client.chat_completion(
        MESSAGES, max_tokens=10, seed=1, stream=True, stream_options={"include_usage": True}
    )
    chunks = [chunk async for chunk in stream]

    assert chunks[0].choices[0].delta.role == "assistant"
    pieces = [
        c.choices[0].delta.content for c in chunks[1:] if c.choices and c.choices[0].delta.content
    ]
    assert "".join(pieces) == whole.choices[0].message.content
    assert chunks[-2].choices[0].finish_reason == "length"
    assert chunks[-1].usage.completion_tokens == len(pieces) == 10
    assert chunks[-1].usage.prompt_tokens == PROMPT_TOKENS


async def test_chat_completion_without_model_gets_the_placeholder_back(
    hf_client: AsyncInferenceClient,
) -> None:
    # With base_url and no model, huggingface_hub sends "dummy", as TGI expects.
    output = await hf_client.chat_completion(MESSAGES, max_tokens=2)

    assert output.model == "dummy"


async def test_chat_stop_sequence_ends_the_answer_early(hf_client: AsyncInferenceClient) -> None:
    full = (await hf_client.chat_completion(MESSAGES, max_tokens=200, seed=2)).choices[0]
    stop = full.message.content.split()[2]

    cut = (await hf_client.chat_completion(MESSAGES, max_tokens=200, seed=2, stop=[stop])).choices[
        0
    ]

    assert cut.finish_reason == "stop"
    assert stop not in cut.message.content
    assert full.message.content.startswith(cut.message.content)


async def test_text_generation_is_deterministic_per_seed(hf_client: AsyncInferenceClient) -> None:
    first = await hf_client.text_generation("Once upon a time", max_new_tokens=12, seed=5)
    again = await hf_client.text_generation("Once upon a time", max_new_tokens=12, seed=5)
    other = await hf_client.text_generation("Once upon a time", max_new_tokens=12, seed=6)

    assert first == again != other
    assert count_tokens(first) == 12


async def test_text_generation_details_report_finish_and_tokens(
    hf_client: AsyncInferenceClient,
) -> None:
    output = await hf_client.text_generation(
        "Once upon a time", max_new_tokens=6, seed=5, details=True
    )

    assert output.details.finish_reason == "length"
    assert output.details.generated_tokens == 6
    assert output.details.seed == 5
    assert "".join(token.text for token in output.details.tokens) == output.generated_text


async def test_text_generation_stream_yields_every_token(hf_client: AsyncInferenceClient) -> None:
    whole = await hf_client.text_generation("Once upon a time", max_new_tokens=8, seed=5)

    stream = await hf_client.text_generation(
        "Once upon a time", max_new_tokens=8, seed=5, stream=True, details=True
    )
    frames = [frame async for frame in stream]

    assert len(frames) == 8
    assert "".join(frame.token.text for frame in frames) == whole
    assert frames[-1].generated_text == whole
    assert frames[-1].details.finish_reason == "length"
    assert frames[-1].details.generated_tokens == 8


async def test_text_generation_stop_sequence_is_kept_as_tgi_does(
    hf_client: AsyncInferenceClient,
) -> None:
    full = await hf_client.text_generation("Once upon a time", max_new_tokens=200, seed=5)
    stop = full.split()[2]

    output = await hf_client.text_generation(
        "Once upon a time", max_new_tokens=200, seed=5, stop=[stop], details=True
    )

    assert output.generated_text.endswith(stop)
    assert output.details.finish_reason == "stop_sequence"
