"""TLS (and optional mTLS) in front of the local node: Debian's stunnel with certificates from our own CA.

The node itself keeps listening on 127.0.0.1 only; stunnel accepts TLS on another loopback port and
forwards to it only after a complete handshake (and, with client certificates required, only after the
client's certificate chains to our CA). A certificate is rotated by replacing `server.pem` in one rename
and sending stunnel SIGHUP: it reloads while the listening socket and open connections stay up.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from ..errors import MCPeekerError
from .process import cmdline, read_pid, stop_recorded
from . import certs

Progress = Callable[[str], None]
RENEW_DAYS = 30  # `start --tls` renews a server certificate that expires sooner than this


@dataclass(frozen=True)
class FrontStatus:
    running: bool
    pid: int | None
    url: str
    upstream: str
    client_certs: bool
    detail: str = ""

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def stunnel_executable() -> str:
    for name in ("stunnel4", "stunnel"):
        found = shutil.which(name)
        if found:
            return found
    raise MCPeekerError(
        "`--tls` needs stunnel (Debian package stunnel4): run scripts/install-debs.sh or `apt-get install stunnel4`"
    )


class TlsFront:
    """One stunnel instance in `directory`: its CA, certificates, config, pid file and log."""

    def __init__(
        self,
        directory: Path,
        listen_port: int,
        upstream_port: int,
        require_client_certs: bool = False,
        hosts: Iterable[str] = certs.DEFAULT_HOSTS,
    ) -> None:
        self.dir = directory
        self.listen_port = listen_port
        self.upstream_port = upstream_port
        self.require_client_certs = require_client_certs
        self.hosts = tuple(hosts)
        self.ca = certs.KeyPair(directory / "ca.crt", directory / "ca.key")
        self.server_pem = directory / "server.pem"
        self.client = certs.KeyPair(directory / "client.crt", directory / "client.key")
        self.conf = directory / "stunnel.conf"
        self.pid_file = directory / "stunnel.pid"
        self.log = directory / "stunnel.log"

    STATE = "front.json"

    @classmethod
    def load(cls, directory: Path) -> TlsFront | None:
        """The front last started in `directory` (ports and mTLS as it was started), or None."""
        try:
            state = json.loads((directory / cls.STATE).read_text())
        except (OSError, ValueError):
            return None
        return cls(
            directory,
            int(state["listen_port"]),
            int(state["upstream_port"]),
            bool(state["client_certs"]),
            state.get("hosts", certs.DEFAULT_HOSTS),
        )

    def _save_state(self) -> None:
        (self.dir / self.STATE).write_text(
            json.dumps(
                {
                    "listen_port": self.listen_port,
                    "upstream_port": self.upstream_port,
                    "client_certs": self.require_client_certs,
                    "hosts": list(self.hosts),
                }
            )
            + "\n"
        )

    @property
    def url(self) -> str:
        return f"https://localhost:{self.listen_port}"

    @property
    def upstream(self) -> str:
        return f"http://127.0.0.1:{self.upstream_port}"

    # --- certificates --------------------------------------------------------------------------
    def ensure_certs(self, progress: Progress = lambda _m: None) -> None:
        """CA once; a server certificate when missing or near expiry; a client certificate for mTLS."""
        self.dir.mkdir(parents=True, exist_ok=True)
        os.chmod(self.dir, 0o700)
        if not (self.ca.cert.exists() and self.ca.key.exists()):
            certs.create_ca(self.dir)
            progress(f"created a CA in {self.ca.cert} (clients verify with --ca-certs {self.ca.cert})")
        if certs.expires_within(self.server_pem, RENEW_DAYS):
            self.install_server_cert(*certs.issue(self.ca, "localhost", hosts=self.hosts))
            progress(f"issued a server certificate for {', '.join(self.hosts)}")
        if self.require_client_certs and not (self.client.cert.exists() and self.client.key.exists()):
            certs.write_pair(self.dir, "client", *certs.issue(self.ca, "mcpeeker-client", client=True))
            progress(f"issued a client certificate {self.client.cert}")

    def install_server_cert(self, cert_pem: bytes, key_pem: bytes) -> None:
        certs.write_bundle(self.server_pem, cert_pem, key_pem)

    def rotate(self, progress: Progress = lambda _m: None, timeout: float = 10.0) -> x509.Certificate:
        """New key and certificate signed by the same CA, swapped in and reloaded without downtime."""
        self.install_server_cert(*certs.issue(self.ca, "localhost", hosts=self.hosts))
        new = certs.certificate_of(self.server_pem)
        if self.status().running:
            self.reload(timeout)
            progress(f"serving the new certificate (serial {new.serial_number:x})")
        return new

    # --- stunnel -------------------------------------------------------------------------------
    def _write_config(self) -> None:
        lines = [
            "; written by `mcpeeker opensearch start --tls`; regenerated on every start",
            "foreground = yes",
            f"pid = {self.pid_file}",
            "debug = notice",
            "[opensearch]",
            f"accept = 127.0.0.1:{self.listen_port}",
            f"connect = 127.0.0.1:{self.upstream_port}",
            f"cert = {self.server_pem}",
            "sslVersionMin = TLSv1.2",
        ]
        if self.require_client_certs:
            # verifyChain: the client's certificate must chain to our CA; no certificate, no connection.
            # TLS 1.2 here because in 1.3 the server judges the client's certificate only after the client
            # considers the handshake done and has written its request: a refusal would reach the client as
            # a reset mid-request. In 1.2 it fails inside the handshake, with an alert that names why.
            lines += [f"CAfile = {self.ca.cert}", "verifyChain = yes", "requireCert = yes", "sslVersionMax = TLSv1.2"]
        self.conf.write_text("\n".join(lines) + "\n")

    def _read_pid(self) -> int | None:
        return read_pid(self.pid_file)

    def _is_ours(self, pid: int) -> bool:
        args = cmdline(pid)
        return any(b"stunnel" in part for part in args[:1]) and str(self.conf).encode() in args

    def status(self) -> FrontStatus:
        pid = self._read_pid()
        running = pid is not None and self._is_ours(pid)
        detail = "running" if running else ("not running" if pid is None else f"not running (stale pid {pid})")
        return FrontStatus(
            running, pid if running else None, self.url, self.upstream, self.require_client_certs, detail
        )

    def start(self, timeout: float = 15.0, progress: Progress = lambda _m: None) -> FrontStatus:
        current = self.status()
        previous = TlsFront.load(self.dir)
        if current.running and previous is not None and previous.listen_port != self.listen_port:
            progress(f"TLS front moves from port {previous.listen_port} to {self.listen_port}: restarting it")
            self.stop()
            current = self.status()
        self.ensure_certs(progress)
        self._write_config()
        self._save_state()
        if current.running:
            # Same port, maybe other options (mTLS on/off): a reload applies the fresh config in place.
            progress(f"TLS front already running (pid {current.pid}); reloading its configuration")
            self.reload(timeout)
            return self.status()
        # We own the listening socket and hand it to stunnel the way systemd socket activation does
        # (fd 3, LISTEN_FDS=1, LISTEN_PID=its pid). stunnel never closes such a socket: on SIGHUP it
        # closes and re-binds the sockets it made itself, resetting connections waiting in the backlog,
        # but an inherited one stays open, so a reload refuses no connection.
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                listener.bind(("127.0.0.1", self.listen_port))
            except OSError:
                raise MCPeekerError(
                    f"port {self.listen_port} on 127.0.0.1 is taken by another process; choose another with --tls-port"
                ) from None
            listener.listen(512)
            fd = listener.fileno()
            env = {**os.environ, "LISTEN_FDS": "1"}
            env.pop("LISTEN_FDNAMES", None)
            with open(self.log, "ab") as out:
                process = subprocess.Popen(
                    ["/bin/sh", "-c", 'LISTEN_PID=$$ exec "$@"', "sh", stunnel_executable(), str(self.conf)],
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    start_new_session=True,
                    cwd=self.dir,
                    env=env,
                    pass_fds=(fd, 3),
                    preexec_fn=lambda: os.dup2(fd, 3),
                )
        finally:
            listener.close()  # stunnel holds its own copy
        self.pid_file.write_text(f"{process.pid}\n")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if process.poll() is not None:
                tail = self.log.read_text(errors="replace")[-2000:]
                raise MCPeekerError(f"stunnel exited with code {process.returncode} during start-up:\n{tail}")
            try:
                self.served_certificate()  # a complete handshake, not just a TCP accept by the kernel
            except (OSError, ssl.SSLError):
                time.sleep(0.1)
                continue
            progress(
                f"TLS front {self.url} -> {self.upstream}"
                + (" (client certificates required)" if self.require_client_certs else "")
            )
            return self.status()
        self.stop()
        raise MCPeekerError(
            f"stunnel did not complete a TLS handshake on {self.listen_port} within {timeout:.0f}s; see {self.log}"
        )

    def served_certificate(self) -> x509.Certificate:
        """The certificate the front presents right now (read from a real handshake)."""
        context = ssl.create_default_context()
        # Only reads which certificate is served; trust is what clients check, not this probe.
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        if self.client.cert.exists() and self.client.key.exists():
            context.load_cert_chain(self.client.cert, self.client.key)
        with socket.create_connection(("127.0.0.1", self.listen_port), timeout=5) as raw:
            with context.wrap_socket(raw, server_hostname="localhost") as tls:
                der = tls.getpeercert(binary_form=True)
        if der is None:
            raise MCPeekerError(f"TLS front on {self.listen_port} presented no certificate")
        return x509.load_der_x509_certificate(der)

    def reload(self, timeout: float = 10.0) -> None:
        """SIGHUP: stunnel re-reads its config and certificate; wait until the new one is served."""
        pid = self._read_pid()
        if pid is None or not self._is_ours(pid):
            raise MCPeekerError(f"the TLS front on port {self.listen_port} is not running")
        want = certs.certificate_of(self.server_pem).public_bytes(serialization.Encoding.DER)
        os.kill(pid, signal.SIGHUP)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if self.served_certificate().public_bytes(serialization.Encoding.DER) == want:
                    return
            except (OSError, ssl.SSLError):
                pass
            time.sleep(0.1)
        raise MCPeekerError(f"stunnel did not serve the new certificate within {timeout:.0f}s; see {self.log}")

    def stop(self, timeout: float = 10.0) -> bool:
        return stop_recorded(self.pid_file, self._is_ours, timeout, poll=0.1)
