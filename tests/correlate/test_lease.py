"""One correlator at a time (mcpeeker.correlate.lease): a lease document in the state index with optimistic
concurrency. Library: exactly one of racing correlators wins, a live owner keeps it, an expired one is taken over.
Processes: a second `correlate --every` waits and says so, and takes over within one lease period of the first
being killed with SIGKILL."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import IO

from mcpeeker.client import make_client
from mcpeeker.correlate.lease import LEASE_ID, Lease
from mcpeeker.settings import Settings


class Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


def test_one_owner_renewal_expiry_and_release(store_settings: Settings) -> None:
    client = make_client(store_settings)
    clock = Clock()
    first = Lease(client, store_settings, 30.0, owner="first", clock=clock)
    second = Lease(client, store_settings, 30.0, owner="second", clock=clock)

    assert first.acquire().held and first.held
    refused = second.acquire()
    assert not refused.held and refused.owner == "first" and refused.expires_at == clock.now + 30.0
    clock.now += 20.0
    assert first.acquire().held  # renewed: 30 s from now again
    clock.now += 20.0
    assert not second.acquire().held  # 40 s after the first took it, but 20 s after its renewal
    clock.now += 11.0  # the first stopped renewing: expired
    taken = second.acquire()
    assert taken.held and taken.owner == "second"
    assert not first.acquire().held and not first.held  # the old owner does not get it back
    second.release()
    assert client.get(index=store_settings.index("mcp-state"), id=LEASE_ID, ignore=[404])["found"] is False
    assert first.acquire().held
    first.release()


def test_racing_correlators_one_winner(store_settings: Settings) -> None:
    """Ten correlators read the same free lease and write at once: seq_no/primary_term lets exactly one win."""
    client = make_client(store_settings)
    leases = [Lease(client, store_settings, 30.0, owner=f"c{n}") for n in range(10)]
    barrier = threading.Barrier(len(leases))

    def race(lease: Lease) -> bool:
        barrier.wait()
        return lease.acquire().held

    with ThreadPoolExecutor(len(leases)) as pool:
        winners = [lease.owner for lease, won in zip(leases, pool.map(race, leases)) if won]
    assert len(winners) == 1
    stored = client.get(index=store_settings.index("mcp-state"), id=LEASE_ID)["_source"]["value"]
    assert stored["owner"] == winners[0]


def _correlator(settings: Settings, state: Path) -> subprocess.Popen[str]:
    env = {
        "MCPEEKER_SITE_KEY": settings.site_key or "",
        "MCPEEKER_AUDIT_KEY": settings.audit_key or "",
        "MCPEEKER_IDENTITY": "admin",
        "MCPEEKER_STATE_DIR": str(state),
        "PATH": "/usr/bin:/bin",
        "HOME": str(Path.home()),
    }
    argv = [sys.executable, "-m", "mcpeeker.cli", "correlate", "--every", "1s", "--lease", "6s", "--no-judge"]
    argv += ["--url", settings.url, "--index-prefix", settings.index_prefix]
    return subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


class Lines:
    """The stderr lines of a process, read in a thread, waited for with a deadline."""

    def __init__(self, stream: IO[str]) -> None:
        self.seen: list[str] = []
        self._queue: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, args=(stream,), daemon=True).start()

    def _read(self, stream: IO[str]) -> None:
        for line in stream:
            self._queue.put(line)

    def wait_for(self, text: str, timeout: float) -> tuple[str, float]:
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            assert left > 0, f"no line with {text!r} in {timeout}s: {self.seen}"
            try:
                line = self._queue.get(timeout=left)
            except queue.Empty:
                continue
            self.seen.append(line)
            if text in line:
                return line, time.monotonic()


def test_second_correlator_waits_then_takes_over_after_sigkill(store_settings: Settings, tmp_path: Path) -> None:
    first = _correlator(store_settings, tmp_path / "a")
    second: subprocess.Popen[str] | None = None
    try:
        assert first.stderr is not None
        first_lines = Lines(first.stderr)
        first_lines.wait_for("holding the correlation lease", 90)
        first_lines.wait_for("instance(s) touched", 60)  # it runs cycles

        second = _correlator(store_settings, tmp_path / "b")
        assert second.stderr is not None
        second_lines = Lines(second.stderr)
        waiting, _ = second_lines.wait_for("correlate: waiting", 90)
        assert f":{first.pid}:" in waiting  # names the holder (host:pid:random)
        time.sleep(3.0)  # a few of the first's cycles later, the second still only waits
        assert not any("touched" in line or "holding" in line for line in second_lines.seen)

        os.kill(first.pid, signal.SIGKILL)
        killed = time.monotonic()
        assert first.wait(10) == -signal.SIGKILL
        line, took_over = second_lines.wait_for("holding the correlation lease", 30)
        assert f"(after {waiting.split('(')[1].split(')')[0]})" in line
        # The lease (6 s) lapses at most one period after the last renewal, which preceded the kill; the waiter
        # polls every 0.6 s.
        assert took_over - killed <= 6.0 + 1.5, took_over - killed
        second_lines.wait_for("instance(s) touched", 60)

        second.send_signal(signal.SIGTERM)  # a clean stop releases the lease at once
        assert second.wait(30) == 143
        client = make_client(store_settings)
        assert client.get(index=store_settings.index("mcp-state"), id=LEASE_ID, ignore=[404])["found"] is False
    finally:
        for proc in (first, second):
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait(10)
