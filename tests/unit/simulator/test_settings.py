from __future__ import annotations

import pytest
from pydantic import ValidationError

from llm_gateway.simulator.settings import DEFAULT_MODELS, SimulatorSettings


def test_defaults_describe_a_slow_faultless_mistral_server() -> None:
    settings = SimulatorSettings()

    assert (settings.host, settings.port) == ("127.0.0.1", 8081)
    assert settings.models == DEFAULT_MODELS
    assert settings.time_to_first_token_seconds == 0.2
    assert settings.drop_rate == 0.0


def test_settings_are_read_from_prefixed_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LLM_SIMULATOR_PORT", "9000")
    monkeypatch.setenv("LLM_SIMULATOR_HANG_RATE", "0.25")
    monkeypatch.setenv("LLM_SIMULATOR_MODELS", '["a/b"]')

    settings = SimulatorSettings()

    assert settings.port == 9000
    assert settings.hang_rate == 0.25
    assert settings.models == ["a/b"]


def test_fault_rates_adding_past_one_are_refused() -> None:
    with pytest.raises(ValidationError, match="add up to 1.2"):
        SimulatorSettings(rate_limit_rate=0.6, drop_rate=0.6)


def test_a_rate_outside_zero_to_one_is_refused() -> None:
    with pytest.raises(ValidationError):
        SimulatorSettings(drop_rate=1.5)


def test_default_max_tokens_above_the_limit_is_refused() -> None:
    with pytest.raises(ValidationError, match="max_tokens_default"):
        SimulatorSettings(max_tokens_default=100, max_tokens_limit=10)
