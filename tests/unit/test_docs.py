"""The README and the metrics reference say what the code does."""

from __future__ import annotations

from pathlib import Path

from llm_gateway import reference
from llm_gateway.settings import Settings
from llm_gateway.simulator.settings import SimulatorSettings

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()


def test_metrics_reference_is_current() -> None:
    committed = (ROOT / "docs" / "metrics.md").read_text()

    assert committed == reference.render(), (
        "docs/metrics.md is stale: run python -m llm_gateway.reference > docs/metrics.md"
    )


def test_readme_documents_every_gateway_setting() -> None:
    missing = [
        f"LLM_GATEWAY_{name.upper()}"
        for name in Settings.model_fields
        if name != "hf_token" and f"`LLM_GATEWAY_{name.upper()}`" not in README
    ]

    assert not missing
    assert "`HF_TOKEN`" in README


def test_readme_documents_every_simulator_setting() -> None:
    missing = [
        f"LLM_SIMULATOR_{name.upper()}"
        for name in SimulatorSettings.model_fields
        if f"`LLM_SIMULATOR_{name.upper()}`" not in README
    ]

    assert not missing


def test_readme_gives_the_test_command_that_ci_runs() -> None:
    ci = (ROOT / ".ci" / "run").read_text()

    assert "```sh\nscripts/test\n```" in README
    assert ci.rstrip().endswith("\nscripts/test")
