"""The upstream, in two kinds: ``huggingface`` (``client``, the only code that imports
``huggingface_hub``, its errors mapped in ``errors``) and ``openai`` (``openai``, OpenAI's
routes), on one relay: the pool, its transport and aiohttp's connections under it."""
