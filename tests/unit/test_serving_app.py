"""The app a serving process runs leaves its startup heap out of the cycle collector's way."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from llm_gateway.app import FULL_PASS_THRESHOLD, serving_app
from llm_gateway.settings import Settings


@pytest.fixture
def unfrozen() -> Iterator[None]:
    gc.unfreeze()
    thresholds = gc.get_threshold()
    try:
        yield
    finally:
        gc.unfreeze()  # the tests' process makes many apps: nothing stays frozen
        gc.set_threshold(*thresholds)


@pytest.mark.usefixtures("unfrozen")
def test_the_serving_apps_startup_objects_are_frozen() -> None:
    app = serving_app(Settings())

    # The app and everything built with it: in no generation the collector walks.
    assert gc.is_tracked(app)
    assert all(tracked is not app for tracked in gc.get_objects())
    assert gc.get_freeze_count() > 10_000


@pytest.mark.usefixtures("unfrozen")
def test_the_serving_app_makes_full_passes_ten_times_as_rare() -> None:
    young, middle, full = gc.get_threshold()
    serving_app(Settings())
    assert gc.get_threshold() == (young, middle, FULL_PASS_THRESHOLD)
    assert FULL_PASS_THRESHOLD > full
