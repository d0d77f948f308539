"""Metrics: their definitions, the typed recorder, the HTTP metrics and ``/metrics``."""
