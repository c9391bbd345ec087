"""`mcpeeker registry push` against a running Zeek: approvals in the registry (real OpenSearch) reach Zeek's
MCP::known_mcp_hosts without a restart, over Broker and through the Config-framework file.

Zeek replays real MCP traffic in pseudo-realtime: every second a session of the Python SDK's Streamable HTTP
server at 10.20.0.3:8000 (mcp2025_py_streamable_sse.pcap) and, half a second later, one of another server,
10.20.0.9:8000 (mcp2025_py_streamable_json_stateless.pcap); copies of the captures shifted in time, nothing
else changed. The harness makes every session a fresh chance for MCP::Server_Detected (no notice suppression,
servers forgotten between sessions) and writes what Zeek does, in order and unbuffered, to events.txt:

    seen      <time> <server>   MCP::server_seen (a detection opportunity)
    detected  <time> <server>   MCP::Server_Detected raised
    hosts     <time> <set>      MCP::known_mcp_hosts changed

The times there are Zeek's (pseudo-realtime runs them behind the wall clock when Zeek lags), so latencies are
measured on the test's side: from the start of the push command to the moment the test reads the change,
polling the file every 20 ms.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import dpkt
import pytest
from mcpeeker.client import make_client
from mcpeeker.registry.push import (
    ApprovedHosts,
    PushError,
    approved_hosts,
    config_file_text,
    load_broker,
    write_config_file,
)
from mcpeeker.registry.store import Registry
from mcpeeker.roles import Actor
from mcpeeker.settings import Settings
from mcpeeker.timeutil import utcnow
from paths import PCAP_DIR, REPO_ROOT, missing, require_zeek

PACKAGE = REPO_ROOT / "zeek" / "scripts"
TARGET, CONTROL = "10.20.0.3", "10.20.0.9"
ADMIN = Actor("admin", "admin")
WITHIN = 10.0  # seconds from a push to its effect on MCP::Server_Detected


def live_zeek(test):
    """A test against a running Zeek (tests/paths.require_zeek: skipped without Zeek, failed under CI) and the
    registry on the local OpenSearch node."""
    for mark in (pytest.mark.zeek, pytest.mark.opensearch, pytest.mark.slow, pytest.mark.usefixtures("zeek_bin")):
        test = mark(test)
    return test


ZEEK: list[str] = []  # the zeek binary, set by the zeek_bin fixture


@pytest.fixture
def zeek_bin() -> Path:
    zeek = require_zeek()
    ZEEK[:] = [str(zeek)]
    return zeek


HARNESS = r"""
# Test harness: every MCP session is a fresh chance for MCP::Server_Detected.
redef MCP::server_notice_suppression = 0secs;
redef MCP::server_expire = 300msec;
redef table_expire_interval = 100msec;

global events = open("events.txt");

function hosts_changed(ID: string, new_value: set[addr], location: string): set[addr]
	{
	local hosts: vector of string;
	for ( h in new_value )
		hosts += cat(h);
	sort(hosts, strcmp);
	print events, fmt("hosts %.6f %s", current_time(), join_string_vec(hosts, ","));
	return new_value;
	}

event zeek_init()
	{
	set_buf(events, F);
	Option::set_change_handler("MCP::known_mcp_hosts", hosts_changed, -100);
	}

event MCP::server_seen(c: connection, rec: MCP::Info) &priority=10
	{
	print events, fmt("seen %.6f %s", current_time(), c$id$resp_h);
	}

hook Notice::notice(n: Notice::Info) &priority=10
	{
	if ( n$note == MCP::Server_Detected )
		print events, fmt("detected %.6f %s", current_time(), n$dst);
	}
