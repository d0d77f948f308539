"""``simulate``: serve the simulator with uvicorn.

Options left out fall back to ``LLM_SIMULATOR_*`` environment variables, then to the
defaults of :class:`~llm_gateway.simulator.settings.SimulatorSettings`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click
import uvicorn
from pydantic import ValidationError

from llm_gateway.simulator.app import create_app
from llm_gateway.simulator.settings import SimulatorSettings

_RATE = click.FloatRange(0.0, 1.0)


def _default(field: str) -> str:
    """The settings default, for help texts: options default to None so the env can fill in."""
    return f"[default: {SimulatorSettings.model_fields[field].default}]"


def _rate_option(name: str, what: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    return click.option(
        f"--{name}-rate",
        type=_RATE,
        default=None,
        help=f"Fraction of generation requests that {what}.",
    )


@click.command()
@click.option("--host", default=None, help=f"Interface to listen on. {_default('host')}")
@click.option(
    "--port", type=click.IntRange(0, 65535), default=None, help=f"Port. {_default('port')}"
)
@click.option(
    "--model",
    "models",
    multiple=True,
    help="A model id listed by /v1/models and /info; repeat for several. Requests may still "
    "name any model, which is echoed back. [default: three Mistral instruct models]",
)
@click.option(
    "--time-to-first-token",
    "time_to_first_token_seconds",
    type=click.FloatRange(min=0.0),
    default=None,
    help=f"Seconds before the first token. {_default('time_to_first_token_seconds')}",
)
@click.option(
    "--time-per-token",
    "time_per_token_seconds",
    type=click.FloatRange(min=0.0),
    default=None,
    help=f"Seconds between tokens; set both latencies to 0 for benchmarks. "
    f"{_default('time_per_token_seconds')}",
)
@click.option(
    "--jitter",
    type=click.FloatRange(0.0, 1.0),
    default=None,
    help=f"Each delay varies by up to this fraction either way. {_default('jitter')}",
)
@click.option(
    "--max-tokens-default",
    type=click.IntRange(min=1),
    default=None,
    help=f"Tokens to generate when a request sets no limit. {_default('max_tokens_default')}",
)
@_rate_option("rate-limit", "get 429 Too Many Requests, with Retry-After")
@_rate_option("server-error", "get 500 Internal Server Error")
@_rate_option("unavailable", "get 503 Service Unavailable, with Retry-After")
@_rate_option("hang", "hang without a byte until the client gives up or --hang-seconds pass")
@_rate_option("drop", "lose their connection (streams after a few tokens)")
@_rate_option("malformed", "get a 200 whose body, or one stream frame, is not JSON")
@click.option(
    "--retry-after",
    "retry_after_seconds",
    type=click.IntRange(min=0),
    default=None,
    help=f"Retry-After seconds sent with 429 and 503. {_default('retry_after_seconds')}",
)
@click.option(
    "--hang-seconds",
    type=click.FloatRange(min=0.0),
    default=None,
    help=f"Seconds a hang lasts before the simulator answers 504. {_default('hang_seconds')}",
)
@click.option(
    "--seed",
    type=int,
    default=None,
    help="Seed for fault draws and latency jitter, to replay a run. [default: random]",
)
@click.option(
    "--log-level",
    type=click.Choice(["critical", "error", "warning", "info", "debug", "trace"]),
    default="info",
    show_default=True,
    help="uvicorn log level.",
)
def simulate(log_level: str, models: tuple[str, ...], **options: Any) -> None:
    """Serve a fake TGI / OpenAI-compatible upstream for rehearsals, tests and benchmarks.

    Every fault can also be forced on one request with the X-Simulator-Fault header:
    rate_limit, server_error, unavailable, hang, drop, malformed or none.
    """
    overrides = {name: value for name, value in options.items() if value is not None}
    if models:
        overrides["models"] = list(models)
    try:
        settings = SimulatorSettings(**overrides)
    except ValidationError as exc:
        raise click.UsageError(str(exc)) from exc
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port, log_level=log_level)
