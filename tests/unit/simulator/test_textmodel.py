from __future__ import annotations

import pytest

from llm_gateway.simulator.textmodel import FinishReason, TextModel, count_tokens


@pytest.fixture(scope="module")
def model() -> TextModel:
    return TextModel()


def test_count_tokens_counts_words_and_punctuation_apart() -> None:
    assert count_tokens("Hello, world. It's 42!") == 9
    assert count_tokens("") == 0
    assert count_tokens("   \n ") == 0


def test_same_prompt_and_seed_give_the_same_completion(model: TextModel) -> None:
    first = model.complete("Tell me a story", seed=7, max_tokens=64)
    again = model.complete("Tell me a story", seed=7, max_tokens=64)

    assert first == again
    assert first.text


def test_another_seed_or_prompt_gives_another_completion(model: TextModel) -> None:
    base = model.complete("Tell me a story", seed=7, max_tokens=64).text

    assert model.complete("Tell me a story", seed=8, max_tokens=64).text != base
    assert model.complete("Tell me a poem", seed=7, max_tokens=64).text != base


def test_completion_tokens_are_exactly_what_the_tokenizer_counts(model: TextModel) -> None:
    for index in range(50):
        completion = model.complete(f"prompt {index}", seed=index, max_tokens=200)

        assert completion.text == "".join(token.text for token in completion.tokens)
        assert count_tokens(completion.text) == len(completion.tokens)
        assert not completion.text.startswith(" ")


def test_max_tokens_cuts_the_text_with_finish_reason_length(model: TextModel) -> None:
    full = model.complete("Explain latency", seed=1, max_tokens=1000)
    short = model.complete("Explain latency", seed=1, max_tokens=3)

    assert len(short.tokens) == 3
    assert short.finish_reason is FinishReason.LENGTH
    assert full.text.startswith(short.text)


def test_a_text_is_cut_by_max_tokens_exactly_when_it_would_have_gone_on(model: TextModel) -> None:
    natural = len(model.complete("Explain latency", seed=1, max_tokens=1000).tokens)

    reasons = [
        model.complete("Explain latency", seed=1, max_tokens=limit).finish_reason
        for limit in range(1, natural + 2)
    ]

    # Some limits fall on the end of a sentence: the text is cut there all the same.
    assert reasons == [FinishReason.LENGTH] * (natural - 1) + [FinishReason.END_OF_TEXT] * 2


def test_without_a_limit_the_text_ends_at_a_sentence_end(model: TextModel) -> None:
    completion = model.complete("Explain latency", seed=1, max_tokens=1000)

    assert completion.finish_reason is FinishReason.END_OF_TEXT
    assert completion.text.endswith(".")


def test_stop_sequence_ends_the_text_before_it(model: TextModel) -> None:
    full = model.complete("Explain latency", seed=1, max_tokens=1000).text
    stop = full.split()[3]

    completion = model.complete("Explain latency", seed=1, max_tokens=1000, stop=[stop])

    assert completion.finish_reason is FinishReason.STOP_SEQUENCE
    assert completion.text == full[: full.index(stop)].rstrip()
    assert count_tokens(completion.text) == len(completion.tokens)


def test_stop_sequence_is_kept_when_asked_as_tgi_does(model: TextModel) -> None:
    full = model.complete("Explain latency", seed=1, max_tokens=1000).text
    stop = full.split()[3][:2]

    completion = model.complete(
        "Explain latency", seed=1, max_tokens=1000, stop=["never there", stop], include_stop=True
    )

    assert completion.text == full[: full.index(stop) + len(stop)]
    assert completion.text.endswith(stop)
    assert count_tokens(completion.text) == len(completion.tokens)


def test_stop_sequence_past_max_tokens_does_not_apply(model: TextModel) -> None:
    full = model.complete("Explain latency", seed=1, max_tokens=1000).text
    late = full.split()[-1]

    completion = model.complete("Explain latency", seed=1, max_tokens=2, stop=[late])

    assert completion.finish_reason is FinishReason.LENGTH


def test_missing_and_empty_stop_sequences_change_nothing(model: TextModel) -> None:
    plain = model.complete("Explain latency", seed=1, max_tokens=20)

    assert model.complete("Explain latency", seed=1, max_tokens=20, stop=["", "zzz"]) == plain
