from __future__ import annotations

from typing import Any

import pytest
from click.testing import CliRunner

from llm_gateway.simulator import cli
from llm_gateway.simulator.settings import SimulatorSettings


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """What the command would serve, captured instead of starting uvicorn."""
    captured: dict[str, Any] = {}

    def create_app(settings: SimulatorSettings) -> str:
        captured["settings"] = settings
        return "app"

    def run(app: str, **kwargs: Any) -> None:
        captured.update(app=app, **kwargs)

    monkeypatch.setattr(cli, "create_app", create_app)
    monkeypatch.setattr(cli.uvicorn, "run", run)
    return captured


def test_help_explains_every_option() -> None:
    result = CliRunner().invoke(cli.simulate, ["--help"])

    assert result.exit_code == 0
    for option in cli.simulate.params:
        assert option.help, f"{option.name} has no help"
        assert option.opts[0] in result.output
    assert "X-Simulator-Fault" in result.output


def test_options_override_settings_and_reach_uvicorn(served: dict[str, Any]) -> None:
    result = CliRunner().invoke(
        cli.simulate,
        [
            "--port", "0",
            "--time-to-first-token", "0",
            "--drop-rate", "0.1",
            "--model", "a/b",
            "--model", "c/d",
            "--log-level", "warning",
        ],
    )  # fmt: skip

    assert result.exit_code == 0, result.output
    settings = served["settings"]
    assert settings.time_to_first_token_seconds == 0
    assert settings.time_per_token_seconds == 0.02
    assert settings.drop_rate == 0.1
    assert settings.models == ["a/b", "c/d"]
    assert served == {
        "settings": settings,
        "app": "app",
        "host": "127.0.0.1",
        "port": 0,
        "log_level": "warning",
    }


def test_environment_fills_in_options_left_out(
    served: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LLM_SIMULATOR_HANG_RATE", "0.3")

    result = CliRunner().invoke(cli.simulate, [])

    assert result.exit_code == 0, result.output
    assert served["settings"].hang_rate == 0.3


def test_rates_adding_past_one_are_a_usage_error(served: dict[str, Any]) -> None:
    result = CliRunner().invoke(cli.simulate, ["--hang-rate", "0.7", "--drop-rate", "0.7"])

    assert result.exit_code == 2
    assert "must add up to at most 1" in result.output
    assert "app" not in served
