"""Fixtures for the dashboard tests."""

from __future__ import annotations

import shutil

import pytest


@pytest.fixture(scope="session")
def promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        pytest.fail(
            "promtool is not on PATH; install it (Debian package `prometheus`) with "
            "`sudo scripts/install-prometheus.sh`",
            pytrace=False,
        )
    return path
