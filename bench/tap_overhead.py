"""Latency and CPU the stdio tap adds (`mcpeeker-agent tap`, recording on).

A line-echo server answers each newline-delimited JSON-RPC message; the client sends one message, waits for its
echo, N times, first straight to the server, then through the tap. Prints round-trip p50/p95 both ways, the added
latency per message and the tap's CPU per 10 000 messages (its own process, recording included).

    .venv/bin/python bench/tap_overhead.py [--messages 10000] [--size 512]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

ECHO = "import sys\nfor line in sys.stdin.buffer:\n    sys.stdout.buffer.write(line); sys.stdout.buffer.flush()\n"


def message(i: int, size: int) -> bytes:
    body = {"jsonrpc": "2.0", "id": i, "method": "tools/call", "params": {"name": "echo", "arguments": {}}}
    body["params"]["arguments"] = {"text": "x" * max(0, size - len(json.dumps(body)) - 12)}  # type: ignore[index]
    return json.dumps(body).encode() + b"\n"


def run(argv: list[str], n: int, size: int) -> tuple[list[float], float]:
    """Round trips in seconds, and the CPU seconds of the first process (the tap, or the echo server)."""
    proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE)  # buffered reads, flushed writes
    assert proc.stdin is not None and proc.stdout is not None
    me = psutil.Process(proc.pid)
    msgs = [message(i, size) for i in range(n)]
    for m in msgs[: min(200, n // 10)]:  # warm-up
        proc.stdin.write(m)
        proc.stdin.flush()
        proc.stdout.readline()
    cpu0 = sum(me.cpu_times()[:2])
    rtts = []
    for m in msgs:
        t0 = time.perf_counter()
        proc.stdin.write(m)
        proc.stdin.flush()
        line = proc.stdout.readline()
        rtts.append(time.perf_counter() - t0)
        assert line == m
    cpu = sum(me.cpu_times()[:2]) - cpu0
    proc.stdin.close()
    proc.wait(30)
    return rtts, cpu


def pct(values: list[float], p: float) -> float:
    return statistics.quantiles(values, n=100)[int(p) - 1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--messages", type=int, default=10_000)
    ap.add_argument("--size", type=int, default=512, help="bytes per message")
    a = ap.parse_args()
    echo = [sys.executable, "-c", ECHO]
    with tempfile.TemporaryDirectory() as tmp:
        key = Path(tmp) / "site.key"
        key.write_text("bench-site-key-0123456789abcdef")
        os.chmod(key, 0o600)
        tap = [sys.executable, "-m", "mcpeeker_agent.cli", "tap", "--client", "bench", "--server", "echo"]
        tap += ["-o", f"{tmp}/ev.ndjson", "--tools-state", f"{tmp}/tools.json", "--log", f"{tmp}/tap.log"]
        tap += ["--site-key-file", str(key), "--", *echo]
        direct, _ = run(echo, a.messages, a.size)
        tapped, tap_cpu = run(tap, a.messages, a.size)
    ms = 1000.0
    print(f"messages {a.messages} x {a.size} B, one in flight")
    print(f"direct   RTT p50 {pct(direct, 50) * ms:.3f} ms  p95 {pct(direct, 95) * ms:.3f} ms")
    print(f"via tap  RTT p50 {pct(tapped, 50) * ms:.3f} ms  p95 {pct(tapped, 95) * ms:.3f} ms")
    print(
        f"added    p50 {(pct(tapped, 50) - pct(direct, 50)) * ms:.3f} ms  "
        f"p95 {(pct(tapped, 95) - pct(direct, 95)) * ms:.3f} ms per round trip (two messages through the tap)"
    )
    print(f"tap CPU  {tap_cpu / a.messages * 10_000:.2f} s per 10 000 round trips (user+sys, recording on)")


if __name__ == "__main__":
    main()
