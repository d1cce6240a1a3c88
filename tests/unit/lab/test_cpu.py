"""A process tree's CPU, read while the tree changes: the generator's is sampled every half
second while Locust starts and ends threads and workers."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys

from lab.load.cpu import descendants, tree_cpu_seconds

# A child that spins in a grandchild, while its own threads start and end without pause.
CHURN = """
import subprocess, sys, threading, time
grandchild = subprocess.Popen([sys.executable, "-c", "while True: pass"])
end = time.monotonic() + 30
while time.monotonic() < end:
    threads = [threading.Thread(target=time.sleep, args=(0.001,)) for _ in range(8)]
    for thread in threads: thread.start()
    for thread in threads: thread.join()
"""


def test_a_changing_tree_is_read_whole_and_without_error():
    child = subprocess.Popen([sys.executable, "-c", CHURN])
    try:
        readings = []
        for _ in range(300):  # each read races the child's threads coming and going
            found = descendants(child.pid)
            readings.append(tree_cpu_seconds(child.pid))
        assert len(found) == 2, found  # the child and its spinning grandchild
        assert found[0] == child.pid
        assert readings[-1] > readings[0] >= 0
    finally:
        for pid in reversed(descendants(child.pid)):  # only what this test started
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        child.wait(10)


def test_a_process_that_has_gone_has_no_tree_and_no_cpu():
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    assert descendants(gone.pid) == []
    assert tree_cpu_seconds(gone.pid) == 0
