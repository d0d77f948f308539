"""Hugging Face Inference Providers as ``InferenceClient`` reaches them: the router and the Hub.

A separate app, not part of the simulator's default one: tests serve it over TLS under the
real host names, with a test CA and the gateway's resolver pointed at loopback, so that the
real client sends its real requests (``tests/integration/test_hf_router.py``). The routes
huggingface_hub 2.4 calls for a chat completion:

=====================  ======================================================  ================
host                   route                                                   for provider
=====================  ======================================================  ================
router.huggingface.co  ``POST /v1/chat/completions``                           ``auto``
router.huggingface.co  ``POST /{provider}/v1/chat/completions``                ``together``,
                                                                               ``featherless-ai``
router.huggingface.co  ``POST /hf-inference/models/{model}/v1/chat/completions``  ``hf-inference``
huggingface.co         ``GET /api/models/{model}?expand=inferenceProviderMapping``  a named one
huggingface.co         ``GET /api/models/{model}``                             ``hf-inference``
=====================  ======================================================  ================

The router wants ``Authorization: Bearer <token>`` with a token it was given (401 otherwise,
as the real one answers), and for a named provider the provider's own id for the model, the
one the Hub's mapping gives (:func:`provider_model_id`). Generation, faults (the
``X-Simulator-Fault`` header) and errors are the simulator's OpenAI dialect.
"""

from __future__ import annotations

import json

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Host, Route, Router

from llm_gateway.simulator.openai_api import OpenAIRoutes, error_response
from llm_gateway.simulator.responses import json_body
from llm_gateway.simulator.settings import SimulatorSettings
from llm_gateway.simulator.simulation import Simulation

ROUTER_HOST = "router.huggingface.co"
HUB_HOST = "huggingface.co"
# The providers the Hub says serve each simulated model, in its order of preference.
MAPPED_PROVIDERS = ("together", "featherless-ai")


def provider_model_id(model: str) -> str:
    """The id a provider knows a Hub model by: unlike the Hub's, so a missed mapping shows."""
    return model.rpartition("/")[2].lower()


class ProviderRoutes:
    def __init__(self, simulation: Simulation, tokens: frozenset[str]) -> None:
        self.models = simulation.settings.models
        self.tokens = tokens
        self.openai = OpenAIRoutes(simulation)

    def router(self) -> Router:
        return Router(
            [
                Route("/v1/chat/completions", self.auto, methods=["POST"]),
                Route(
                    "/hf-inference/models/{model:path}/v1/chat/completions",
                    self.hf_inference,
                    methods=["POST"],
                ),
                Route("/{provider}/v1/chat/completions", self.mapped, methods=["POST"]),
            ]
        )

    def hub(self) -> Router:
        return Router([Route("/api/models/{model:path}", self.model_info, methods=["GET"])])

    async def auto(self, request: Request) -> Response:
        return await self._chat(request, self.models)

    async def hf_inference(self, request: Request) -> Response:
        if request.path_params["model"] not in self.models:
            return _not_found(request.path_params["model"])
        return await self._chat(request, self.models)

    async def mapped(self, request: Request) -> Response:
        if request.path_params["provider"] not in MAPPED_PROVIDERS:
            return error_response(404, "Not Found", "invalid_request_error", None)
        return await self._chat(request, [provider_model_id(model) for model in self.models])

    async def _chat(self, request: Request, served: list[str]) -> Response:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or token not in self.tokens:
            body = json_body({"error": "Invalid credentials in Authorization header"})
            return Response(body, 401, media_type="application/json")
        try:
            model = json.loads(await request.body()).get("model")
        except (ValueError, AttributeError):
            model = None
        if model not in served:
            return _not_found(str(model))
        return await self.openai.chat_completions(request)

    async def model_info(self, request: Request) -> Response:
        model = request.path_params["model"]
        if model not in self.models:
            body = json_body({"error": "Repository not found"})
            return Response(body, 404, {"X-Error-Code": "RepoNotFound"}, "application/json")
        info: dict[str, object] = {
            "id": model,
            "pipeline_tag": "text-generation",
            "tags": ["text-generation", "conversational"],
        }
        if "inferenceProviderMapping" in request.query_params.getlist("expand"):
            info = {
                "id": model,
                "inferenceProviderMapping": {
                    provider: {
                        "status": "live",
                        "providerId": provider_model_id(model),
                        "task": "conversational",
                    }
                    for provider in MAPPED_PROVIDERS
                },
            }
        return Response(json_body(info), media_type="application/json")


def _not_found(model: str) -> Response:
    message = f"The model {model} does not exist."
    return error_response(404, message, "invalid_request_error", "model_not_found")


def create_app(settings: SimulatorSettings, *, tokens: frozenset[str]) -> Starlette:
    """The router and the Hub, told apart by the Host header; ``tokens``: those the router takes."""
    routes = ProviderRoutes(Simulation.from_settings(settings), tokens)
    return Starlette(routes=[Host(ROUTER_HOST, routes.router()), Host(HUB_HOST, routes.hub())])
