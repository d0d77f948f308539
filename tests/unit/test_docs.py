"""The README and the metrics reference say what the code does."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from llm_gateway.simulator.settings import SimulatorSettings
from tests.helpers import SETTING_VARIABLES

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()


def test_metrics_reference_is_current() -> None:
    check = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "metrics_reference.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )

    assert check.returncode == 0, check.stderr


def test_readme_documents_every_gateway_setting() -> None:
    missing = [variable for variable in SETTING_VARIABLES if f"`{variable}`" not in README]

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