"""


@dataclass(frozen=True)
class Event:
    kind: str
    at: float
    what: str


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def timeline_pcap(path: Path, seconds: int) -> Path:
    """Copies of two real captures, one every second each, shifted in time (packets unchanged)."""
    packets, linktype = [], None
    for name, offset in (("mcp2025_py_streamable_sse.pcap", 0.0), ("mcp2025_py_streamable_json_stateless.pcap", 0.5)):
        with open(PCAP_DIR / name, "rb") as handle:
            reader = dpkt.pcap.Reader(handle)
            linktype = reader.datalink()
            source = [(ts, bytes(buf)) for ts, buf in reader]
        start = source[0][0]
        for copy in range(seconds):
            packets += [(1_800_000_000.0 + copy + offset + (ts - start), buf) for ts, buf in source]
    packets.sort(key=lambda p: p[0])
    with open(path, "wb") as handle:
        writer = dpkt.pcap.Writer(handle, snaplen=65535, linktype=linktype)
        for ts, buf in packets:
            writer.writepkt(buf, ts)
    return path


class LiveZeek:
    """Zeek replaying the timeline in pseudo-realtime with the package and the harness."""

    def __init__(self, workdir: Path, extra: list[str], harness_extra: str = "") -> None:
        workdir.mkdir(parents=True, exist_ok=True)
        self.workdir = workdir
        (workdir / "harness.zeek").write_text(HARNESS + harness_extra)
        pcap = timeline_pcap(workdir / "timeline.pcap", 90)
        with open(workdir / "zeek.stdout", "w") as stdout, open(workdir / "zeek.stderr", "w") as stderr:
            self.proc = subprocess.Popen(
                [*ZEEK, "-C", "-r", str(pcap), "--pseudo-realtime", str(PACKAGE), "harness.zeek", *extra],
                cwd=workdir,
                stdout=stdout,
                stderr=stderr,
            )

    def events(self) -> list[Event]:
        path = self.workdir / "events.txt"
        if not path.exists():
            return []
        out = []
        for line in path.read_text().splitlines():
            parts = line.split(" ", 2)
            if len(parts) == 3 or (len(parts) == 2 and parts[0] == "hosts"):
                out.append(Event(parts[0], float(parts[1]), parts[2] if len(parts) == 3 else ""))
        return out

    def wait_for(self, predicate, what: str, timeout: float = 30.0) -> tuple[Event, float]:
        """The first event matching `predicate`, and the wall-clock time at which the test read it."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            for event in self.events():
                if predicate(event):
                    return event, time.time()
            if self.proc.poll() is not None:
                break
            time.sleep(0.02)
        raise AssertionError(
            f"no {what} within {timeout:g}s; zeek exit={self.proc.poll()} "
            f"stderr={(self.workdir / 'zeek.stderr').read_text()[-2000:]!r} "
            f"events={self.events()[-12:]}"
        )

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


