"""Settings come from the environment, keep the token secret and name the upstream safely."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from llm_gateway.core.types import Price
from llm_gateway.settings import (
    DEFAULT_EMBEDDING_MODEL,
    DEFAULT_MODEL,
    Settings,
    UpstreamApi,
    UpstreamKind,
)


def test_environment_configures_models_upstream_and_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LLM_GATEWAY_MODELS", '{"nemo": "mistralai/Mistral-Nemo-Instruct-2407"}')
    monkeypatch.setenv("LLM_GATEWAY_UPSTREAM_URL", "https://endpoint.example/v1")
    monkeypatch.setenv("HF_TOKEN", "hf_secretvalue")

    settings = Settings()

    assert settings.model_aliases == {
        DEFAULT_MODEL: DEFAULT_MODEL,
        "nemo": "mistralai/Mistral-Nemo-Instruct-2407",
    }
    assert settings.upstream_kind is UpstreamKind.ENDPOINT
    assert settings.hf_token is not None
    assert settings.hf_token.get_secret_value() == "hf_secretvalue"
    assert "hf_secretvalue" not in repr(settings)


def test_no_url_means_inference_providers() -> None:
    settings = Settings(provider="together")

    assert settings.upstream_kind is UpstreamKind.PROVIDERS
    assert settings.describe_upstream() == "Hugging Face Inference Providers (provider=together)"


def test_upstream_description_never_shows_url_credentials() -> None:
    settings = Settings(upstream_url="https://user:pa55word@endpoint.example:8443/v1")

    assert settings.describe_upstream() == (
        "endpoint at https://endpoint.example:8443/v1 (openai kind)"
    )


@pytest.mark.parametrize(
    "bad",
    [
        {"upstream_timeout_seconds": 0},
        {"port": 70000},
        {"upstream_is_simulator": True},
        {"log_format": "xml"},
        {"prices": {"gpt-4": {"prompt": 1, "completion": 1}}},
        {"prices": {"mistralai/Mistral-7B-Instruct-v0.3": {"prompt": -1, "completion": 1}}},
        {"prices": {"mistralai/Mistral-7B-Instruct-v0.3": {"prompt": 1}}},
    ],
)
def test_invalid_settings_are_refused(bad: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        Settings(**bad)  # type: ignore[arg-type]


def test_embedding_models_are_configured_apart_from_chat_models(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LLM_GATEWAY_EMBEDDING_MODELS", '{"e5": "intfloat/e5-mistral-7b-instruct"}')

    settings = Settings()

    assert settings.embedding_model_aliases == {
        DEFAULT_EMBEDDING_MODEL: DEFAULT_EMBEDDING_MODEL,
        "e5": "intfloat/e5-mistral-7b-instruct",
    }
    assert DEFAULT_EMBEDDING_MODEL not in settings.model_aliases


def test_a_name_for_both_a_chat_and_an_embedding_model_is_refused() -> None:
    with pytest.raises(ValidationError, match="both a chat and an embedding model"):
        Settings(models={"x": DEFAULT_MODEL}, embedding_models={"x": DEFAULT_EMBEDDING_MODEL})


def test_prices_come_as_json_by_model_or_alias_and_are_kept_by_model_id(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LLM_GATEWAY_MODELS", '{"nemo": "mistralai/Mistral-Nemo-Instruct-2407"}')
    monkeypatch.setenv("LLM_GATEWAY_PRICES", '{"nemo": {"prompt": 0.15, "completion": 0.6}}')
    settings = Settings()
    assert settings.model_prices == {
        "mistralai/Mistral-Nemo-Instruct-2407": Price(prompt=0.15, completion=0.6)
    }


def test_a_dotenv_file_configures_the_gateway_below_the_environment_and_arguments(
    monkeypatch: pytest.MonkeyPatch, tmp_path
) -> None:
    (tmp_path / ".env").write_text(
        "# local settings\n"
        "LLM_GATEWAY_PORT=9123\n"
        "LLM_GATEWAY_LOG_FORMAT=json\n"
        "LLM_GATEWAY_DEFAULT_MODEL=from-dotenv\n"
        "HF_TOKEN=hf_fromdotenv\n"
        "UNRELATED=ignored\n"
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.setenv("LLM_GATEWAY_LOG_FORMAT", "text")

    settings = Settings(default_model="from-arguments")

    assert settings.port == 9123
    assert settings.log_format == "text"
    assert settings.default_model == "from-arguments"
    assert settings.hf_token is not None
    assert settings.hf_token.get_secret_value() == "hf_fromdotenv"


def test_without_a_dotenv_file_the_defaults_hold(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.chdir(tmp_path)

    assert Settings().port == 8000


def test_redis_url_must_be_redis_and_its_password_is_never_shown() -> None:
    settings = Settings(redis_url="rediss://gateway:s3cret-pw@redis.example:6380/2")

    assert settings.describe_rate_limits().endswith(
        "global in Redis at rediss://redis.example:6380/2 (failure mode open)"
    )
    assert "s3cret-pw" not in repr(settings)
    with pytest.raises(ValidationError) as refused:
        Settings(redis_url="http://user:s3cret-pw@redis.example")
    assert "s3cret-pw" not in str(refused.value)


def test_without_redis_the_rate_limits_are_per_worker() -> None:
    settings = Settings(rate_limit_requests_per_minute=600)

    assert settings.describe_rate_limits() == (
        "600 requests and 0 tokens per minute per API key (0: none), per worker"
    )


def test_upstream_url_takes_a_comma_separated_pool(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LLM_GATEWAY_UPSTREAM_URL", "http://tgi-0:8080, http://u:pw@tgi-1:8080/")

    settings = Settings()
    # What a worker process is handed: the same list, as JSON.
    urls = settings.model_dump(mode="json")["upstream_url"]
    monkeypatch.setenv("LLM_GATEWAY_UPSTREAM_URL", json.dumps(urls))

    assert settings.upstream_endpoints == ["http://tgi-0:8080", "http://u:pw@tgi-1:8080"]
    assert Settings().upstream_endpoints == settings.upstream_endpoints
    assert settings.describe_upstream() == (
        "endpoint at http://tgi-0:8080, http://tgi-1:8080 (openai kind)"
    )


def test_the_openai_kind_is_chosen_by_environment_and_needs_a_url(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LLM_GATEWAY_UPSTREAM_KIND", "openai")
    with pytest.raises(ValidationError, match="openai needs upstream_url"):
        Settings()

    monkeypatch.setenv("LLM_GATEWAY_UPSTREAM_URL", "https://router.huggingface.co/v1")
    monkeypatch.setenv("LLM_GATEWAY_UPSTREAM_API_KEY_ENV", "HF_TOKEN")
    settings = Settings()

    assert settings.upstream_api is UpstreamApi.OPENAI
    assert settings.upstream_api_key_env == "HF_TOKEN"


@pytest.mark.parametrize(
    ("environment", "kind"),
    [
        ({"LLM_GATEWAY_UPSTREAM_URL": "http://vllm:8000"}, UpstreamApi.OPENAI),
        ({}, UpstreamApi.HUGGINGFACE),
        ({"HF_TOKEN": "hf_secretvalue"}, UpstreamApi.HUGGINGFACE),
        (
            {
                "LLM_GATEWAY_UPSTREAM_URL": "http://tgi:8080",
                "LLM_GATEWAY_UPSTREAM_KIND": "huggingface",
            },
            UpstreamApi.HUGGINGFACE,
        ),
        (
            {"LLM_GATEWAY_UPSTREAM_URL": "http://vllm:8000", "LLM_GATEWAY_UPSTREAM_KIND": "openai"},
            UpstreamApi.OPENAI,
        ),
    ],
)
def test_the_upstream_kind_is_openai_with_a_url_and_huggingface_without_unless_given(
    environment: dict[str, str], kind: UpstreamApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in environment.items():
        monkeypatch.setenv(name, value)

    settings = Settings()

    assert settings.upstream_api is kind
    # A kind the gateway chose is not one given: a routing table beside it is not refused.
    given = "LLM_GATEWAY_UPSTREAM_KIND" in environment
    assert ("upstream_api" in settings.model_fields_set) is given


def test_the_upstream_description_names_the_kind() -> None:
    settings = Settings(upstream_url="http://tgi:8080", upstream_api="huggingface")

    assert settings.describe_upstream() == "endpoint at http://tgi:8080 (huggingface kind)"
