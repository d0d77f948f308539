"""``llm-gateway loadgen`` explains its options and refuses bad ones with exit code 2."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from llm_gateway.cli import main


def test_loadgen_help_explains_every_option() -> None:
    result = CliRunner().invoke(main, ["loadgen", "--help"])

    assert result.exit_code == 0
    for option in [
        "--url",
        "--rate",
        "--duration",
        "--requests",
        "--concurrency",
        "--arrival",
        "--model",
        "--stream-fraction",
        "--chat-fraction",
        "--max-tokens",
        "--fault",
        "--timeout",
        "--seed",
        "--api-key",
        "--json",
    ]:
        assert option in result.output


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--fault", "teapot=0.1"], "Unknown fault 'teapot'"),
        (["--fault", "drop=0.6", "--fault", "hang=0.5"], "add up to 1.1"),
        (["--fault", "drop"], "not name=fraction"),
        (["--rate", "0"], "--rate"),
        (["--duration", "-1"], "--duration"),
        (["--concurrency", "0"], "--concurrency"),
        (["--stream-fraction", "1.5"], "--stream-fraction"),
        (["--arrival", "bursty"], "--arrival"),
        (["--url", "localhost:8000"], "not an http(s) URL"),
    ],
)
def test_loadgen_refuses_bad_options_with_exit_code_2(arguments: list[str], message: str) -> None:
    # --model so that nothing would touch the network even if an option slipped through.
    result = CliRunner().invoke(main, ["loadgen", "--model", "m", *arguments])

    assert result.exit_code == 2
    assert message in result.output
