"""``llm-gateway``: the gateway (``serve``), the upstream simulator (``simulate``) and a load
generator for demos and drills (``loadgen``)."""

from __future__ import annotations

import importlib
import json
import logging
import math
import os
import shutil
import socket
import tempfile
import threading
from typing import Any

import click
import uvicorn
from pydantic import AliasChoices, ValidationError
from pydantic_settings import SettingsError

from llm_gateway.http.drain import CUT_OFF_GRACE_SECONDS
from llm_gateway.http.server import http_protocol
from llm_gateway.logs import configure_logging
from llm_gateway.routing import ROUTING_SHORTHAND, RoutingError, RoutingTable, routing_table
from llm_gateway.settings import LogFormat, Settings, UpstreamApi

logger = logging.getLogger("llm_gateway")

# Settings that child worker processes must see: they rebuild Settings from the environment.
_ENV_PREFIX = "LLM_GATEWAY_"


class _Commands(click.Group):
    """Imports ``simulate`` and ``loadgen`` only when they are asked for, so that ``serve``
    (and its ``--help``) does not load the simulator and the load generator."""

    lazy = {
        "simulate": "llm_gateway.simulator.cli:simulate",
        "loadgen": "llm_gateway.loadgen.cli:loadgen",
    }

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted([*super().list_commands(ctx), *self.lazy])

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.lazy:
            return super().get_command(ctx, cmd_name)
        module, name = self.lazy[cmd_name].split(":")
        command: click.Command = getattr(importlib.import_module(module), name)
        return command


@click.group(
    cls=_Commands, context_settings={"help_option_names": ["-h", "--help"], "show_default": True}
)
@click.version_option(package_name="llm-gateway")
def main() -> None:
    """An observable gateway to Mistral models on Hugging Face."""


@main.command()
@click.option("--host", help="Interface to bind; 0.0.0.0 in a container.")
@click.option("--port", type=click.IntRange(0, 65535), help="TCP port. [default: 8000]")
@click.option(
    "--workers",
    type=click.IntRange(1, 64),
    help="Worker processes; metrics are summed over all of them. [default: 1]",
)
@click.option(
    "--log-level",
    type=click.Choice(["debug", "info", "warning", "error"]),
    help="Least severe log level written. [default: info]",
)
@click.option(
    "--log-format",
    type=click.Choice([f.value for f in LogFormat]),
    help="text for people, json for log pipelines. [default: text]",
)
@click.option(
    "--upstream-url",
    help="Base URL of an OpenAI-compatible server (vLLM, TGI, TEI, ...), an Inference "
    "Endpoint or the simulator, or a comma-separated list of them serving the same models "
    "(a pool), spoken to on OpenAI's routes unless LLM_GATEWAY_UPSTREAM_KIND=huggingface. "
    "Without it, and with HF_TOKEN set, requests go to Hugging Face Inference Providers; "
    "with neither, to a built-in simulator.",
)
@click.option(
    "--upstream-timeout",
    "upstream_timeout_seconds",
    type=click.FloatRange(min=0, min_open=True),
    help="Seconds to wait for the upstream to connect or send its next byte. [default: 60]",
)
@click.option(
    "--config",
    type=click.Path(exists=True, dir_okay=False),
    help="A YAML routing table: the upstreams and the models each serves. Without it, the "
    "LLM_GATEWAY_* settings stand for a table of one upstream.",
)
def serve(**options: Any) -> None:
    """Serve the gateway over HTTP.

    Every option can also be set by the environment variable named in its help, and every
    setting (the README lists them all) by an LLM_GATEWAY_* variable, or by a line in a .env
    file in the working directory. An option given here wins over the environment, which
    wins over .env. The Hugging Face token is read from HF_TOKEN only (environment or .env).
    """
    overrides = {name: value for name, value in options.items() if value is not None}
    settings = _settings(overrides)
    configure_logging(settings.log_level, settings.log_format)
    if settings.config is None and settings.upstream_url is None and settings.hf_token is None:
        url = _start_builtin_simulator()
        settings = Settings(**overrides, upstream_url=url, upstream_is_simulator=True)
        logger.warning(
            "neither HF_TOKEN nor an upstream URL is set: serving from the built-in "
            "simulator, upstream kind %s",
            settings.upstream_api.value,
        )
    elif (
        settings.hf_token is not None
        and settings.upstream_api is UpstreamApi.OPENAI
        and settings.upstream_api_key_env is None
    ):
        # An Inference Endpoint's deployment from before the openai kind was the default.
        logger.warning(
            "HF_TOKEN is not sent to an openai upstream: LLM_GATEWAY_UPSTREAM_API_KEY_ENV="
            "HF_TOKEN sends it as its key; LLM_GATEWAY_UPSTREAM_KIND=huggingface keeps "
            "huggingface_hub's routes"
        )
    try:
        # Read here, before any worker starts: a bad table is a usage error, once.
        table = routing_table(settings)
    except RoutingError as exc:
        raise click.UsageError(str(exc)) from None
    if settings.workers == 1:
        _run(settings, table)
    else:
        _run_workers(settings)


