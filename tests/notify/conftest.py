"""Real receivers on loopback for the notification channels: Debian's rsyslog (UDP, TCP and TLS with the gtls
driver), aiosmtpd with STARTTLS, and an HTTP receiver that verifies the HMAC signature and can fail on purpose."""

from __future__ import annotations

import hashlib
import hmac
import json
import shutil
import socket
import ssl
import subprocess
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Iterator

import pytest

from mcpeeker.localnode import certs


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A test CA and a server certificate for 127.0.0.1/localhost (the project's own certificate builder)."""
    base = tmp_path_factory.mktemp("notify-pki")
    ca = certs.create_ca(base, "MCPeeker notify test CA")
    server = certs.write_pair(base, "server", *certs.issue(ca, "localhost", hosts=["127.0.0.1", "localhost"]))
    return {"ca": ca.cert, "cert": server.cert, "key": server.key}


# --- rsyslog --------------------------------------------------------------------------------------------------------
@dataclass
class Rsyslog:
    directory: Path
    udp: int
    tcp: int
    tls: int

    def lines(self, transport: str) -> list[str]:
        path = self.directory / f"{transport}.log"
        return path.read_text(encoding="utf-8").splitlines() if path.exists() else []

    def wait_lines(self, transport: str, count: int, timeout: float = 15.0) -> list[str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            lines = self.lines(transport)
            if len(lines) >= count:
                return lines
            time.sleep(0.1)
        raise AssertionError(f"rsyslog wrote {self.lines(transport)!r} to {transport}.log, expected {count} line(s)")


RSYSLOG_CONF = """
global(workDirectory="{dir}/work"
       defaultNetstreamDriverCAFile="{ca}" defaultNetstreamDriverCertFile="{cert}"
       defaultNetstreamDriverKeyFile="{key}")
module(load="imudp")
module(load="imtcp" maxSessions="50")
# What rsyslog parsed (RFC 5424 fields), one line per message, so the tests read the receiver's view.
template(name="parsed" type="list") {{
  property(name="protocol-version") constant(value="|")
  property(name="app-name") constant(value="|")
  property(name="msgid") constant(value="|")
  property(name="syslogseverity") constant(value="|")
  property(name="msg" droplastlf="on") constant(value="\\n")
}}
ruleset(name="udp") {{ action(type="omfile" file="{dir}/udp.log" template="parsed") }}
ruleset(name="tcp") {{ action(type="omfile" file="{dir}/tcp.log" template="parsed") }}
ruleset(name="tls") {{ action(type="omfile" file="{dir}/tls.log" template="parsed") }}
input(type="imudp" address="127.0.0.1" port="{udp}" ruleset="udp")
input(type="imtcp" address="127.0.0.1" port="{tcp}" ruleset="tcp")
input(type="imtcp" address="127.0.0.1" port="{tls}" ruleset="tls"
      streamDriver.name="gtls" streamDriver.mode="1" streamDriver.authMode="anon")
"""


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


@pytest.fixture(scope="session")
def rsyslog(tmp_path_factory: pytest.TempPathFactory, pki: dict[str, Path]) -> Iterator[Rsyslog]:
    binary = shutil.which("rsyslogd") or "/usr/sbin/rsyslogd"
    if not Path(binary).exists():
        pytest.fail("rsyslogd is not installed (make debs installs rsyslog and rsyslog-gnutls)")
    base = tmp_path_factory.mktemp("rsyslog")
    (base / "work").mkdir()
    receiver = Rsyslog(base, free_port(socket.SOCK_DGRAM), free_port(), free_port())
    conf = base / "rsyslog.conf"
    conf.write_text(
        RSYSLOG_CONF.format(
            dir=base,
            ca=pki["ca"],
            cert=pki["cert"],
            key=pki["key"],
            udp=receiver.udp,
            tcp=receiver.tcp,
            tls=receiver.tls,
        )
    )
    check = subprocess.run([binary, "-N1", "-f", str(conf)], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    log = open(base / "rsyslogd.out", "w")
    process = subprocess.Popen(
        [binary, "-n", "-f", str(conf), "-i", str(base / "rsyslogd.pid")], stdout=log, stderr=subprocess.STDOUT
    )
    try:
        deadline = time.monotonic() + 20
        while not (_listening(receiver.tcp) and _listening(receiver.tls)):
            if process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"rsyslogd did not start: {(base / 'rsyslogd.out').read_text()}")
            time.sleep(0.1)
        yield receiver
    finally:
        process.terminate()
        process.wait(10)
        log.close()


# --- SMTP -----------------------------------------------------------------------------------------------------------
@dataclass
class Mailbox:
    port: int
    messages: list[dict[str, Any]] = field(default_factory=list)

    def wait(self, count: int, timeout: float = 10.0) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while len(self.messages) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(self.messages) >= count, self.messages
        return self.messages


@pytest.fixture
def smtp(pki: dict[str, Path]) -> Iterator[Mailbox]:
    """aiosmtpd that requires STARTTLS before MAIL FROM, with the test CA's server certificate."""
    from aiosmtpd.controller import Controller

    mailbox = Mailbox(free_port())

    class Handler:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 (aiosmtpd API)
            mailbox.messages.append(
                {
                    "from": envelope.mail_from,
                    "to": list(envelope.rcpt_tos),
                    "data": envelope.original_content or envelope.content,
                    "tls": session.ssl is not None,
                }
            )
            return "250 OK"

    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(str(pki["cert"]), str(pki["key"]))
    controller = Controller(
        Handler(), hostname="127.0.0.1", port=mailbox.port, tls_context=context, require_starttls=True
    )
    controller.start()
    try:
        yield mailbox
    finally:
        controller.stop()


# --- HTTP -----------------------------------------------------------------------------------------------------------
@dataclass
class Hook:
    port: int
    key: bytes
    requests: list[dict[str, Any]] = field(default_factory=list)
    mode: str = "ok"  # ok | reject (400) | unavailable (503)
    delay_on: set[int] = field(default_factory=set)  # 1-based request numbers answered only after `delay` seconds
    delay: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def bodies(self, path: str | None = None) -> list[dict[str, Any]]:
        return [r["json"] for r in self.requests if path is None or r["path"] == path]

    def wait(self, count: int, timeout: float = 15.0) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while len(self.requests) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(self.requests) >= count, self.requests
        return self.requests


@pytest.fixture
def hook() -> Iterator[Hook]:
    """A webhook receiver that checks X-MCPeeker-Signature (HMAC-SHA256 of "<timestamp>.<body>")."""
    state = Hook(free_port(), b"hook-key-" + hashlib.sha256(str(time.time_ns()).encode()).hexdigest().encode())

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server API)
            body = self.rfile.read(int(self.headers["Content-Length"]))
            stamp = self.headers.get("X-MCPeeker-Timestamp", "")
            expected = "sha256=" + hmac.new(state.key, stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
            signature = self.headers.get("X-MCPeeker-Signature", "")
            with state.lock:
                number = len(state.requests) + 1
                state.requests.append(
                    {
                        "json": json.loads(body),
                        "signed": hmac.compare_digest(signature, expected),
                        "delivery": self.headers.get("X-MCPeeker-Delivery"),
                        "path": self.path,
                        "at": time.time(),
                    }
                )
            if number in state.delay_on:
                time.sleep(state.delay)
            status = {"ok": 204, "reject": 400, "unavailable": 503}[state.mode]
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", state.port), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
