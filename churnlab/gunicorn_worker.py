"""gunicorn's gthread worker, except that a stopping worker stops taking connections at once.

On SIGTERM gunicorn's master closes its listening socket, but each worker keeps its own copy
open until its in-flight requests are done. Meanwhile the kernel still completes connections
to the port and queues them for a worker that no longer accepts: a client's request waits,
unanswered, until that worker exits. A rollout sent requests there (the gateway gave up on
them at its 1 s read timeout). Closed at once, the port refuses instead, which a caller retries
on another replica at once (a refused connection never reached this one).
"""

from __future__ import annotations

from gunicorn.workers.gthread import ThreadWorker


class StoppingThreadWorker(ThreadWorker):
    def is_parent_alive(self) -> bool:
        # A worker whose master died stops too: its loop then ends with `alive` still set.
        alive = super().is_parent_alive()
        if not alive:
            self.alive = False
        return alive

    def set_accept_enabled(self, enabled: bool) -> None:
        # Called with False both when the worker is full (it accepts again later) and when it
        # begins to stop: only then are its listeners closed.
        super().set_accept_enabled(enabled)
        if not enabled and not self.alive:
            for listener in self.sockets:
                listener.close()
