"""The ``/metrics`` body, from series lines prepared once and values read at scrape time.

prometheus_client renders every sample from scratch on every scrape: it builds a
``Sample`` per bucket, formats every bucket bound, validates and escapes every label name
and value. At 10,000 series that took about 250 ms (text) and 440 ms (OpenMetrics) of
the event loop. Here each series' line up to its value (``name{labels} ``) is rendered
once, by prometheus_client's own encoder, and kept; a scrape reads the values and joins
strings. The bytes are the encoder's (``tests/unit/test_scrape.py`` compares both formats,
exemplars and escaped label values included).

It covers the gateway's own metrics (counters, gauges and histograms on one process).
Anything else goes to prometheus_client as before: the process-wide collectors (a few
dozen series), a format or escaping it does not know, and the sum over ``--workers``.

It reads prometheus_client's private attributes (``_metrics``, ``_buckets``, ``_value``
and a few more; checked against the versions ``pyproject.toml`` bounds). Should one be
missing or different, the scrape is rendered by prometheus_client's own
``generate_latest`` from then on, and that is logged once: a slower ``/metrics``, never a
failing one (a failing scrape pages as TargetDown).
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, multiprocess
from prometheus_client import exposition as text_format
from prometheus_client.exposition import choose_encoder
from prometheus_client.metrics_core import Metric
from prometheus_client.openmetrics import exposition as om_format
from prometheus_client.utils import floatToGoString as _untyped_go_string
from prometheus_client.values import MutexValue

logger = logging.getLogger(__name__)

Encoder = Callable[[Any], bytes]
# What a series' lines were rendered for: format, escaping, metric name, label values.
_Key = tuple[str, str, str, tuple[str, ...]]
_PLACEHOLDER = " 0.0"
MAX_REMEMBERED_VALUES = 65536
# A value as Go writes floats: prometheus_client's formatting, so the bytes are its own.
floatToGoString: Callable[[float], str] = _untyped_go_string


class _One:
    """A collector of one metric family, to render it through prometheus_client."""

    def __init__(self, metric: Metric) -> None:
        self._metric = metric

    def collect(self) -> Iterable[Metric]:
        return [self._metric]


class Exposition:
    """Renders ``metrics`` fast, then ``rest`` (``everything`` when it cannot)."""

    def __init__(
        self, everything: CollectorRegistry, metrics: Sequence[Any], rest: CollectorRegistry
    ) -> None:
        self._everything = everything
        self._metrics = metrics
        self._rest = rest
        self._covered = all(isinstance(m, Counter | Gauge | Histogram) for m in metrics)
        self._fast = True
        self._headers: dict[tuple[str, str, str], str] = {}
        self._lines: dict[_Key, list[str]] = {}
        self._go: dict[float, str] = {}
        self._exemplars: dict[int, tuple[Any, str]] = {}
        self._exemplars_before: dict[int, tuple[Any, str]] = {}

    @property
    def prepared_series(self) -> int:
        """How many series' lines are kept (0 while prometheus_client renders them all)."""
        return len(self._lines) if self._fast else 0

    def render(self, accept: str) -> tuple[bytes, str]:
        """The body and content type for a scrape that sent ``accept``."""
        encode, content_type = choose_encoder(accept)
        form = _format_of(encode) if self._covered and self._fast else None
        if form is None:
            return encode(self._everything), content_type
        out: list[str] = []
        # Exemplar texts of the last scrape: most buckets still hold the same exemplar.
        self._exemplars_before, self._exemplars = self._exemplars, {}
        try:
            for metric in self._metrics:
                self._render(metric, form, encode, out)
        except _Unexpected:
            return encode(self._everything), content_type
        except (AttributeError, TypeError, ValueError, KeyError, IndexError):
            # prometheus_client's internals are not what this was written against.
            self._fast = False
            logger.warning(
                "prometheus_client's internals differ from what the fast /metrics renderer "
                "reads; rendering with prometheus_client's generate_latest from now on",
                exc_info=True,
            )
            return encode(self._everything), content_type
        return "".join(out).encode() + encode(self._rest), content_type

    def _render(self, metric: Any, form: tuple[str, str], encode: Encoder, out: list[str]) -> None:
        kind = metric._type
        header_key = (*form, metric._name)
        header = self._headers.get(header_key)
        if header is None:
            family = Metric(metric._name, metric._documentation, kind, metric._unit)
            header = self._headers[header_key] = _lines_of(encode, family, form)[0]
        out.append(header)
        if metric._is_parent():
            with metric._lock:
                children = list(metric._metrics.items())
        else:
            children = [((), metric)]
        openmetrics = form[0] == "openmetrics"
        append, go = out.append, self._go
        for values, child in children:
            key = (*form, metric._name, values)
            lines = self._lines.get(key)
            if lines is None:
                lines = self._lines[key] = self._series(metric, values, child, form, encode)
            # Values are read without their lock: one float read is atomic, and the
            # scrape is a snapshot either way, as prometheus_client's is.
            if kind == "histogram":
                acc = 0.0
                for prefix, bucket in zip(lines, child._buckets, strict=False):
                    acc += bucket._value
                    text = go.get(acc) or self._go_string(acc)
                    if openmetrics and bucket._exemplar is not None:
                        append(f"{prefix}{text}{self._exemplar(bucket._exemplar)}\n")
                    else:
                        append(f"{prefix}{text}\n")
                buckets = len(child._buckets)
                append(f"{lines[buckets]}{go.get(acc) or self._go_string(acc)}\n")
                if len(lines) > buckets + 1:
                    append(f"{lines[buckets + 1]}{floatToGoString(child._sum._value)}\n")
            else:
                value = child._value
                text = go.get(value._value) or self._go_string(value._value)
                if openmetrics and kind == "counter" and value._exemplar is not None:
                    append(f"{lines[0]}{text}{self._exemplar(value._exemplar)}\n")
                else:
                    append(f"{lines[0]}{text}\n")

    def _exemplar(self, exemplar: Any) -> str:
        """An exemplar's text, kept while the bucket keeps that exemplar."""
        kept = self._exemplars_before.get(id(exemplar))
        text = kept[1] if kept is not None and kept[0] is exemplar else _exemplar(exemplar)
        self._exemplars[id(exemplar)] = (exemplar, text)
        return text

    def _go_string(self, value: float) -> str:
        """``floatToGoString``, remembered for the small whole numbers most counts are."""
        text = floatToGoString(value)
        if value.is_integer() and len(self._go) < MAX_REMEMBERED_VALUES:
            self._go[value] = text
        return text

    @staticmethod
    def _series(
        metric: Any, values: tuple[str, ...], child: Any, form: tuple[str, str], encode: Encoder
    ) -> list[str]:
        """Each line of one series up to its value, as prometheus_client renders it."""
        held = child._buckets + [child._sum] if metric._type == "histogram" else [child._value]
        if not all(type(value) is MutexValue for value in held):
            raise _Unexpected(metric._name)  # values in files (--workers): not covered
        family = Metric(metric._name, metric._documentation, metric._type, metric._unit)
        series_labels = list(zip(metric._labelnames, values, strict=True))
        suffixes = []
        for sample in child._child_samples():
            suffixes.append(sample.name)
            labels = dict(series_labels + list(sample.labels.items()))
            family.add_sample(metric._name + sample.name, labels, 0.0)
        expected = (
            ["_total"]
            if metric._type == "counter"
            else [""]
            if metric._type == "gauge"
            else ["_bucket"] * len(child._buckets) + ["_count", "_sum"]
        )
        if suffixes != expected[: len(suffixes)] or len(suffixes) < len(expected) - 1:
            raise _Unexpected(metric._name)  # e.g. _created samples: not covered
        lines = _lines_of(encode, family, form)[1:]
        if len(lines) != len(suffixes) or not all(line.endswith(_PLACEHOLDER) for line in lines):
            raise _Unexpected(metric._name)
        return [line[: -len(_PLACEHOLDER) + 1] for line in lines]


