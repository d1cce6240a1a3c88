"""A job run every so often on a daemon thread of its own, surviving any one failed round."""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable

logger = logging.getLogger(__name__)


def every(seconds: float, job: Callable[[], object], name: str) -> threading.Thread:
    """Start `job()` every `seconds` (the first after a random part of it, so the workers of
    one server do not all start together)."""

    def loop() -> None:
        time.sleep(random.uniform(0, seconds))
        while True:
            try:
                job()
            except Exception:  # the job must outlive any one bad round
                logger.exception("%s failed", name)
            time.sleep(seconds)

    thread = threading.Thread(target=loop, name=name, daemon=True)
    thread.start()
    return thread
