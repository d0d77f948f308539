"""The metric families, each a table of :class:`~llm_gateway.metrics.spec.MetricSpec`;
:mod:`llm_gateway.metrics.definitions` lists them all, in the exposition's order."""
