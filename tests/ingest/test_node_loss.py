"""#21 point 2 (ingest half): `ingest --follow` into a real three-node cluster, one data node killed with SIGKILL
mid-stream and restarted: every input line is indexed exactly once, and ingest never stops. (About a minute and a
half: three 512 MB JVMs on this machine's two cores.)"""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from mcpeeker.client import make_client
from mcpeeker.ingest.run import IngestOptions, IngestResult, run_ingest
from mcpeeker.localnode.cluster import LocalCluster
from mcpeeker.settings import Settings

from .test_rollover import _replay

pytestmark = pytest.mark.cluster

CHUNK = 3000


def _count(settings: Settings) -> int:
    client = make_client(settings)
    client.indices.refresh(index=settings.index("mcp-events-*"))
    return int(client.count(index=settings.index("mcp-events-*"))["count"])


def _wait_count(settings: Settings, wanted: int, timeout: float) -> int:
    deadline = time.monotonic() + timeout
    got = -1
    while time.monotonic() < deadline:
        try:
            got = _count(settings)
        except Exception:  # noqa: BLE001 - the cluster is reorganising after the kill: ask again
            got = -1
        if got >= wanted:
            return got
        time.sleep(0.5)
    return got


def test_sigkill_of_a_data_node_during_follow_loses_and_duplicates_nothing(
    three_nodes: tuple[LocalCluster, Settings], tmp_path: Path
) -> None:
    cluster, settings = three_nodes
    logs = tmp_path / "logs"
    logs.mkdir()
    now = time.time()
    stamps = [now - 3600 + n * 0.01 for n in range(3 * CHUNK)]
    _replay(tmp_path / "all.log", stamps)
    lines = (tmp_path / "all.log").read_bytes().splitlines(keepends=True)
    target = logs / "conn.log"
    target.write_bytes(b"".join(lines[:CHUNK]))

    stop = threading.Event()
    results: list[IngestResult] = []
    options = IngestOptions(
        source="zeek",
        paths=(str(logs),),
        follow=True,
        dead_letter=str(tmp_path / "dead.log"),
        checkpoint=tmp_path / "checkpoint.json",
        spool_dir=tmp_path / "spool",
        poll_interval=0.1,
        batch_size=200,
    )
    ingest = threading.Thread(target=lambda: results.append(run_ingest(settings, options, stop=stop)))
    ingest.start()
    assert _wait_count(settings, CHUNK, 120) == CHUNK

    # The victim: a node holding a copy of the write index other than the one ingest talks to (of a primary and
    # a replica on three nodes, at least one is elsewhere), the primary's node when it can be.
    client = make_client(settings)
    shards = client.cat.shards(index=settings.index("mcp-events-000001"), format="json", h="prirep,node")
    holders = sorted(
        (row["prirep"], row["node"]) for row in shards if row["node"] != "mcpeeker-" + cluster.nodes[0].name
    )
    assert holders, shards
    victim = next(node for node in cluster.nodes if "mcpeeker-" + node.name == holders[0][1])
    pid = victim.status().pid
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 90
    while client.cluster.health()["number_of_nodes"] != 2:  # the cluster has noticed: writes go on without it
        assert time.monotonic() < deadline, "the cluster never noticed the node was gone"
        time.sleep(0.2)
    with open(target, "ab") as fh:  # written while the node is gone
        for n in range(CHUNK, 2 * CHUNK, 100):
            fh.write(b"".join(lines[n : n + 100]))
            fh.flush()
            time.sleep(0.02)
    assert _wait_count(settings, 2 * CHUNK, 180) == 2 * CHUNK

    victim.start(timeout=120, wait=False)  # back, with its data dir: replicas recover from the primaries
    with open(target, "ab") as fh:
        fh.write(b"".join(lines[2 * CHUNK :]))
    assert _wait_count(settings, 3 * CHUNK, 180) == 3 * CHUNK
    health = client.cluster.health(index=settings.index("mcp-*"), wait_for_status="green", wait_for_nodes="3")
    assert health["status"] == "green"
    stop.set()
    ingest.join(60)
    assert not ingest.is_alive() and results and results[0].rejected == 0
    # Exactly once: every document id one bucket of one document (a composite aggregation counts exactly).
    buckets = client.search(
        index=settings.index("mcp-events-*"),
        body={
            "size": 0,
            "aggs": {"ids": {"composite": {"size": 10000, "sources": [{"id": {"terms": {"field": "event.id"}}}]}}},
        },
    )["aggregations"]["ids"]["buckets"]
    assert len(buckets) == 3 * CHUNK and all(b["doc_count"] == 1 for b in buckets)
    assert _count(settings) == 3 * CHUNK


