"""Stopping a process the local node started (OpenSearch itself, its stunnel TLS front)."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from typing import Callable


def read_pid(pid_file: Path) -> int | None:
    try:
        return int(pid_file.read_text().strip())
    except (OSError, ValueError):
        return None


def cmdline(pid: int) -> list[bytes]:
    """The process's arguments; empty when it is gone (callers match on them to guard against pid reuse)."""
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return []


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


def stop_recorded(pid_file: Path, is_ours: Callable[[int], bool], timeout: float, poll: float) -> bool:
    """Stop the process `pid_file` names if it is still ours; True when one was stopped. The pid file goes."""
    pid = read_pid(pid_file)
    if pid is not None and is_ours(pid):
        terminate(pid, is_ours, timeout, poll)
        pid_file.unlink(missing_ok=True)
        return True
    pid_file.unlink(missing_ok=True)
    return False
