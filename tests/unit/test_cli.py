"""The command line explains every option and refuses bad settings clearly."""

from __future__ import annotations

import re

import pytest
from click.testing import CliRunner

from llm_gateway.cli import _environment, main
from llm_gateway.settings import Settings, UpstreamApi


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
    # The kind's default, which follows the URL, adds no second complaint.
    assert "upstream_api" not in result.output


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


def test_serve_help_names_the_environment_variable_of_every_option() -> None:
    result = CliRunner().invoke(main, ["serve", "--help"], terminal_width=1000)

    assert result.exit_code == 0
    named = re.findall(r"\[env: (LLM_GATEWAY_[A-Z_]+)\]", result.output)
    options = re.findall(r"^  (--[a-z-]+)", result.output, re.MULTILINE)
    assert len(named) == len(options) == 8, result.output
    for variable in named:
        assert variable.removeprefix("LLM_GATEWAY_").lower() in Settings.model_fields


def test_an_option_named_variable_configures_serve(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LLM_GATEWAY_UPSTREAM_TIMEOUT_SECONDS", "-1")

    result = CliRunner().invoke(main, ["serve"])

    assert result.exit_code == 2
    assert "upstream_timeout_seconds" in result.output


def test_workers_rebuild_the_settings_serve_was_given_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # What `serve --workers N` hands each worker process, which builds its own settings.
    given = Settings(
        upstream_url="http://127.0.0.1:9",
        upstream_api="huggingface",
        models={"small": "org/small"},
        retry_attempts=2,
    )
    for name, value in _environment(given).items():
        monkeypatch.setenv(name, value)

    rebuilt = Settings()

    assert rebuilt.upstream_api is UpstreamApi.HUGGINGFACE  # not the default a URL implies
    assert rebuilt.model_dump() == given.model_dump()
