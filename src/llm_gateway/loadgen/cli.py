"""``llm-gateway loadgen``: the command line around :func:`~llm_gateway.loadgen.runner.run`.

Bad options exit with 2 (click's usage errors); a gateway whose model list cannot be read
exits with 1; a run exits with 0 whatever its requests met, since errors are data here.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import click

from llm_gateway.loadgen.client import LoadgenError, list_models
from llm_gateway.loadgen.plan import Arrival, Mix, PlanError, parse_faults
from llm_gateway.loadgen.report import Progress, Summary, render
from llm_gateway.loadgen.runner import LoadConfig, run

_POSITIVE = click.FloatRange(min=0, min_open=True)
_FRACTION = click.FloatRange(0.0, 1.0)


def _check_url(_ctx: click.Context, _param: click.Parameter, value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise click.BadParameter(f"{value!r} is not an http(s) URL.")
    return value.rstrip("/")


def _check_faults(
    _ctx: click.Context, _param: click.Parameter, value: tuple[str, ...]
) -> dict[str, float]:
    try:
        return parse_faults(value)
    except PlanError as exc:
        raise click.BadParameter(str(exc)) from exc


@click.command()
@click.option(
    "--url",
    default="http://127.0.0.1:8000",
    callback=_check_url,
    help="Base URL of the gateway.",
)
@click.option("--rate", type=_POSITIVE, default=5.0, help="Requests per second, on average.")
@click.option(
    "--duration", type=_POSITIVE, default=60.0, help="Seconds during which requests are sent."
)
@click.option(
    "--requests",
    "max_requests",
    type=click.IntRange(min=1),
    help="Stop after this many arrivals, if that comes before --duration.",
)
@click.option(
    "--concurrency",
    type=click.IntRange(min=1),
    default=64,
    help="Most requests in flight; arrivals beyond it are skipped and counted, not queued.",
)
@click.option(
    "--arrival",
    type=click.Choice([arrival.value for arrival in Arrival]),
    default=Arrival.POISSON.value,
    help="Gaps between arrivals: random (poisson) or fixed (uniform).",
)
@click.option(
    "--model",
    "models",
    multiple=True,
    help="Model to ask for; repeat for several. [default: every id of GET /v1/models]",
)
@click.option("--stream-fraction", type=_FRACTION, default=0.5, help="Share of requests streamed.")
@click.option(
    "--chat-fraction",
    type=_FRACTION,
    default=0.5,
    help="Share of requests to /v1/chat/completions; the rest go to /generate.",
)
@click.option(
    "--max-tokens", type=click.IntRange(min=1), default=64, help="Most tokens per completion."
)
@click.option(
    "--fault",
    "faults",
    multiple=True,
    callback=_check_faults,
    metavar="NAME=FRACTION",
    help="Share of requests that ask the simulator for a fault (rate_limit, server_error, "
    "unavailable, hang, drop, malformed) with the X-Simulator-Fault header; repeatable, "
    "shares add up to at most 1. The gateway forwards the header only when "
    "LLM_GATEWAY_UPSTREAM_IS_SIMULATOR=true.",
)
@click.option(
    "--timeout",
    type=_POSITIVE,
    default=90.0,
    help="Seconds one request may take, stream included; past it, a client_timeout. Longer "
    "than the gateway's upstream timeout, so its 504s are seen.",
)
@click.option("--seed", type=int, help="Seed for the mix and the arrivals, to replay a run.")
@click.option(
    "--api-key",
    envvar="LLM_LOADGEN_API_KEY",
    help="Sent as 'Authorization: Bearer <key>'. [env: LLM_LOADGEN_API_KEY]",
)
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
def loadgen(
    url: str,
    models: tuple[str, ...],
    stream_fraction: float,
    chat_fraction: float,
    max_tokens: int,
    faults: dict[str, float],
    as_json: bool,
    **options: Any,
) -> None:
    """Send a mix of requests to a gateway at a steady rate, then summarize.

    Both endpoints, streamed and not, every model, and faults on request: progress goes
    to stderr once a second, the summary to stdout. Errors are results: the exit code is
    0 whenever the run happened.
    """
    if not models:
        try:
            models = tuple(asyncio.run(list_models(url, options["timeout"], options["api_key"])))
        except LoadgenError as exc:
            raise click.ClickException(f"{exc}; name models with --model") from exc
    mix = Mix(
        models=models,
        stream_fraction=stream_fraction,
        chat_fraction=chat_fraction,
        max_tokens=max_tokens,
        faults=faults,
    )
    config = LoadConfig(
        url=url,
        mix=mix,
        arrival=Arrival(options.pop("arrival")),
        **options,
    )
    summary = asyncio.run(_run(config))
    if as_json:
        click.echo(json.dumps(summary.to_dict(), indent=2))
    else:
        click.echo(render(summary))


async def _run(config: LoadConfig) -> Summary:
    stop = asyncio.Event()
    with _stop_on_interrupt(stop):
        return await run(config, on_progress=_echo_progress, stop=stop)


def _echo_progress(progress: Progress) -> None:
    click.echo(progress.line(), err=True)


@contextlib.contextmanager
def _stop_on_interrupt(stop: asyncio.Event) -> Iterator[None]:
    """Ctrl-C ends the run early and still prints the summary of what was sent."""
    loop = asyncio.get_running_loop()
    try:
        loop.add_signal_handler(signal.SIGINT, stop.set)
    except (NotImplementedError, RuntimeError):  # not the main thread, or not Unix
        yield
        return
    try:
        yield
    finally:
        loop.remove_signal_handler(signal.SIGINT)