def cli(settings: Settings, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "MCPEEKER_IDENTITY": "admin"}
    result = subprocess.run(
        [sys.executable, "-m", "mcpeeker.cli", *args, "--url", settings.url, "--index-prefix", settings.index_prefix],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, f"mcpeeker {' '.join(args)}: {result.stdout}{result.stderr}"
    return result


def registry_with_entries(settings: Settings) -> tuple[Registry, str]:
    """The target server's entry (pending), another approved server, a fleet-wide name and a pending control."""
    registry = Registry(settings, make_client(settings), ADMIN)
    target = registry.add(
        {"owner": "alice", "team": "notes", "purpose": "notes assistant", "server": {"ip": TARGET, "port": 8000}}
    )
    other = registry.add({"owner": "bob", "purpose": "wiki", "host": {"ip": "10.20.0.77"}})
    registry.apply(other["entry_id"], "approve")
    named = registry.add({"owner": "carol", "purpose": "fleet tool", "server": {"name": "fleet-helper"}})
    registry.apply(named["entry_id"], "approve")
    registry.add({"owner": "dave", "purpose": "not yet", "server": {"ip": CONTROL, "port": 8000}})
    return registry, target["entry_id"]


def after(events: list[Event], marker: Event) -> list[Event]:
    return events[events.index(marker) + 1 :]


def run_approve_revoke(
    zeek: LiveZeek, settings: Settings, registry: Registry, entry_id: str, push: list[str], label: str
) -> dict[str, float]:
    """Approve, push, check Server_Detected stops for TARGET; revoke, push, check it is back. Returns latencies."""
    zeek.wait_for(lambda e: e.kind == "detected" and e.what == TARGET, f"{TARGET} detected before approval")

    cli(settings, "registry", "approve", entry_id, "--note", "approved for the push test")
    pushed = time.time()
    out = cli(settings, "registry", "push", *push).stdout
    approved, approved_read = zeek.wait_for(
        lambda e: e.kind == "hosts" and TARGET in e.what.split(","), "approval in Zeek"
    )
    assert approved.what == f"{TARGET},10.20.0.77", approved.what  # the full set (sorted as strings)
    assert "fleet-helper" not in out and "not pushed, no IP address" in out, out
    assert "approve one port" in out, out

    # Sessions of the target after the change are seen but not reported; the control server still is.
    # The replayed sessions of the two servers interleave: wait for both, not for whichever comes first.
    deadline = time.time() + 15
    while True:
        later = after(zeek.events(), approved)
        target_seen = sum(1 for e in later if e.kind == "seen" and e.what == TARGET)
        control_reported = any(e.kind == "detected" and e.what == CONTROL for e in later)
        if target_seen >= 2 and control_reported:
            break
        assert time.time() < deadline, (
            f"after the approval: {target_seen} sessions of {TARGET} seen, control "
            f"server reported: {control_reported}: {zeek.events()[-12:]}"
        )
        time.sleep(0.1)
    assert not [e for e in later if e.kind == "detected" and e.what == TARGET], later

    cli(settings, "registry", "revoke", entry_id, "--note", "revoked for the push test")
    pushed_again = time.time()
    out_again = cli(settings, "registry", "push", *push).stdout
    revoked, revoked_read = zeek.wait_for(
        lambda e: e in after(zeek.events(), approved) and e.kind == "hosts" and TARGET not in e.what.split(","),
        "revocation in Zeek",
    )
    assert revoked.what == "10.20.0.77", revoked.what
    _, back_read = zeek.wait_for(
        lambda e: e in after(zeek.events(), revoked) and e.kind == "detected" and e.what == TARGET,
        f"{TARGET} detected again after revocation",
        timeout=WITHIN,
    )
    latencies = {
        "approve": approved_read - pushed,
        "revoke": revoked_read - pushed_again,
        "detected_again": back_read - pushed_again,
    }
    assert latencies["approve"] < WITHIN and latencies["detected_again"] < WITHIN, latencies
    acks = [line.rsplit(" in ", 1)[-1] for line in (out + out_again).splitlines() if " applied " in line]
    print(
        f"\n{label}: push-to-effect latency (push command start -> change read from Zeek): approve "
        f"{latencies['approve'] * 1000:.0f} ms, revoke {latencies['revoke'] * 1000:.0f} ms; Server_Detected "
        f"back {latencies['detected_again']:.2f} s after the revoking push"
        + (f"; Broker publish -> Zeek's answer: {', '.join(acks)}" if acks else "")
    )
    return latencies


@live_zeek
def test_broker_push_reaches_running_zeek(os_settings: Settings, tmp_path: Path) -> None:
    try:
        load_broker()
    except PushError as exc:
        missing(str(exc))
    registry, entry_id = registry_with_entries(os_settings)
    port = free_port()
    zeek = LiveZeek(tmp_path / "zeek", ["MCP::registry_listen=127.0.0.1", f"MCP::registry_port={port}/tcp"])
    try:
        latencies = run_approve_revoke(
            zeek, os_settings, registry, entry_id, ["--broker", f"127.0.0.1:{port}"], "Broker push"
        )
    finally:
        zeek.stop()
    config_log = (tmp_path / "zeek" / "config.log").read_text()
    assert "MCP::known_mcp_hosts" in config_log and "registry push" in config_log
    assert latencies["approve"] < 5.0


@live_zeek
def test_file_push_reaches_running_zeek(os_settings: Settings, tmp_path: Path) -> None:
    registry, entry_id = registry_with_entries(os_settings)
    hosts_file = tmp_path / "etc" / "known-mcp-hosts.dat"
    cli(os_settings, "registry", "push", "--file", str(hosts_file))  # as a cron job would, before Zeek starts
    assert hosts_file.read_text().splitlines()[-1] == "MCP::known_mcp_hosts 10.20.0.77"
    zeek = LiveZeek(tmp_path / "zeek", [], f'\nredef Config::config_files += {{ "{hosts_file}" }};\n')
    try:
        run_approve_revoke(zeek, os_settings, registry, entry_id, ["--file", str(hosts_file)], "File push")
    finally:
        zeek.stop()
    assert not list(hosts_file.parent.glob(".*.tmp")), "the atomic write leaves no temporary file"


def test_approved_hosts_and_config_file(tmp_path: Path) -> None:
    now = utcnow()
    future, past = "2999-01-01T00:00:00Z", "2000-01-01T00:00:00Z"
    entries = [
        {"entry_id": "a", "status": "approved", "expires": future, "server": {"ip": "10.0.0.2", "port": 8000}},
        {"entry_id": "b", "status": "approved", "expires": future, "host": {"ip": "10.0.0.1"}},
        {"entry_id": "c", "status": "approved", "expires": future, "server": {"url": "http://[2001:db8::5]:3000/mcp"}},
        {"entry_id": "d", "status": "approved", "expires": future, "server": {"url": "https://docs.corp.example:443/"}},
        {"entry_id": "e", "status": "approved", "expires": past, "server": {"ip": "10.0.0.3"}},
        {"entry_id": "f", "status": "revoked", "expires": future, "server": {"ip": "10.0.0.4"}},
        {"entry_id": "g", "status": "pending", "expires": future, "server": {"ip": "10.0.0.5"}},
        {
            "entry_id": "h",
            "status": "approved",
            "expires": future,
            "server": {"ip": "10.0.0.2"},
            "host": {"ip": "10.0.0.9"},
        },
    ]
    approved = approved_hosts(entries, now)
    assert [str(a) for a in approved.addresses] == ["10.0.0.1", "10.0.0.2", "2001:db8::5"]
    assert approved.port_scoped == ("a", "c") and approved.without_address == ("d",)
    assert config_file_text(approved.addresses).splitlines()[-1] == "MCP::known_mcp_hosts 10.0.0.1,10.0.0.2,2001:db8::5"
    assert config_file_text(ApprovedHosts(()).addresses).splitlines()[-1] == "MCP::known_mcp_hosts "

    # Two writes within one second: the second file's time is still later, so Zeek's reader sees it.
    target = tmp_path / "known.dat"
    write_config_file(target, approved.addresses)
    first = target.stat().st_mtime
    write_config_file(target, ())
    assert int(target.stat().st_mtime) > int(first)
    assert target.read_text().endswith("MCP::known_mcp_hosts \n")


def test_broker_problems_are_named(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from mcpeeker.registry import push

    monkeypatch.setitem(sys.modules, "broker", None)  # `import broker` fails, as without the bindings
    monkeypatch.setenv("MCPEEKER_ZEEK", "none")
    monkeypatch.setenv(push.BROKER_PYTHON_ENV, str(tmp_path / "nowhere"))
    monkeypatch.setattr(push, "DEFAULT_BROKER_PYTHON", tmp_path / "nowhere-either")
    with pytest.raises(PushError, match=f"set {push.BROKER_PYTHON_ENV} to the directory holding them"):
        load_broker()
    monkeypatch.undo()

    try:
        broker = load_broker()
    except PushError as exc:
        missing(str(exc))
    with pytest.raises(PushError, match=f"cannot reach Zeek's Broker endpoint at 127.0.0.1:{(port := free_port())}"):
        push.push_broker("127.0.0.1", port, (), timeout=2.0, broker=broker)
