"""Capacity by search, not by grid: rates grow from a start (doubling, or by a smaller factor
when the start is an earlier estimate) until one fails, then the bracket between the highest
passing rate and the lowest failing one is halved until it is within 5%. Capacity is the
highest tried rate at which that step and every lower one passed, so a lucky pass above a
failure never counts. A search whose highest rate still passed is censored: it says "at least
N", never N; one whose lowest rate failed says "below N".

Pure: `next_rate` reads what was tried and says what to try next, so any runner (one host or
the swarm) drives it, and tests drive it with a made-up service.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class CapacitySearch:
    start: float  # the first rate tried, requests a second
    limit: float  # never offered more (what the generator can send)
    floor: float = 1.0  # never offered less
    resolution: float = 0.05  # the bracket's width, as a share of its lower end, to stop at
    growth: float = 2.0  # the factor up (or down, while the lowest rate fails) before a bracket
    tried: dict[float, bool] = field(default_factory=dict)  # rate -> passed

    def __post_init__(self) -> None:
        if self.growth <= 1:
            raise ValueError("a capacity search grows its rate by a factor over 1")
        if min(self.start, self.floor) < 0.1:  # rates are offered to a tenth of a request/s
            raise ValueError("a capacity search starts and ends at 0.1 requests/s or more")

    def record(self, rate: float, passed: bool) -> None:
        self.tried[rate] = passed

    @property
    def passing(self) -> float | None:
        """The highest tried rate with every tried rate up to it passing."""
        best = None
        for rate in sorted(self.tried):
            if not self.tried[rate]:
                break
            best = rate
        return best

    @property
    def failing(self) -> float | None:
        """The lowest tried rate that failed."""
        return min((rate for rate, passed in self.tried.items() if not passed), default=None)

    def next_rate(self) -> float | None:
        """The next rate to try, or None when the search is done (or would repeat a rate)."""
        rate = self._next()
        return None if rate is None or rate in self.tried else rate

    def _next(self) -> float | None:
        if not self.tried:
            return round(min(self.start, self.limit), 1)
        low, high = self.passing, self.failing
        if high is None:  # nothing failed yet: grow, up to the limit
            top = max(self.tried)
            return round(min(top * self.growth, self.limit), 1) if top < self.limit else None
        if low is None:  # the lowest rate failed: shrink, down to the floor
            bottom = min(self.tried)
            return round(max(bottom / self.growth, self.floor), 1) if bottom > self.floor else None
        if high - low <= self.resolution * low:
            return None
        middle = round((low + high) / 2, 1)
        return middle if low < middle < high else None

    def result(self) -> dict:
        """capacity_rps with how far to trust it: `censored` is "above" (the highest rate
        tried passed: capacity is at least this) or "below" (the lowest failed: less than
        this), else null; `bracket` the passing and failing rates around it."""
        if not self.tried:
            raise RuntimeError("no rate was decided: the generator could not hold the first")
        low, high = self.passing, self.failing
        censored = "above" if high is None else "below" if low is None else None
        return {
            "capacity_rps": low if low is not None else min(self.tried),
            "censored": censored,
            "bracket": [low, high],
            "tried": [[rate, self.tried[rate]] for rate in sorted(self.tried)],
        }


def search(trial, start: float, limit: float, **options: float) -> dict:
    """Runs `trial(rate) -> passed` as the search asks, until it is done."""
    state = CapacitySearch(start, limit, **options)
    while (rate := state.next_rate()) is not None:
        state.record(rate, trial(rate))
    return state.result()
