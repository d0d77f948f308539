"""llm_gateway: an observable gateway to Mistral models on Hugging Face."""

from importlib.metadata import version

__version__ = version("llm-gateway")
