"""Stopping a process the local node started (OpenSearch itself, its stunnel TLS front)."""

from __future__ import annotations

import os
import signal
import time
from typing import Callable


def reap(pid: int) -> None:
    """Collect the exit status when the process is our own child, so it does not linger as a zombie."""
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


def terminate(pid: int, is_ours: Callable[[int], bool], timeout: float, poll: float) -> None:
    """SIGTERM, wait up to `timeout` while `is_ours(pid)` (the pid may be reused), then SIGKILL."""
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and is_ours(pid):
        reap(pid)
        time.sleep(poll)
    if is_ours(pid):
        os.kill(pid, signal.SIGKILL)
        time.sleep(poll * 2)
        reap(pid)
