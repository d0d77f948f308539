"""The gateway core: validation, model resolution, limits, retries, fallbacks, and the one
place every request is measured."""
