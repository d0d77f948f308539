"""A fake upstream speaking the TGI and OpenAI wire protocols, with latency and faults on demand.

Run it with ``llm-gateway simulate`` or serve :func:`llm_gateway.simulator.app.create_app`.
"""
