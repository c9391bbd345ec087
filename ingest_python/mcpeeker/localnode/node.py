"""Start, stop and inspect the embedded single-node OpenSearch (127.0.0.1 only)."""

from __future__ import annotations

import json
import socket
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import MCPeekerError
from .assemble import Distribution, Progress, ensure_distribution, java_executable, mcpeeker_home
from .process import cmdline, read_pid, stop_recorded

LOG_CONFIG = Path(__file__).with_name("log4j2.properties")
LAUNCHER_CLASS = "McpeekerNode"


@dataclass(frozen=True)
class NodeStatus:
    running: bool
    pid: int | None
    url: str
    version: str | None = None
    health: str | None = None
    home: str = ""
    detail: str = ""

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


class LocalNode:
    """One node instance: `<base>/nodes/<name>/` holds its config, data, logs and pid file."""

    def __init__(
        self,
        name: str = "default",
        http_port: int = 9200,
        transport_port: int | None = None,
        heap: str = "512m",
        base: Path | None = None,
        settings: dict[str, str] | None = None,
        cluster: tuple[tuple[str, int], ...] = (),
        cluster_name: str = "mcpeeker-local",
    ) -> None:
        # `base` holds node homes; the assembled distribution is always the shared cache in mcpeeker_home(). Made
        # absolute: the launcher's arguments name the home, and stop/status match them to tell our process.
        self.base = (base or mcpeeker_home()).absolute()
        self.name = name
        self.http_port = http_port
        self.transport_port = transport_port or http_port + 100
        self.heap = heap
        self.settings = dict(settings or {})  # extra static node settings (opensearch.yml)
        # Members of a multi-node cluster (node name, transport port), this node included; () = single node.
        self.cluster = cluster
        self.cluster_name = cluster_name
        self.home = self.base / "nodes" / name
        self.pid_file = self.home / "node.pid"
        self.ports_file = self.home / "node.ports"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    # --- process bookkeeping -------------------------------------------------------------
    def _read_pid(self) -> int | None:
        return read_pid(self.pid_file)

    def _is_our_process(self, pid: int) -> bool:
        """True when pid is alive and is this instance's launcher (guards against pid reuse)."""
        args = cmdline(pid)
        return LAUNCHER_CLASS.encode() in args and str(self.home).encode() in args

    def _http_json(self, path: str, timeout: float = 2.0) -> dict[str, Any] | None:
        try:
            with urllib.request.urlopen(self.url + path, timeout=timeout) as response:
                body: dict[str, Any] = json.loads(response.read())
                return body
        except urllib.error.HTTPError as exc:
            # _cluster/health?wait_for_status answers 408 with the health body when the wait times out.
            try:
                return json.loads(exc.read()) if exc.code == 408 else None
            except ValueError:
                return None
        except (urllib.error.URLError, OSError, ValueError):
            return None

    def _port_taken(self, port: int) -> bool:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                return True
        return False

    # --- public API ------------------------------------------------------------------------
    def _running_port(self) -> int | None:
        try:
            return int(self.ports_file.read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def status(self) -> NodeStatus:
        pid = self._read_pid()
        if pid is None:
            return NodeStatus(False, None, self.url, home=str(self.home), detail="not running (no pid file)")
        if not self._is_our_process(pid):
            return NodeStatus(
                False,
                pid,
                self.url,
                home=str(self.home),
                detail=f"not running (stale pid file {self.pid_file}: pid {pid} is gone)",
            )
        running_port = self._running_port()
        if running_port is not None and running_port != self.http_port:
            return NodeStatus(
                True,
                pid,
                f"http://127.0.0.1:{running_port}",
                home=str(self.home),
                detail=f"running on port {running_port}, not {self.http_port}",
            )
        info = self._http_json("/")
        health = self._http_json("/_cluster/health")
        if info is None:
            return NodeStatus(True, pid, self.url, home=str(self.home), detail="process up, HTTP not answering yet")
        return NodeStatus(
            True,
            pid,
            self.url,
            version=info.get("version", {}).get("number"),
            health=(health or {}).get("status"),
            home=str(self.home),
            detail="running",
        )

    def _write_config(self) -> Path:
        config = self.home / "config"
        for sub in (config, self.home / "data", self.home / "logs"):
            sub.mkdir(parents=True, exist_ok=True)
        (config / "log4j2.properties").write_text(LOG_CONFIG.read_text())
        (config / "opensearch.yml").write_text(
            "\n".join(
                [
                    f"cluster.name: {self.cluster_name}",
                    f"node.name: mcpeeker-{self.name}",
                    f"path.data: {self.home / 'data'}",
                    f"path.logs: {self.home / 'logs'}",
                    "network.host: 127.0.0.1",
                    f"http.port: {self.http_port}",
                    f"transport.port: {self.transport_port}",
                    *self._discovery(),
                    # A laptop's disk may be fuller than the default watermarks allow; indexing must not stop.
                    "cluster.routing.allocation.disk.threshold_enabled: false",
                    "action.auto_create_index: true",
                    *(f"{key}: {value}" for key, value in self.settings.items()),
                    "",
                ]
            )
        )
        return config

    def _discovery(self) -> list[str]:
        if not self.cluster:
            return ["discovery.type: single-node"]
        seeds = ", ".join(f'"127.0.0.1:{port}"' for _, port in self.cluster)
        managers = ", ".join(f'"mcpeeker-{name}"' for name, _ in self.cluster)
        return [f"discovery.seed_hosts: [{seeds}]", f"cluster.initial_cluster_manager_nodes: [{managers}]"]

    def _command(self, dist: Distribution, config: Path) -> list[str]:
        return [
            java_executable(),
            f"-Xms{self.heap}",
            f"-Xmx{self.heap}",
            "-XX:+UseSerialGC",
            "-Djava.awt.headless=true",
            "-Dlog4j2.disable.jmx=true",
            "-Dfile.encoding=UTF-8",
            f"-Dopensearch.path.home={self.home}",
            f"-Dopensearch.path.conf={config}",
            f"-Djava.io.tmpdir={self.home / 'tmp'}",
            "-cp",
            dist.classpath,
            LAUNCHER_CLASS,
            str(self.home),
            str(config),
            f"mcpeeker-{self.name}",
        ]

    def start(self, timeout: float = 120.0, progress: Progress = lambda _msg: None, wait: bool = True) -> NodeStatus:
        """Start the node and wait until green; `wait=False` (a cluster member) returns once the process runs."""
        current = self.status()
        if current.running and current.url != self.url:
            raise MCPeekerError(
                f"node instance {self.name!r} already runs at {current.url} (pid {current.pid}); "
                f"stop it first or use that port"
            )
        if current.running:
            progress(f"reusing the running node (pid {current.pid})")
            if wait:
                self._wait_green(timeout)
            return self.status()
        if current.pid is not None:
            progress(f"removing stale pid file {self.pid_file} (pid {current.pid} is not running)")
            self.pid_file.unlink(missing_ok=True)
        for port in (self.http_port, self.transport_port):
            if self._port_taken(port):
                raise MCPeekerError(
                    f"port {port} on 127.0.0.1 is taken by another process; stop it or choose another port with --port"
                )
        dist = ensure_distribution(mcpeeker_home(), progress)
        config = self._write_config()
        (self.home / "tmp").mkdir(exist_ok=True)
        log_path = self.home / "logs" / "stdout.log"
        progress(f"starting OpenSearch on {self.url}")
        with open(log_path, "ab") as out:
            process = subprocess.Popen(
                self._command(dist, config),
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                cwd=self.home,
            )
        self.pid_file.write_text(f"{process.pid}\n")
        self.ports_file.write_text(f"{self.http_port} {self.transport_port}\n")
        if not wait:
            return NodeStatus(True, process.pid, self.url, home=str(self.home), detail="starting")
        try:
            self._wait_green(timeout, process)
        except MCPeekerError:
            self.stop()
            raise
        return self.status()

    def _http_put(self, path: str, body: dict[str, Any]) -> None:
        request = urllib.request.Request(
            self.url + path, data=json.dumps(body).encode(), method="PUT", headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            response.read()

    def _apply_single_node_defaults(self) -> None:
        """A single node can host no replica: default every index to 0 replicas so health can be green."""
        # Earlier versions used a legacy template; it would shadow-warn on every index we create.
        try:
            request = urllib.request.Request(self.url + "/_template/mcpeeker-local-defaults", method="DELETE")
            urllib.request.urlopen(request, timeout=10).read()
        except urllib.error.HTTPError as exc:
            if exc.code != 404:
                raise
        # Priority 0 composable template: any template of ours (or a user's) with a higher priority wins.
        self._http_put(
            "/_index_template/mcpeeker-local-defaults",
            {"index_patterns": ["*"], "priority": 0, "template": {"settings": {"number_of_replicas": 0}}},
        )
        try:
            self._http_put("/_all/_settings?expand_wildcards=all", {"index": {"number_of_replicas": 0}})
        except urllib.error.HTTPError as exc:
            if exc.code != 404:  # 404: no index exists yet
                raise

    def _wait_green(self, timeout: float, process: subprocess.Popen[bytes] | None = None) -> None:
        deadline = time.monotonic() + timeout
        defaults_applied = False
        while time.monotonic() < deadline:
            if process is not None and process.poll() is not None:
                tail = (self.home / "logs" / "stdout.log").read_text(errors="replace")[-3000:]
                raise MCPeekerError(f"OpenSearch exited with code {process.returncode} during start-up:\n{tail}")
            health = self._http_json("/_cluster/health?wait_for_status=green&timeout=1s", timeout=3)
            if health and not defaults_applied:
                self._apply_single_node_defaults()
                defaults_applied = True
                continue
            if health and health.get("status") == "green":
                return
            time.sleep(0.5)
        raise MCPeekerError(f"OpenSearch did not become green within {timeout:.0f}s; see {self.home / 'logs'}")

    def stop(self, timeout: float = 30.0) -> bool:
        """Stop the node; True when a process was stopped. Escalates to SIGKILL after timeout."""
        if not stop_recorded(self.pid_file, self._is_our_process, timeout, poll=0.2):
            return False
        self.ports_file.unlink(missing_ok=True)
        return True
