"""`mcpeeker opensearch start|status|stop --nodes 3`: three real OpenSearch nodes on loopback, each with its own home,
heap and ports, form one green cluster; MCPeeker's indices get one replica there; status shows every node and
stop stops them all. (Takes about a minute: three JVMs of 512 MB heap on this machine's two cores.)"""

from __future__ import annotations

import json
import random
import shutil
import socket
from typing import Any

import pytest

from mcpeeker import indices, lifecycle
from mcpeeker.cli import main as mcpeeker_main
from mcpeeker.client import make_client
from mcpeeker.localnode.assemble import mcpeeker_home
from mcpeeker.settings import Settings

from paths import AUDIT_KEY, SITE_KEY

NODES = 3


def _free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _base_port() -> int:
    for _ in range(50):
        base = random.randrange(19000, 19800, 10)
        if all(_free(base + i) and _free(base + 100 + i) for i in range(NODES)):
            return base
    raise AssertionError("no free ports for a test cluster")


def _status(name: str, port: int, capsys: pytest.CaptureFixture[str]) -> tuple[int, dict[str, Any]]:
    capsys.readouterr()
    argv = ["opensearch", "status", "--nodes", str(NODES), "--name", name, "--port", str(port), "--json"]
    code = mcpeeker_main(argv)
    return code, json.loads(capsys.readouterr().out)


def test_three_node_cluster_start_status_replicas_stop(capsys: pytest.CaptureFixture[str]) -> None:
    port = _base_port()
    name = f"t{port}"
    flags = ["--nodes", str(NODES), "--name", name, "--port", str(port)]
    try:
        assert mcpeeker_main(["opensearch", "start", *flags, "--heap", "512m", "--timeout", "300"]) == 0
        code, status = _status(name, port, capsys)
        assert code == 0 and status["health"] == "green" and status["number_of_nodes"] == NODES
        assert status["members"] == [f"mcpeeker-{name}-{i}" for i in range(1, NODES + 1)]
        assert [n["url"] for n in status["nodes"]] == [f"http://127.0.0.1:{port + i}" for i in range(NODES)]
        assert all(n["running"] and n["pid"] for n in status["nodes"])
        assert len({n["home"] for n in status["nodes"]}) == NODES  # one data dir each

        settings = Settings(
            url=f"http://127.0.0.1:{port + 1}", index_prefix="t-", site_key=SITE_KEY, audit_key=AUDIT_KEY
        )
        client = make_client(settings)
        indices.install(settings, client)
        write = lifecycle.write_index(client, settings)
        assert write is not None
        for index in (settings.index("mcp-findings"), settings.index("mcp-audit"), write):
            got = client.indices.get_settings(index=index, name="index.number_of_replicas")
            assert got[index]["settings"]["index"]["number_of_replicas"] == "1", index
        health = client.cluster.health(index=settings.index("mcp-*"), wait_for_status="green")
        assert health["status"] == "green" and health["unassigned_shards"] == 0
        assert indices.install(settings, client).installed == []  # idempotent with the replica override too
    finally:
        capsys.readouterr()
        assert mcpeeker_main(["opensearch", "stop", *flags]) == 0
        code, status = _status(name, port, capsys)
        for i in range(1, NODES + 1):
            shutil.rmtree(mcpeeker_home() / "nodes" / f"{name}-{i}", ignore_errors=True)
    assert code == 3 and not any(n["running"] for n in status["nodes"])
