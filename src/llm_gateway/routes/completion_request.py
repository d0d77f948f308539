"""The legacy completion request as the upstream takes it: its prompts, one choice each.

Everything OpenAI's request schema allows is accepted (``protocol/completions.py``); what the
gateway or ``text_generation`` (TGI's generate route) cannot serve is refused here, before any
upstream call, with a 400 ``unsupported_feature`` naming the field, as on the chat door
(:mod:`llm_gateway.routes.chat_request`): token ids and empty prompts, more prompts than
the gateway sends at once, ``max_tokens`` 0, several choices (``n``, ``best_of``), insertion
(``suffix``), ``logit_bias``, ``presence_penalty``, and fields it does not know (it has
no way to pass them on). Values that ask for nothing (``n: 1``, ``presence_penalty: 0``,
an empty ``logit_bias`` or ``suffix``) are served.
"""

from __future__ import annotations

from llm_gateway.protocol import CompletionRequest
from llm_gateway.protocol.completions import MAX_PROMPTS
from llm_gateway.routes.chat_request import refuse

_ROUTE = "TGI's generate route"
_ONE_CHOICE = "to get several, list the prompt several times in `prompt`"


def servable_prompts(body: CompletionRequest) -> list[str]:
    """The prompts of ``body``, one choice each; a 400 for the first field of ``body`` the
    generate route cannot serve."""
    prompts = [body.prompt] if isinstance(body.prompt, str) else body.prompt or []
    texts = [prompt for prompt in prompts if isinstance(prompt, str)]
    if len(texts) < len(prompts):
        refuse("token ids as a prompt", "prompts are sent upstream as text", "prompt")
    if not texts or not all(texts):
        refuse("an empty prompt", "a generate route needs text to continue", "prompt")
    if len(texts) > MAX_PROMPTS:
        refuse(
            f"more than {MAX_PROMPTS} prompts in one request",
            "each is its own upstream request",
            "prompt",
        )
    if body.max_tokens == 0:
        refuse("`max_tokens` 0", "a generate route generates at least one token", "max_tokens")
    if (body.n or 1) > 1:
        refuse("`n` above 1", f"one generation per prompt; {_ONE_CHOICE}", "n")
    if body.best_of not in (None, 1):
        refuse("`best_of` other than 1", f"one generation per prompt; {_ONE_CHOICE}", "best_of")
    if body.presence_penalty:
        refuse(
            "`presence_penalty`",
            f"{_ROUTE} has none (`frequency_penalty` is supported)",
            "presence_penalty",
        )
    if body.logit_bias:
        refuse("`logit_bias`", f"{_ROUTE} has none", "logit_bias")
    if body.suffix:
        refuse("`suffix` (insertion)", f"{_ROUTE} only continues a prompt", "suffix")
    for field in body.model_extra or {}:
        refuse(f"`{field}`", f"{_ROUTE} takes no such parameter, nor a way to pass it", field)
    return texts
