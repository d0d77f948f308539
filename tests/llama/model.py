"""A tiny llama written as GGUF with llama.cpp's own writer: the real server's model.

Nothing is downloaded: the weights are random (a fixed seed, so every run writes the same
file), the vocabulary is made here, and so is the chat template. The model is a llama of
two layers, 64 wide, four heads: llama.cpp answers with it in milliseconds, and its text
is noise, which is all the tests need: the same request sent directly and through the
gateway must get the same answer, token for token.

The vocabulary is SentencePiece's kind (``tokenizer.ggml.model`` "llama"): control tokens,
the 256 byte tokens (``<0x0A>``: any text can be tokenized, by byte fallback) and a few
words with every prefix of each (SentencePiece merges a word from its pieces, so each
piece on the way must be a token), the longer the higher its score.

The chat template is ChatML's, with tools: their signatures in the system turn, calls
and results as ``<tool_call>`` and ``<tool_response>`` turns, as Hermes and Qwen write
them. llama-cpp-python renders it with Jinja, and a ``tool_choice`` naming a function
makes it constrain the answer to that function's parameters (a grammar from their JSON
Schema): a tool call from random weights.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from gguf import GGUFWriter, PoolingType, TokenType

SEED = 20
LAYERS = 2
WIDTH = 64
HEADS = 4
FEED_FORWARD = 128
TRAINED_CONTEXT = 2048
RMS_EPSILON = 1e-5

BOS, EOS, UNKNOWN = "<s>", "</s>", "<unk>"
IM_START, IM_END = "<|im_start|>", "<|im_end|>"
CONTROL_TOKENS = (UNKNOWN, BOS, EOS, IM_START, IM_END)
WORDS = (
    "the a an and or of to in on is it you I we they what where when how why "
    "hello world weather Paris Rome Berlin city sun rain cold warm today tomorrow "
    "yes no please thanks call tool answer question model server token stream"
).split()
SPACE = "\u2581"  # SentencePiece's word boundary

CHAT_TEMPLATE = """\
{%- if tools %}
{{- '<|im_start|>system\\n' }}
{%- if messages[0].role == 'system' %}{{- messages[0].content + '\\n\\n' }}{%- endif %}
{{- 'You may call one or more functions. Their signatures:\\n<tools>' }}
{%- for tool in tools %}{{- '\\n' + (tool | tojson) }}{%- endfor %}
{{- '\\n</tools>\\nAnswer a call as <tool_call>{"name": ..., "arguments": ...}</tool_call>' }}
{{- '<|im_end|>\\n' }}
{%- elif messages[0].role == 'system' %}
{{- '<|im_start|>system\\n' + messages[0].content + '<|im_end|>\\n' }}
{%- endif %}
{%- for message in messages %}
{%- if message.role == 'user' or (message.role == 'assistant' and not message.tool_calls) %}
{{- '<|im_start|>' + message.role + '\\n' + (message.content or '') + '<|im_end|>\\n' }}
{%- elif message.role == 'assistant' %}
{{- '<|im_start|>assistant' }}
{%- if message.content %}{{- '\\n' + message.content }}{%- endif %}
{%- for call in message.tool_calls %}
{{- '\\n<tool_call>\\n{"name": "' + call.function.name + '", "arguments": ' }}
{{- call.function.arguments + '}\\n</tool_call>' }}
{%- endfor %}
{{- '<|im_end|>\\n' }}
{%- elif message.role == 'tool' %}
{{- '<|im_start|>user\\n<tool_response>\\n' + message.content }}
{{- '\\n</tool_response><|im_end|>\\n' }}
{%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}
"""


def vocabulary() -> tuple[list[str], list[float], list[TokenType]]:
    """The tokens, their scores and their types, in id order."""
    tokens = list(CONTROL_TOKENS)
    types = [TokenType.UNKNOWN] + [TokenType.CONTROL] * (len(CONTROL_TOKENS) - 1)
    tokens += [f"<0x{byte:02X}>" for byte in range(256)]
    types += [TokenType.BYTE] * 256
    pieces: dict[str, None] = {}  # ordered and unique
    for char in '0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.,!?:"{}[]':
        pieces[char] = None
    for word in WORDS:
        spaced = SPACE + word
        for end in range(1, len(spaced) + 1):
            pieces[spaced[:end]] = None
    tokens += list(pieces)
    types += [TokenType.NORMAL] * len(pieces)
    scores = [
        0.0 if kind is not TokenType.NORMAL else float(len(t))
        for t, kind in zip(tokens, types, strict=True)
    ]
    return tokens, scores, types


def write_model(path: Path, *, pooling: PoolingType | None = None) -> Path:
    """Write the model to ``path``; with ``pooling``, declared for embeddings (mean: ``MEAN``)."""
    tokens, scores, types = vocabulary()
    writer = GGUFWriter(path, arch="llama")
    writer.add_name("llm-monitor tiny test llama")
    writer.add_file_type(0)  # all tensors F32
    writer.add_context_length(TRAINED_CONTEXT)
    writer.add_embedding_length(WIDTH)
    writer.add_block_count(LAYERS)
    writer.add_feed_forward_length(FEED_FORWARD)
    writer.add_head_count(HEADS)
    writer.add_head_count_kv(HEADS)
    writer.add_rope_dimension_count(WIDTH // HEADS)
    writer.add_layer_norm_rms_eps(RMS_EPSILON)
    writer.add_vocab_size(len(tokens))
    if pooling is not None:
        writer.add_pooling_type(pooling)

    writer.add_tokenizer_model("llama")
    writer.add_token_list(tokens)
    writer.add_token_scores(scores)
    writer.add_token_types(types)
    writer.add_bos_token_id(tokens.index(BOS))
    writer.add_eos_token_id(tokens.index(IM_END))  # a ChatML answer ends at <|im_end|>
    writer.add_unk_token_id(tokens.index(UNKNOWN))
    writer.add_add_bos_token(True)
    writer.add_chat_template(CHAT_TEMPLATE)

    for name, array in weights(len(tokens)).items():
        writer.add_tensor(name, array)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def weights(vocabulary_size: int) -> dict[str, np.ndarray]:
    """Every tensor of the model by its GGUF name, random but for the norms (ones).

    Shapes as numpy holds them, (rows, columns): GGUF stores them reversed, as ggml's
    (columns, rows) that llama.cpp's loader checks.
    """
    rng = np.random.default_rng(SEED)

    def matrix(rows: int, columns: int) -> np.ndarray:
        return rng.normal(0.0, 1.0 / np.sqrt(columns), (rows, columns)).astype(np.float32)

    ones = np.ones(WIDTH, dtype=np.float32)
    tensors = {"token_embd.weight": matrix(vocabulary_size, WIDTH)}
    for layer in range(LAYERS):
        block = f"blk.{layer}"
        tensors |= {
            f"{block}.attn_norm.weight": ones,
            f"{block}.attn_q.weight": matrix(WIDTH, WIDTH),
            f"{block}.attn_k.weight": matrix(WIDTH, WIDTH),
            f"{block}.attn_v.weight": matrix(WIDTH, WIDTH),
            f"{block}.attn_output.weight": matrix(WIDTH, WIDTH),
            f"{block}.ffn_norm.weight": ones,
            f"{block}.ffn_gate.weight": matrix(FEED_FORWARD, WIDTH),
            f"{block}.ffn_up.weight": matrix(FEED_FORWARD, WIDTH),
            f"{block}.ffn_down.weight": matrix(WIDTH, FEED_FORWARD),
        }
    tensors["output_norm.weight"] = ones
    tensors["output.weight"] = matrix(vocabulary_size, WIDTH)
    return tensors
