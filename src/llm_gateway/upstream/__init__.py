"""The upstream: the only code that imports ``huggingface_hub``, the mapping of its errors,
and the HTTP transport under it."""
