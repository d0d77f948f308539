"""The command line explains every option and refuses bad settings clearly."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from llm_gateway.cli import main


@pytest.mark.parametrize(
    ("command", "options"),
    [
        (
            "serve",
            [
                "--host",
                "--port",
                "--workers",
                "--log-level",
                "--log-format",
                "--upstream-url",
                "--upstream-timeout",
            ],
        ),
        (
            "simulate",
            [
                "--host",
                "--port",
                "--time-to-first-token",
                "--time-per-token",
                "--jitter",
                "--server-error-rate",
                "--hang-seconds",
            ],
        ),
    ],
)
def test_help_explains_every_option(command: str, options: list[str]) -> None:
    result = CliRunner().invoke(main, [command, "--help"])

    assert result.exit_code == 0
    for option in options:
        assert option in result.output


def test_serve_refuses_an_invalid_upstream_url() -> None:
    result = CliRunner().invoke(main, ["serve", "--upstream-url", "not a url"])

    assert result.exit_code == 2
    assert "upstream_url" in result.output


@pytest.mark.parametrize(
    "value",
    ['["sk-secret-0123456789"]', '{"a": ["sk-secret-0123456789"]}', '{"a": "sk-secret-0123456789"'],
)
def test_serve_refuses_mistyped_api_keys_without_printing_them(
    value: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LLM_GATEWAY_API_KEYS", value)

    result = CliRunner().invoke(main, ["serve"])

    assert result.exit_code == 2
    assert "api_keys" in result.output
    assert "sk-secret" not in result.output
