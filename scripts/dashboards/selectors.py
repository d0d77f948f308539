"""PromQL for the panels. Every selector starts with the scope variables.

`job`, `instance` and `namespace` come from the dashboard's variables
(variables.py), so the same JSON shows any gateway a Prometheus scrapes, under
whatever job name: nothing here names a job.
"""

from __future__ import annotations

SCOPE = ('job=~"$job"', 'instance=~"$instance"', 'namespace=~"$namespace"')
RATE_INTERVAL = "$__rate_interval"

HANDLER = 'handler=~"$handler"'
MODEL = 'model=~"$model"'
UPSTREAM = 'upstream=~"$upstream"'
STATUS_5XX = 'status_code=~"5.."'
STATUS_429 = 'status_code="429"'
GENERATE = 'handler="/generate"'
RATE_LIMITED = 'reason="rate_limited"'


def sel(metric: str, *matchers: str) -> str:
    """`metric{job=~"$job", instance=~"$instance", namespace=~"$namespace", ...}`."""
    return f"{metric}{{{', '.join((*SCOPE, *matchers))}}}"


def rate(metric: str, *matchers: str) -> str:
    """`rate(metric{...}[$__rate_interval])`: dashboard-linter's rule for every rate()."""
    return f"rate({sel(metric, *matchers)}[{RATE_INTERVAL}])"


def ratio_over(bad: str, total: str, window: str) -> str:
    """bad/total over `window`, summing per-$__rate_interval rates in a subquery.

    Every rate() takes $__rate_interval; a fixed window therefore comes from a
    subquery of rates, which tiles the window.
    """
    step = RATE_INTERVAL
    return f"sum_over_time(({bad})[{window}:{step}])\n/\nsum_over_time(({total})[{window}:{step}])"


def quantile(q: float, metric: str, *matchers: str, by: tuple[str, ...] = ()) -> str:
    """`histogram_quantile(q, sum by (le, ...) (rate(metric_bucket{...})))`."""
    group = ", ".join(("le", *by))
    return f"histogram_quantile({q}, sum by ({group}) ({rate(metric, *matchers)}))"
