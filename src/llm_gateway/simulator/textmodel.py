"""The simulated language model: one tokenizer and a deterministic text generator.

The same regex tokenizer counts prompt tokens and cuts the completion into the tokens that
are streamed, so ``usage.completion_tokens`` always equals the number of token frames.
Completions are drawn from a pool of sentences built once per model; a request's prompt and
seed pick the sentences, so the same prompt and seed always give the same text, and a shorter
``max_tokens`` gives a prefix of a longer one.
"""

from __future__ import annotations

import enum
import hashlib
import json
import random
import re
import zlib
from collections.abc import Sequence
from dataclasses import dataclass

TOKEN_PATTERN = re.compile(r"\w+|[^\w\s]")

VOCABULARY = (
    "the a an of to and in on for with as by from at that this these those it its is are was "
    "be been can will may should would could not also more most less very much many some each "
    "model models token tokens gateway request requests response latency throughput stream "
    "streams metric metrics alert alerts dashboard dashboards upstream server servers client "
    "clients error errors retry timeout budget queue cache prompt answer context window "
    "inference endpoint cluster node replica load traffic signal trace span label value "
    "rate window percentile histogram counter gauge service system user operator engineer "
    "team night day minute second hour fast slow steady careful simple clear small large "
    "quiet busy healthy degraded warm cold new old first last next every other same "
    "measure observe route balance scale serve answer return send receive wait watch learn "
    "explain describe compare count record report check keep hold start finish grow shrink"
).split()

# Sentences per model: enough that completions rarely repeat, few enough to build in a blink.
POOL_SIZE = 512
SENTENCE_WORDS = (4, 14)
# The model's own idea of a finished answer, before max_tokens or stop sequences cut it.
NATURAL_TOKENS = (16, 128)
TOKEN_ID_OFFSET = 1000


def count_tokens(text: str) -> int:
    return len(TOKEN_PATTERN.findall(text))


@dataclass(frozen=True, slots=True)
class Token:
    """One generated token; ``text`` holds exactly one tokenizer match, with its leading space."""

    id: int
    text: str
    logprob: float
    # The token's text as a JSON string literal, encoded once so streaming only concatenates.
    text_json: str

    def rest(self, start: int) -> Token:
        """The token's text from ``start`` on, as a token: what follows a cut inside it."""
        return _token(self.id, self.text[start:], self.logprob)


def _token(token_id: int, text: str, logprob: float) -> Token:
    return Token(token_id, text, logprob, json.dumps(text))


def alternatives(token: Token, count: int) -> list[Token]:
    """The ``count`` likeliest tokens at a token's place: itself, then less likely words."""
    likeliest = [token]
    for rank in range(1, count):
        position = (token.id + rank) % len(VOCABULARY)
        word = f" {VOCABULARY[position]}"
        likeliest.append(_token(TOKEN_ID_OFFSET + position, word, round(token.logprob - rank, 4)))
    return likeliest[:count]


def token_of(text: str, logprob: float) -> Token:
    """A token outside the sentence pool (a piece of JSON), its id derived from its text."""
    token_id = TOKEN_ID_OFFSET + len(VOCABULARY) + zlib.crc32(text.encode()) % 50_000
    return _token(token_id, text, logprob)


class FinishReason(enum.Enum):
    LENGTH = "length"
    END_OF_TEXT = "end_of_text"
    STOP_SEQUENCE = "stop_sequence"


@dataclass(frozen=True, slots=True)
class Completion:
    tokens: tuple[Token, ...]
    text: str
    finish_reason: FinishReason


@dataclass(frozen=True, slots=True)
class _Sentence:
    tokens: tuple[Token, ...]
    # The same sentence with the leading space of its first word removed, for opening a text.
    opening: tuple[Token, ...]


class TextModel:
    """Writes deterministic completions from a fixed pool of sentences."""

    def __init__(self, pool_seed: int = 0) -> None:
        rng = random.Random(pool_seed)
        ids = {word: TOKEN_ID_OFFSET + index for index, word in enumerate(VOCABULARY)}
        punctuation = {mark: TOKEN_ID_OFFSET - 1 - index for index, mark in enumerate(".,")}

        def word(text: str, *, leading_space: bool = True) -> Token:
            base = text.lower()
            return _token(
                ids[base], (" " if leading_space else "") + text, round(-rng.random() * 2, 4)
            )

        def mark(text: str) -> Token:
            return _token(punctuation[text], text, round(-rng.random() * 0.1, 4))

        sentences = []
        for _ in range(POOL_SIZE):
            words = rng.choices(VOCABULARY, k=rng.randint(*SENTENCE_WORDS))
            first = words[0].capitalize()
            body: list[Token] = []
            for index, text in enumerate(words[1:], start=1):
                body.append(word(text))
                if index < len(words) - 2 and rng.random() < 0.08:
                    body.append(mark(","))
            body.append(mark("."))
            sentences.append(
                _Sentence(
                    tokens=(word(first), *body),
                    opening=(word(first, leading_space=False), *body),
                )
            )
        self._sentences = tuple(sentences)

    def complete(
        self,
        prompt: str,
        *,
        seed: int | None,
        max_tokens: int,
        stop: Sequence[str] = (),
        include_stop: bool = False,
        mid_text: bool = False,
    ) -> Completion:
        """Write the completion for ``prompt``.

        The text ends at the first of: a stop sequence (kept when ``include_stop``, as TGI
        does, dropped as OpenAI does), ``max_tokens`` tokens, or the end of the sentence that
        reaches the model's natural length. ``mid_text``: it goes on a text already begun,
        so its first word keeps its leading space.
        """
        digest = hashlib.blake2b(f"{seed}\x00{prompt}".encode(), digest_size=8).digest()
        rng = random.Random(int.from_bytes(digest))
        natural = rng.randint(*NATURAL_TOKENS)
        pool = self._sentences
        first = pool[rng.randrange(len(pool))]
        tokens = list(first.tokens if mid_text else first.opening)
        while len(tokens) < natural and len(tokens) < max_tokens:
            tokens.extend(pool[rng.randrange(len(pool))].tokens)
        # Short of its natural length, the text stopped at max_tokens (exactly on the end of
        # a sentence, perhaps): it was cut all the same.
        finish = FinishReason.LENGTH if len(tokens) < natural else FinishReason.END_OF_TEXT
        if len(tokens) > max_tokens:
            del tokens[max_tokens:]
            finish = FinishReason.LENGTH
        text = "".join([token.text for token in tokens])
        if stop:
            cut = _stop_position(text, stop, include_stop)
            if cut is not None:
                tokens = _cut(tokens, cut)
                text = "".join([token.text for token in tokens])
                finish = FinishReason.STOP_SEQUENCE
        return Completion(tuple(tokens), text, finish)


def _stop_position(text: str, stop: Sequence[str], include_stop: bool) -> int | None:
    cuts = []
    for sequence in stop:
        if sequence and (index := text.find(sequence)) >= 0:
            cuts.append(index + len(sequence) if include_stop else index)
    return min(cuts, default=None)


def _cut(tokens: list[Token], position: int) -> list[Token]:
    """Keep the text before ``position``; a token split by the cut keeps its first part."""
    kept: list[Token] = []
    offset = 0
    for token in tokens:
        end = offset + len(token.text)
        if end <= position:
            kept.append(token)
        else:
            part = token.text[: position - offset]
            # A bare space is no token; dropping it keeps the count equal to count_tokens.
            if part.strip():
                kept.append(_token(token.id, part, token.logprob))
            break
        offset = end
    return kept
