"""Notifications from a real correlation cycle (`mcpeeker correlate --once --notify-config`), and the crash test:
the correlator is SIGKILLed while a notification is in flight, restarted, and every notification arrives."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from mcpeeker.settings import Settings
from mcpeeker.timeutil import iso, utcnow

from .conftest import Hook

pytestmark = pytest.mark.opensearch


def agent_report(n: int) -> dict[str, Any]:
    """A scan report as mcpeeker-agent writes it: an MCP server process listening on port 8000 of host n."""
    host_id = hashlib.sha256(f"notify-test-host-{n}".encode()).hexdigest()
    return {
        "schema": "mcpeeker.agent/1",
        "host_id": host_id,
        "timestamp": iso(utcnow()),
        "local_score": 22,
        "agent": {"version": "0.1.0"},
        "host": {"os": "linux", "ips": ["127.0.0.1", f"10.30.0.{n + 10}"], "listening_ports": [8000]},
        "evidence": [
            {
                "type": "process",
                "score": 11,
                "reason": "FastMCP server by command line",
                "process": {
                    "pid": 4242,
                    "ppid": 1,
                    "name": "python3",
                    "cmdline": "python3 -m notes",
                    "matched": "fastmcp",
                },
            },
            {
                "type": "listener",
                "score": 11,
                "reason": "listener owned by an MCP server process",
                "listener": {"ip": "0.0.0.0", "port": 8000, "pid": 4242, "transport": "tcp"},
            },
        ],
    }


def command(settings: Settings, *args: str) -> list[str]:
    return [sys.executable, "-m", "mcpeeker.cli", *args, "--url", settings.url, "--index-prefix", settings.index_prefix]


def env(settings: Settings, state: Path) -> dict[str, str]:
    return {
        "MCPEEKER_SITE_KEY": settings.site_key or "",
        "MCPEEKER_AUDIT_KEY": settings.audit_key or "",
        "MCPEEKER_IDENTITY": "admin",
        "MCPEEKER_STATE_DIR": str(state),
        "PATH": "/usr/bin:/bin",
        "HOME": str(Path.home()),
    }


def correlate_once(settings: Settings, config: Path, state: Path) -> subprocess.CompletedProcess[str]:
    """`mcpeeker correlate --once --notify-config CONFIG`, its output captured as text."""
    return subprocess.run(
        command(settings, "correlate", "--once", "--notify-config", str(config)),
        capture_output=True,
        text=True,
        env=env(settings, state),
    )


def ingest_hosts(settings: Settings, tmp_path: Path, hosts: int) -> None:
    report = tmp_path / "reports.ndjson"
    report.write_text("".join(json.dumps(agent_report(n)) + "\n" for n in range(hosts)))
    result = subprocess.run(
        command(settings, "ingest", "agent", str(report), "--no-progress", "--dead-letter", str(tmp_path / "dead.log")),
        capture_output=True,
        text=True,
        env=env(settings, tmp_path / "state"),
    )
    assert result.returncode == 0, result.stdout + result.stderr


def notify_config(tmp_path: Path, hook: Hook) -> Path:
    key = tmp_path / "hook.key"
    key.write_bytes(hook.key)
    key.chmod(0o600)
    config = tmp_path / "notify.yaml"
    config.write_text(
        "enabled: true\n"
        "channels:\n"
        "  soc:\n"
        "    type: webhook\n"
        f"    url: {hook.url}\n"
        "    key_file: hook.key\n"  # relative to the config file
        "    timeout: 60\n"
        "    route: {events: [new_unauthorized], classifications: [unauthorized]}\n"
    )
    return config


def test_correlation_cycle_notifies_the_unauthorized_server(os_settings: Settings, hook: Hook, tmp_path: Path) -> None:
    ingest_hosts(os_settings, tmp_path, 1)
    config = notify_config(tmp_path, hook)
    run = correlate_once(os_settings, config, tmp_path / "state")
    assert run.returncode == 0, run.stderr
    assert "notify: 1 finding(s) read, 1 event(s)" in run.stderr and "1 sent" in run.stderr
    [request] = hook.wait(1)
    assert request["signed"]
    body = request["json"]
    assert body["kind"] == "new_unauthorized" and body["finding"]["classification"] == "unauthorized"
    assert body["finding"]["summary"].startswith("Unregistered MCP server")
    # The next cycle has nothing new to say.
    again = correlate_once(os_settings, config, tmp_path / "state")
    assert again.returncode == 0 and "0 sent" in again.stderr and len(hook.requests) == 1


def test_sigkill_mid_delivery_then_restart_delivers_everything_once(
    os_settings: Settings, hook: Hook, tmp_path: Path
) -> None:
    hosts = 6
    ingest_hosts(os_settings, tmp_path, hosts)
    config = notify_config(tmp_path, hook)
    hook.delay_on, hook.delay = {3}, 60.0  # the third notification is received but not yet acknowledged
    first = subprocess.Popen(
        command(os_settings, "correlate", "--once", "--notify-config", str(config)),
        env=env(os_settings, tmp_path / "state"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 120
    while len(hook.requests) < 3:
        assert first.poll() is None, first.stderr.read() if first.stderr else ""
        assert time.monotonic() < deadline, "the correlator sent fewer than 3 notifications"
        time.sleep(0.05)
    os.kill(first.pid, signal.SIGKILL)
    assert first.wait(10) == -signal.SIGKILL
    in_flight = hook.requests[2]["delivery"]
    assert len(hook.requests) == 3

    restart = correlate_once(os_settings, config, tmp_path / "state")
    assert restart.returncode == 0, restart.stderr
    deliveries = [r["delivery"] for r in hook.requests]
    assert len(set(deliveries)) == hosts and all(d.endswith(":new_unauthorized:1") for d in deliveries)
    assert all(r["signed"] for r in hook.requests)
    # At-least-once: only the message in flight at the kill is sent again, under the same delivery id (a receiver
    # drops it by X-MCPeeker-Delivery); everything acknowledged before the kill is not repeated.
    repeated = {d for d in deliveries if deliveries.count(d) > 1}
    assert repeated == {in_flight} and deliveries.count(in_flight) == 2 and len(deliveries) == hosts + 1
    # Restarted again: nothing left, nothing repeated.
    final = correlate_once(os_settings, config, tmp_path / "state")
    assert final.returncode == 0 and len(hook.requests) == hosts + 1


def test_dead_letter_counter_on_the_correlators_metrics(os_settings: Settings, hook: Hook, tmp_path: Path) -> None:
    import urllib.request

    from .conftest import free_port

    ingest_hosts(os_settings, tmp_path, 1)
    config = notify_config(tmp_path, hook)
    hook.mode = "reject"
    port = free_port()
    service = subprocess.Popen(
        command(os_settings, "correlate", "--every", "1s", "--metrics-port", str(port), "--notify-config", str(config)),
        env=env(os_settings, tmp_path / "state"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wanted = 'mcpeeker_notifications_dead_lettered_total{channel="soc"} 1.0'
    metrics = ""
    try:
        deadline = time.monotonic() + 60
        while wanted not in metrics and time.monotonic() < deadline:
            time.sleep(0.5)
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
                    metrics = response.read().decode()
            except OSError:
                continue
    finally:
        service.terminate()
        service.wait(20)
    assert wanted in metrics, metrics[-2000:]
    assert len(hook.requests) == 1  # dead-lettered once, not retried every cycle
    [reason] = (tmp_path / "state").glob("notify/*/dead/soc/*.reason")
    assert "permanent failure" in reason.read_text() and "HTTP 400" in reason.read_text()
