"""How repeated measurements are summarised: the median, a distribution-free interval around
it with the coverage it really has, the range and the count (Jain, ch. 13: a figure from repeats
comes with its interval); and the ratio of two architectures from runs paired in blocks.

The median's interval is the order-statistic one: between the j-th smallest and the j-th largest
of n runs, which holds the true median with probability 1 - 2 P(Binomial(n, 1/2) < j) whatever
the runs' distribution. It reaches 95% from six runs; below that it is the range, and says its
coverage (75% from three runs, 93.75% from five). A percentile bootstrap of the median gives the
same [min, max] from so few runs, while calling it 95%.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from typing import TypeVar

from scipy.stats import binom
from scipy.stats import t as student_t

T = TypeVar("T")
WIDE = 0.15  # an interval whose half-width exceeds this share of its median is too wide
LEVEL = 0.95


def median_interval(values: Sequence[float], level: float = LEVEL) -> tuple[float, float, float]:
    """The order-statistic interval of the median and its coverage: the narrowest one that
    covers `level`, or the range (with its lower coverage) when n runs cannot reach `level`."""
    if len(values) < 2:
        raise ValueError("an interval needs two runs or more")
    ordered, n = sorted(float(v) for v in values), len(values)

    def coverage(j: int) -> float:  # of [j-th smallest, j-th largest], j from 1
        return 1 - 2 * float(binom.cdf(j - 1, n, 0.5))

    j = 1
    while j + 1 <= n // 2 and coverage(j + 1) >= level:
        j += 1
    return ordered[j - 1], ordered[n - j], round(coverage(j), 4)


def spread(values: Sequence[float], digits: int = 3) -> dict:
    """Median of repeated runs with its interval and that interval's coverage, min, max and n;
    `flagged` when there is no interval (one run) or it is wider than ±15% of the median."""
    median = float(statistics.median(values))
    interval = median_interval(values) if len(values) > 1 else None
    half_width = (interval[1] - interval[0]) / 2 if interval else None
    relative = (max(values) - min(values)) / median if median else 0.0
    return {
        "median": round(median, digits),
        "interval": [round(bound, digits) for bound in interval[:2]] if interval else None,
        "coverage": interval[2] if interval else None,
        "min": round(float(min(values)), digits),
        "max": round(float(max(values)), digits),
        "runs": len(values),
        "spread": round(relative, 3),
        "flagged": half_width is None or half_width > WIDE * abs(median),
    }


def overlap(first: dict, second: dict) -> bool:
    """Whether two figures' intervals overlap (a figure with none overlaps everything): the
    runs do not tell the two apart."""
    if not first["interval"] or not second["interval"]:
        return True
    return (
        first["interval"][0] <= second["interval"][1]
        and second["interval"][0] <= first["interval"][1]
    )


def ratio_interval(
    numerators: Sequence[float], denominators: Sequence[float], level: float = LEVEL
) -> dict | None:
    """The ratio of two architectures' figures from runs paired by block (repeat r of each ran
    next to each other, so the machine's drift between blocks cancels): the geometric mean of
    the per-block ratios with a Student-t interval on their logarithms. None under two blocks
    or where a figure is not positive."""
    pairs = [(a, b) for a, b in zip(numerators, denominators, strict=True) if a > 0 and b > 0]
    if len(pairs) < 2:
        return None
    logs = [math.log(a / b) for a, b in pairs]
    mean, n = statistics.fmean(logs), len(logs)
    half = float(student_t.ppf((1 + level) / 2, n - 1)) * statistics.stdev(logs) / math.sqrt(n)
    return {
        "ratio": round(math.exp(mean), 3),
        "interval": [round(math.exp(mean - half), 3), round(math.exp(mean + half), 3)],
        "coverage": level,
        "blocks": n,
    }


def in_turns(subjects: dict[str, T], round_number: int) -> list[tuple[str, T]]:
    """The subjects in this round's order (turn_order): whatever one run leaves behind (a warm
    cache, a disk still flushing) falls on each equally often."""
    return turn_order(list(subjects.items()), round_number)


def turn_order(items: Sequence[T], round_number: int) -> list[T]:
    """Round `round_number`'s order: rotated every other round and reversed in between
    (A B C, C B A, B C A, A C B, ...), a Williams design: over 2n rounds each item runs in each
    place, and straight after each other one, equally often (with two: A B, B A, B A, A B)."""
    turn = (round_number // 2) % len(items)
    rotated = [*items[turn:], *items[:turn]]
    return rotated if round_number % 2 == 0 else rotated[::-1]