class _Unexpected(Exception):
    """A metric this renderer does not cover; prometheus_client renders the scrape."""


def _lines_of(encode: Encoder, family: Metric, form: tuple[str, str]) -> list[str]:
    """``family`` rendered by prometheus_client: its header, then one line per sample."""
    text = encode(_One(family)).decode()
    if form[0] == "openmetrics":
        text = text.removesuffix("# EOF\n")
    lines = text.splitlines(keepends=True)
    header = "".join(line for line in lines if line.startswith("# "))
    return [header] + [line.rstrip("\n") for line in lines if not line.startswith("# ")]


def _format_of(encode: Encoder) -> tuple[str, str] | None:
    """(format, escaping) of an encoder ``choose_encoder`` picked, if covered here."""
    func = getattr(encode, "func", encode)
    keywords = getattr(encode, "keywords", {})
    escaping = keywords.get("escaping", om_format.UNDERSCORES)
    if escaping not in (om_format.UNDERSCORES, om_format.ALLOWUTF8):
        return None
    if func is text_format.generate_latest:
        return "text", escaping
    if func is om_format.generate_latest and keywords.get("version", "1.0.0") == "1.0.0":
        return "openmetrics", escaping
    return None


def _exemplar(exemplar: Any) -> str:
    """As prometheus_client's OpenMetrics encoder writes an exemplar; empty for none."""
    if not exemplar:
        return ""
    labels = ",".join(
        '{}="{}"'.format(k, v.replace("\\", r"\\").replace("\n", r"\n").replace('"', r"\""))
        for k, v in sorted(exemplar.labels.items())
    )
    if exemplar.timestamp is not None:
        return f" # {{{labels}}} {floatToGoString(exemplar.value)} {exemplar.timestamp}"
    return f" # {{{labels}}} {floatToGoString(exemplar.value)}"


class WorkersExposition(Exposition):
    """The sum over ``--workers`` processes, read from their files on every scrape.

    A worker that exits cleanly removes its live gauges (in flight, queued) itself; one
    that was killed cannot, and its last values would be summed in for good. So each
    scrape first forgets the live gauges of every process that no longer exists.
    Counters and histograms of dead workers stay: they are totals.
    """

    def __init__(self, directory: str) -> None:
        super().__init__(CollectorRegistry(), [], CollectorRegistry())
        self._directory = directory

    def render(self, accept: str) -> tuple[bytes, str]:
        self.forget_dead_workers()
        workers = CollectorRegistry()
        multiprocess.MultiProcessCollector(workers, self._directory)  # type: ignore[no-untyped-call]
        encode, content_type = choose_encoder(accept)
        return encode(workers), content_type

    def forget_dead_workers(self) -> None:
        pids = {
            int(match.group(1))
            for name in os.listdir(self._directory)
            if (match := _LIVE_GAUGE_FILE.fullmatch(name))
        }
        for pid in pids:
            if not _alive(pid):
                multiprocess.mark_process_dead(pid, self._directory)  # type: ignore[no-untyped-call]
                logger.info("removed the live gauges of worker %d, which is gone", pid)


# prometheus_client's file of one process's gauges in a "live" mode (livesum, liveall, ...).
_LIVE_GAUGE_FILE = re.compile(r"gauge_live[a-z]+_(\d+)\.db")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: it exists
        return True
    return True
