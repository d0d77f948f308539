"""The tiny llama's GGUF, read back with gguf's reader: what llama.cpp's loader will find."""

from __future__ import annotations

from pathlib import Path

from gguf import GGUFReader, PoolingType, TokenType

from tests.llama.model import (
    CHAT_TEMPLATE,
    FEED_FORWARD,
    HEADS,
    IM_END,
    LAYERS,
    WIDTH,
    vocabulary,
    write_model,
)


def fields(path: Path) -> dict[str, object]:
    reader = GGUFReader(path)
    return {name: field.contents() for name, field in reader.fields.items()}


def test_the_model_is_a_llama_of_the_declared_shape(tmp_path: Path) -> None:
    path = write_model(tmp_path / "chat.gguf")
    reader = GGUFReader(path)
    meta = fields(path)
    tokens = meta["tokenizer.ggml.tokens"]

    assert meta["general.architecture"] == "llama"
    assert (meta["llama.embedding_length"], meta["llama.block_count"]) == (WIDTH, LAYERS)
    assert (meta["llama.attention.head_count"], meta["llama.feed_forward_length"]) == (
        HEADS,
        FEED_FORWARD,
    )
    assert isinstance(tokens, list)
    assert meta["llama.vocab_size"] == len(tokens)
    assert "llama.pooling_type" not in meta
    shapes = {tensor.name: tuple(int(n) for n in tensor.shape) for tensor in reader.tensors}
    # ggml's order, (columns, rows), as llama.cpp's loader checks them.
    assert shapes["token_embd.weight"] == (WIDTH, len(tokens))
    assert shapes["blk.1.ffn_down.weight"] == (FEED_FORWARD, WIDTH)
    assert len(shapes) == 2 + LAYERS * 9 + 1


def test_the_vocabulary_has_every_byte_and_each_words_pieces_and_ends_answers_at_im_end(
    tmp_path: Path,
) -> None:
    meta = fields(write_model(tmp_path / "chat.gguf"))
    tokens, scores, types = vocabulary()

    assert meta["tokenizer.ggml.model"] == "llama"
    assert meta["tokenizer.ggml.tokens"] == tokens
    assert meta["tokenizer.ggml.token_type"] == [int(kind) for kind in types]
    assert meta["tokenizer.ggml.scores"] == scores
    assert types.count(TokenType.BYTE) == 256 and "<0x0A>" in tokens
    assert {"\u2581w", "\u2581wo", "\u2581wor", "\u2581worl", "\u2581world"} <= set(tokens)
    assert len(set(tokens)) == len(tokens)
    assert meta["tokenizer.ggml.eos_token_id"] == tokens.index(IM_END)
    assert meta["tokenizer.chat_template"] == CHAT_TEMPLATE


def test_the_embedding_model_declares_mean_pooling(tmp_path: Path) -> None:
    meta = fields(write_model(tmp_path / "embed.gguf", pooling=PoolingType.MEAN))

    assert meta["llama.pooling_type"] == PoolingType.MEAN


def test_the_same_file_is_written_every_time(tmp_path: Path) -> None:
    first = write_model(tmp_path / "first.gguf").read_bytes()

    assert write_model(tmp_path / "second.gguf").read_bytes() == first
