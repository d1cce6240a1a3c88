"""Steady predictions from a background thread while a test breaks something, bounded in time."""

from __future__ import annotations

import multiprocessing
import threading
import time
import uuid
from collections.abc import Mapping

import requests

# The edge answers 429 past 1000 calls a second from one address (edge/haproxy.cfg). Refusals
# can come faster than that (a full disk's 503s did in CI), so a client stays well under it.
MOST_PER_SECOND = 400
# Past the apps' 5 s request deadline (CHURNLAB_REQUEST_DEADLINE_SECONDS), which starts only
# when a worker takes the call: a slow answer is then seen for what it says, not cut off.
TIMEOUT_SECONDS = 10


class Load:
    """One client predicting as fast as answers come, up to MOST_PER_SECOND (or at `rate` a
    second); keeps every outcome and the ids of the predictions that were acknowledged (200),
    to check them against the prediction log."""

    def __init__(self, url: str, body: dict, seconds: float, rate: float | None = None) -> None:
        self.url, self.body, self.seconds = url, body, seconds
        self.pause = 1 / (rate or MOST_PER_SECOND)
        self.statuses: list[int] = []
        self.elapsed: list[float] = []
        self.sent_at: list[float] = []  # time.monotonic() when each request was sent
        self.content_types: list[str] = []  # or, where no answer came (status 0), why not
        self.recorded: list[bool] = []
        self.ids: list[str] = []
        self.versions: list[str] = []  # the model version of each acknowledged prediction
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run)

    def _run(self) -> None:
        session = requests.Session()
        deadline = time.monotonic() + self.seconds
        while time.monotonic() < deadline and not self._stopped.is_set():
            request_id = f"load-{uuid.uuid4().hex}"
            started = time.monotonic()
            try:
                response = session.post(
                    f"{self.url}/v1/predict",
                    json=self.body,
                    timeout=TIMEOUT_SECONDS,
                    headers={"X-Request-ID": request_id},
                )
                self.statuses.append(response.status_code)
                self.content_types.append(response.headers.get("Content-Type", ""))
                if response.status_code == 200:
                    answer = response.json()
                    self.ids.append(request_id)
                    self.recorded.append(answer["recorded"])
                    self.versions.append(answer["model_version"])
            except requests.RequestException as error:  # kept, to say which when a test fails
                self.statuses.append(0)
                self.content_types.append(f"{type(error).__name__} after {_since(started)}")
            self.elapsed.append(time.monotonic() - started)
            self.sent_at.append(started)
            time.sleep(max(self.pause - (time.monotonic() - started), 0))

    def __enter__(self) -> Load:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._thread.join()

    def stop(self) -> None:
        """End the load after its call in flight, before its time is up."""
        self._stopped.set()

    def unlogged(self, logged: Mapping[str, int]) -> list[str]:
        """The acknowledged predictions that the log (predictions per correlation id) does not
        hold exactly once."""
        return [request_id for request_id in self.ids if logged.get(request_id) != 1]

    def sent_between(self, start: float, end: float) -> list[int]:
        """The statuses of the requests sent in [start, end) (time.monotonic())."""
        return [
            status
            for status, sent in zip(self.statuses, self.sent_at, strict=True)
            if start <= sent < end
        ]

    def pace_inside_and_outside(self, start: float, end: float) -> tuple[float, float]:
        """Requests sent per second inside [start, end) and in the rest of the run: a client
        that waits for each answer slows down exactly as the deployment does, so the ratio of
        the two says what a fault cost, whatever the machine's speed."""
        first, last = self.sent_at[0], self.sent_at[-1] + self.elapsed[-1]  # the last answer
        if not first < start < end < last:
            raise ValueError(f"the window {start}..{end} is not inside the run {first}..{last}")
        inside = len(self.sent_between(start, end))
        inside_seconds, outside_seconds = end - start, (last - first) - (end - start)
        return inside / inside_seconds, (len(self.sent_at) - inside) / outside_seconds

    @property
    def failure_rate(self) -> float:
        return sum(status != 200 for status in self.statuses) / max(len(self.statuses), 1)

    def failures(self) -> set[tuple[int, str]]:
        """(status, content type) of every answer that was not a 200; (0, the exception and
        when it came) for a call that got no answer."""
        return {
            (status, kind)
            for status, kind in zip(self.statuses, self.content_types, strict=True)
            if status != 200
        }


def _since(started: float) -> str:
    return f"{time.monotonic() - started:.2f} s"


def timed_gets(url: str, seconds: float, every: float = 0.02) -> list[tuple[int, float]]:
    """GET `url` repeatedly for `seconds` from a process of its own (a probe is another client:
    timed in this process, it would wait on this process's load threads for the GIL);
    the (status, seconds) of each answer."""
    context = multiprocessing.get_context("fork")
    results = context.Queue()
    prober = context.Process(target=_get_until, args=(url, seconds, every, results))
    prober.start()
    answers = results.get(timeout=seconds + 60)
    prober.join(10)
    return answers


def _get_until(url: str, seconds: float, every: float, results) -> None:
    answers = []
    deadline = time.monotonic() + seconds
    with requests.Session() as session:
        while time.monotonic() < deadline:
            started = time.perf_counter()
            status = session.get(url, timeout=5).status_code
            answers.append((status, time.perf_counter() - started))
            time.sleep(every)
    results.put(answers)
