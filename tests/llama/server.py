"""llama.cpp's OpenAI-compatible server (llama-cpp-python's) as a process of the tests.

It runs from its own venv, ``.tools/llama-server`` (``scripts/install-llama-server.sh``),
never from the tests' interpreter: its dependencies are not the gateway's. Where it is
missing, the tests that need it skip, except in CI (``CI=true``), where they fail: CI
must really run them.
"""

from __future__ import annotations

import os
from pathlib import Path

import httpx
import pytest

from tests.servers import ServerProcess

ROOT = Path(__file__).resolve().parents[2]
PYTHON = ROOT / ".tools" / "llama-server" / "bin" / "python"
# Large enough for every test's prompt (tools in the system turn: ~400 tokens), small
# enough that a test exceeds it cheaply.
CONTEXT_TOKENS = 1024
# Importing llama_cpp and its server, and loading the model, under a loaded machine.
STARTUP_TIMEOUT_SECONDS = 60.0


def server_python() -> Path:
    """The server venv's interpreter; a skip (a failure in CI) when it is not installed."""
    if PYTHON.exists():
        return PYTHON
    reason = (
        "llama.cpp's server is not installed (.tools/llama-server): run "
        "scripts/install-llama-server.sh (the first build takes about 17 minutes)"
    )
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason}; CI must run the llama tests", pytrace=False)
    pytest.skip(reason)


class LlamaServer(ServerProcess):
    """``python -m llama_cpp.server`` serving ``model`` under the id ``alias`` on ``port``.

    One thread for generation and for prompts: answers do not depend on the machine's
    core count, and the server leaves the cores to the rest of the suite.
    """

    def __init__(
        self, python: Path, model: Path, alias: str, port: int, *, embedding: bool = False
    ) -> None:
        self.url = f"http://127.0.0.1:{port}"
        # -u: unbuffered, so that the log holds the server's last words if it fails to start.
        command = [str(python), "-u", "-m", "llama_cpp.server", "--model", str(model)]
        command += ["--model_alias", alias, "--host", "127.0.0.1", "--port", str(port)]
        command += ["--n_ctx", str(CONTEXT_TOKENS), "--n_threads", "1", "--n_threads_batch", "1"]
        command += ["--embedding", str(embedding).lower()]
        super().__init__(command, model.with_suffix(".log"), STARTUP_TIMEOUT_SECONDS)

    def answers(self) -> bool:
        try:
            return httpx.get(f"{self.url}/v1/models", timeout=1.0).status_code == 200
        except httpx.TransportError:
            return False
