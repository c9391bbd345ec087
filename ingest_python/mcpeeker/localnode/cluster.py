"""A local multi-node OpenSearch cluster (loopback only) for the scale and failure tests: N LocalNode instances,
each with its own home (data, logs, pid), heap and ports, discovering each other over their transport ports.

Node i (1..N) of cluster NAME is `<base>/nodes/NAME-i`, HTTP port `port + i - 1`, transport `port + 100 + i - 1`.
All N are cluster-manager eligible and data nodes; they form the cluster once a majority runs. MCPeeker's templates
give its indices one replica when the cluster has two data nodes or more (mcpeeker.indices.install).
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import MCPeekerError
from .assemble import Progress
from .node import LocalNode, NodeStatus


@dataclass(frozen=True)
class ClusterStatus:
    nodes: list[NodeStatus]
    health: str | None = None
    number_of_nodes: int = 0
    detail: str = ""
    members: list[str] = field(default_factory=list)  # node names the cluster reports

    @property
    def running(self) -> bool:
        return any(node.running for node in self.nodes)

    def as_dict(self) -> dict[str, Any]:
        return {
            "health": self.health,
            "number_of_nodes": self.number_of_nodes,
            "members": self.members,
            "detail": self.detail,
            "nodes": [node.as_dict() for node in self.nodes],
        }


class LocalCluster:
    def __init__(
        self, name: str = "default", nodes: int = 3, http_port: int = 9200, heap: str = "512m", base: Path | None = None
    ) -> None:
        if nodes < 2:
            raise MCPeekerError("a cluster has at least 2 nodes; use the single node otherwise")
        members = tuple((f"{name}-{i}", http_port + 100 + i - 1) for i in range(1, nodes + 1))
        self.name = name
        self.nodes = [
            LocalNode(
                name=node_name,
                http_port=http_port + i,
                transport_port=transport,
                heap=heap,
                base=base,
                cluster=members,
                cluster_name=f"mcpeeker-{name}",
            )
            for i, (node_name, transport) in enumerate(members)
        ]

    @property
    def url(self) -> str:
        return self.nodes[0].url

    def _health(self, query: str = "", timeout: float = 5.0) -> dict[str, Any] | None:
        for node in self.nodes:  # any member answers for the cluster
            try:
                with urllib.request.urlopen(f"{node.url}/_cluster/health{query}", timeout=timeout) as response:
                    body: dict[str, Any] = json.loads(response.read())
                    return body
            except urllib.error.HTTPError as exc:
                if exc.code == 408:  # the wait timed out: the body is the health
                    try:
                        answer: dict[str, Any] = json.loads(exc.read())
                        return answer
                    except ValueError:
                        continue
            except (urllib.error.URLError, OSError, ValueError):
                continue
        return None

    def _members(self) -> list[str]:
        for node in self.nodes:
            try:
                with urllib.request.urlopen(f"{node.url}/_cat/nodes?h=name&format=json", timeout=5) as response:
                    return sorted(row["name"] for row in json.loads(response.read()))
            except (urllib.error.URLError, OSError, ValueError):
                continue
        return []

    def start(self, timeout: float = 240.0, progress: Progress = lambda _msg: None) -> ClusterStatus:
        """Start every node (or reuse the running ones), then wait until all have joined and the cluster is green."""
        for node in self.nodes:
            status = node.start(timeout=timeout, progress=progress, wait=False)
            progress(f"node {node.name}: pid {status.pid}, {node.url}, transport {node.transport_port}")
        launched = time.monotonic()
        deadline = launched + timeout
        wanted = len(self.nodes)
        while time.monotonic() < deadline:
            # A process just forked may not show the launcher's command line yet: judge deaths after a grace time.
            for node in self.nodes if time.monotonic() - launched > 10.0 else ():
                info = node.status()
                if not info.running:
                    log = node.home / "logs" / "stdout.log"
                    tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
                    self.stop()
                    raise MCPeekerError(f"node {node.name} exited during start-up ({info.detail}):\n{tail}")
            health = self._health(f"?wait_for_nodes={wanted}&wait_for_status=green&timeout=2s")
            if health and health.get("number_of_nodes") == wanted and health.get("status") == "green":
                return self.status()
            time.sleep(0.5)
        self.stop()
        raise MCPeekerError(f"the {wanted} nodes did not form a green cluster within {timeout:.0f}s")

    def stop(self, timeout: float = 30.0) -> list[bool]:
        return [node.stop(timeout) for node in self.nodes]

    def status(self) -> ClusterStatus:
        nodes = [node.status() for node in self.nodes]
        if not any(n.running for n in nodes):
            return ClusterStatus(nodes, detail="not running")
        health = self._health()
        if health is None:
            return ClusterStatus(nodes, detail="processes up, HTTP not answering")
        return ClusterStatus(
            nodes,
            health=health.get("status"),
            number_of_nodes=int(health.get("number_of_nodes", 0)),
            detail="running",
            members=self._members(),
        )
