"""How repeated measurements are summarised: the median, its bootstrap 95% confidence interval,
the range and the count (Jain, ch. 13: a figure from repeats comes with its interval). The
interval is what the flags read: one wider than ±15% of its median, or two that overlap, say
the runs did not settle the figure."""

from __future__ import annotations

import statistics
import warnings
from collections.abc import Sequence

import numpy as np
from scipy.stats import bootstrap

WIDE = 0.15  # an interval whose half-width exceeds this share of its median is too wide
RESAMPLES = 10_000


def median_interval(values: Sequence[float], level: float = 0.95) -> tuple[float, float] | None:
    """The percentile bootstrap interval of the median (percentile, not BCa: BCa needs a
    smooth statistic and the median of a handful of runs is not). None under two values."""
    if len(values) < 2:
        return None
    if min(values) == max(values):
        return float(values[0]), float(values[0])
    with warnings.catch_warnings():  # a few runs give few distinct resamples: expected here
        warnings.simplefilter("ignore")
        result = bootstrap(
            (np.asarray(values, dtype=float),),
            np.median,
            confidence_level=level,
            n_resamples=RESAMPLES,
            method="percentile",
            rng=np.random.default_rng(0),  # the same runs always give the same interval
        )
    interval = result.confidence_interval
    return float(interval.low), float(interval.high)


def spread(values: Sequence[float], digits: int = 3) -> dict:
    """Median of repeated runs with its 95% interval, min, max and n; `flagged` when the
    interval is missing (one run) or wider than ±15% of the median."""
    median = float(statistics.median(values))
    interval = median_interval(values)
    half_width = (interval[1] - interval[0]) / 2 if interval else None
    relative = (max(values) - min(values)) / median if median else 0.0
    return {
        "median": round(median, digits),
        "ci95": [round(bound, digits) for bound in interval] if interval else None,
        "min": round(float(min(values)), digits),
        "max": round(float(max(values)), digits),
        "runs": len(values),
        "spread": round(relative, 3),
        "flagged": half_width is None or half_width > WIDE * abs(median),
    }


def overlap(first: dict, second: dict) -> bool:
    """Whether two figures' intervals overlap (a figure with none overlaps everything): the
    runs do not tell the two apart."""
    if not first["ci95"] or not second["ci95"]:
        return True
    return first["ci95"][0] <= second["ci95"][1] and second["ci95"][0] <= first["ci95"][1]