def _variable(setting: str) -> str:
    """The environment variable a setting is read from: its alias's first name where it
    has one (the kind is LLM_GATEWAY_UPSTREAM_KIND), else the prefixed field name."""
    alias = Settings.model_fields[setting].validation_alias
    if isinstance(alias, AliasChoices) and isinstance(alias.choices[0], str):
        return alias.choices[0]
    return _ENV_PREFIX + setting.upper()


for _param in serve.params:
    # The variable each option stands for, named from the setting it overrides.
    if isinstance(_param, click.Option) and _param.name in Settings.model_fields:
        _param.help = f"{_param.help} [env: {_variable(_param.name)}]"


def _settings(overrides: dict[str, Any]) -> Settings:
    """The settings, or a usage error that names what is wrong and never what was given:
    a mistyped API key setting must not print the keys."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        problems = [
            f"{'.'.join(str(part) for part in error['loc']) or 'settings'}: {error['msg']}"
            for error in exc.errors(include_input=False, include_url=False)
            # The kind's default is not made when the URL is wrong: that says nothing more.
            if error["type"] != "default_factory_not_called"
        ]
        raise click.BadParameter("; ".join(problems)) from None
    except SettingsError as exc:  # a value that is not the JSON its setting needs
        raise click.BadParameter(str(exc)) from None


def _run(settings: Settings, table: RoutingTable) -> None:
    # Imported here, not at the top: `--help` answers without loading the whole app.
    from llm_gateway.app import serving_app

    uvicorn.run(
        serving_app(settings, table),
        host=settings.host,
        port=settings.port,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=_drain(settings),
        http=http_protocol(settings),
    )


def _run_workers(settings: Settings) -> None:
    """Several processes, one metrics directory private to this gateway instance.

    prometheus-client reads ``PROMETHEUS_MULTIPROC_DIR`` when it is imported, so the
    directory is set before uvicorn spawns the workers, which build their settings from
    the same environment.
    """
    from llm_gateway.app import MULTIPROCESS_ENV

    metrics_dir = tempfile.mkdtemp(prefix="llm-gateway-metrics-")
    os.environ[MULTIPROCESS_ENV] = metrics_dir
    os.environ.update(_environment(settings))
    try:
        uvicorn.run(
            "llm_gateway.app:create_app_from_environment",
            factory=True,
            host=settings.host,
            port=settings.port,
            workers=settings.workers,
            log_config=None,
            access_log=False,
            timeout_graceful_shutdown=_drain(settings),
            http=http_protocol(settings),
        )
    finally:
        shutil.rmtree(metrics_dir, ignore_errors=True)


def _drain(settings: Settings) -> int:
    """uvicorn's graceful-shutdown timeout, in whole seconds: the drain, then the time for
    the streams it cut off to send their last frames."""
    return math.ceil(settings.drain_seconds) + CUT_OFF_GRACE_SECONDS


def _environment(settings: Settings) -> dict[str, str]:
    """The settings as the environment variables a worker rebuilds them from."""
    # The secrets and the keys stay where they are (the inherited environment, the keys
    # file): the settings hold only digests of the keys, which must not be hashed again,
    # and secrets dump masked.
    secrets = {"hf_token", "api_keys", "redis_url", "redis_password"}
    # With a routing table, the shorthand's settings must stay unset (their defaults too).
    values = settings.model_dump(
        mode="json", exclude=secrets | ROUTING_SHORTHAND if settings.config else secrets
    )
    env: dict[str, str] = {}
    for name, value in values.items():
        if value is None:
            continue
        env[_variable(name)] = value if isinstance(value, str) else json.dumps(value)
    return env


def _start_builtin_simulator() -> str:
    """Run the simulator on a loopback port in a background thread; return its URL."""
    from llm_gateway.simulator.app import create_app as create_simulator_app
    from llm_gateway.simulator.settings import SimulatorSettings

    # Bound here, before the thread starts, so the port is known and connections queue.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    config = uvicorn.Config(
        create_simulator_app(SimulatorSettings()), log_config=None, access_log=False
    )
    server = uvicorn.Server(config)
    threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name="simulator", daemon=True
    ).start()
    host, port = sock.getsockname()
    return f"http://{host}:{port}"