def _up_client(cluster: LocalCluster, settings: Settings, down: int) -> Any:
    """A client of a node other than the one restarting."""
    url = cluster.nodes[(down + 1) % len(cluster.nodes)].url
    return make_client(Settings(url=url, index_prefix=settings.index_prefix, site_key=settings.site_key))


def test_rolling_restart_of_all_three_nodes_during_follow_loses_and_duplicates_nothing(
    three_nodes: tuple[LocalCluster, Settings], tmp_path: Path
) -> None:
    """Each node stopped and started in turn (the one ingest talks to among them) while lines keep arriving; the
    next node goes only once the cluster is green again, as an operator's rolling restart does."""
    cluster, settings = three_nodes
    steps = len(cluster.nodes) + 1
    logs = tmp_path / "logs"
    logs.mkdir()
    now = time.time()
    _replay(tmp_path / "all.log", [now - 3600 + n * 0.01 for n in range(steps * CHUNK)])
    lines = (tmp_path / "all.log").read_bytes().splitlines(keepends=True)
    target = logs / "conn.log"
    target.write_bytes(b"".join(lines[:CHUNK]))
    stop = threading.Event()
    results: list[IngestResult] = []
    options = IngestOptions(
        source="zeek",
        paths=(str(logs),),
        follow=True,
        dead_letter=str(tmp_path / "dead.log"),
        checkpoint=tmp_path / "checkpoint.json",
        spool_dir=tmp_path / "spool",
        poll_interval=0.1,
        batch_size=200,
    )
    ingest = threading.Thread(target=lambda: results.append(run_ingest(settings, options, stop=stop)))
    ingest.start()
    assert _wait_count(settings, CHUNK, 120) == CHUNK

    for step, node in enumerate(cluster.nodes, start=1):
        client = _up_client(cluster, settings, step - 1)
        writer = threading.Thread(target=_append, args=(target, lines[step * CHUNK : (step + 1) * CHUNK]))
        writer.start()  # lines arrive while the node goes down and comes back
        assert node.stop(30)
        deadline = time.monotonic() + 90
        while client.cluster.health()["number_of_nodes"] != len(cluster.nodes) - 1:
            assert time.monotonic() < deadline, f"the cluster never noticed {node.name} was stopped"
            time.sleep(0.2)
        node.start(timeout=120, wait=False)
        health = client.cluster.health(
            wait_for_nodes=str(len(cluster.nodes)),
            wait_for_status="green",
            params={"timeout": "120s"},
            request_timeout=130,
        )
        assert health["status"] == "green", (node.name, health)
        writer.join(60)

    assert _wait_count(settings, steps * CHUNK, 180) == steps * CHUNK
    stop.set()
    ingest.join(60)
    assert not ingest.is_alive() and results and results[0].rejected == 0
    counts = _id_counts(make_client(settings), settings)
    assert len(counts) == steps * CHUNK and set(counts.values()) == {1}
    assert _count(settings) == steps * CHUNK


def _append(target: Path, lines: list[bytes]) -> None:
    with open(target, "ab") as fh:
        for n in range(0, len(lines), 100):
            fh.write(b"".join(lines[n : n + 100]))
            fh.flush()
            time.sleep(0.05)


def _id_counts(client: Any, settings: Settings) -> dict[str, int]:
    """event.id -> number of documents, exactly: a composite aggregation paged with after_key."""
    counts: dict[str, int] = {}
    after: dict[str, Any] | None = None
    while True:
        composite: dict[str, Any] = {"size": 5000, "sources": [{"id": {"terms": {"field": "event.id"}}}]}
        if after:
            composite["after"] = after
        agg = client.search(
            index=settings.index("mcp-events-*"), body={"size": 0, "aggs": {"ids": {"composite": composite}}}
        )
        buckets = agg["aggregations"]["ids"]["buckets"]
        counts.update((b["key"]["id"], b["doc_count"]) for b in buckets)
        after = agg["aggregations"]["ids"].get("after_key")
        if not buckets or after is None:
            return counts
