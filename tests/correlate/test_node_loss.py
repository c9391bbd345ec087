"""#21 point 2 (correlate half): `correlate --every` on a real three-node cluster, the node it talks to killed with
SIGKILL between cycles while evidence keeps arriving (through another node), then restarted. The service does not
exit: it logs each failed attempt with its backoff, runs cycles again once the node is back, and the findings are
those of one clean `correlate --once` over the same evidence (same ids, classification, score). About 90 s: three
512 MB JVMs on two cores."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from mcpeeker import indices
from mcpeeker.client import make_client
from mcpeeker.correlate.engine import Correlator
from mcpeeker.ingest.run import IngestOptions, run_ingest
from mcpeeker.localnode.cluster import LocalCluster
from mcpeeker.settings import Settings

from .test_engine import agent_report, host_id_for
from .test_lease import Lines

pytestmark = pytest.mark.cluster

HOSTS_PER_BATCH = 30


def _reports(path: Path, batch: int) -> Path:
    """One agent report per host of the batch: each host runs an MCP server on its own address and port."""
    with open(path, "w") as fh:
        for n in range(batch * HOSTS_PER_BATCH, (batch + 1) * HOSTS_PER_BATCH):
            report = agent_report(host_id_for(f"machine-{n}"), f"10.77.{n // 200}.{n % 200 + 1}", 8000 + n % 50)
            fh.write(json.dumps(report) + "\n")
    return path


def _ingest(settings: Settings, report: Path, work: Path) -> None:
    options = IngestOptions(source="agent", paths=(str(report),), dead_letter=str(work / "dead.log"))
    result = run_ingest(settings, options)
    assert result.rejected == 0 and result.indexed == result.documents > 0, result


def _findings(settings: Settings) -> dict[str, tuple[Any, Any]]:
    client = make_client(settings)
    client.indices.refresh(index=settings.index("mcp-findings"))
    hits = client.search(index=settings.index("mcp-findings"), body={"size": 1000, "query": {"match_all": {}}})
    return {h["_id"]: (h["_source"]["classification"], h["_source"]["score"]) for h in hits["hits"]["hits"]}


def _correlator(settings: Settings, state: Path) -> subprocess.Popen[str]:
    env = {
        "MCPEEKER_SITE_KEY": settings.site_key or "",
        "MCPEEKER_AUDIT_KEY": settings.audit_key or "",
        "MCPEEKER_IDENTITY": "admin",
        "MCPEEKER_STATE_DIR": str(state),
        "PATH": "/usr/bin:/bin",
        "HOME": str(Path.home()),
    }
    # The lease outlives the outage: with one correlator, nobody else is waiting to take over.
    argv = [sys.executable, "-m", "mcpeeker.cli", "correlate", "--every", "1s", "--lease", "300s", "--no-judge"]
    argv += ["--url", settings.url, "--index-prefix", settings.index_prefix]
    return subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def test_sigkill_of_the_correlators_node_during_every(
    three_nodes: tuple[LocalCluster, Settings], tmp_path: Path
) -> None:
    cluster, settings = three_nodes
    batches = [_reports(tmp_path / f"batch{b}.ndjson", b) for b in range(3)]
    _ingest(settings, batches[0], tmp_path)
    proc = _correlator(settings, tmp_path / "state")
    try:
        assert proc.stderr is not None
        lines = Lines(proc.stderr)
        lines.wait_for("instance(s) touched", 90)
        _ingest(settings, batches[1], tmp_path)

        victim = cluster.nodes[0]  # the node in the correlator's --url: every request of it fails until restart
        pid = victim.status().pid
        assert pid is not None
        os.kill(pid, signal.SIGKILL)
        other = Settings(
            url=cluster.nodes[1].url,
            index_prefix=settings.index_prefix,
            site_key=settings.site_key,
            audit_key=settings.audit_key,
        )
        deadline = time.monotonic() + 90
        while make_client(other).cluster.health()["number_of_nodes"] != 2:
            assert time.monotonic() < deadline, "the cluster never noticed the node was gone"
            time.sleep(0.2)
        _ingest(other, batches[2], tmp_path)  # evidence arriving while the correlator cannot reach the cluster
        first, _ = lines.wait_for("retrying in", 60)
        lines.wait_for("attempt 3,", 60)  # it backs off and keeps trying
        assert proc.poll() is None, "the correlator exited on a transient cluster error"
        assert "correlate: cycle failed" in first or "cannot reach the lease" in first

        victim.start(timeout=120, wait=False)
        health = make_client(other).cluster.health(
            wait_for_nodes="3", wait_for_status="green", params={"timeout": "120s"}, request_timeout=130
        )
        assert health["status"] == "green"
        lines.wait_for("cycles run again after", 90)
        lines.wait_for("instance(s) touched", 60)  # a full cycle after the recovery
        lines.wait_for("instance(s) touched", 60)  # and the next one sees nothing new
        assert proc.poll() is None
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 143
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    got = _findings(settings)

    # The run without the failure: the same evidence under another prefix, one clean cycle.
    reference = Settings(
        url=cluster.nodes[1].url, index_prefix="ref-", site_key=settings.site_key, audit_key=settings.audit_key
    )
    indices.install(reference)
    for batch in batches:
        _ingest(reference, batch, tmp_path)
    make_client(reference).indices.refresh(index=reference.index("mcp-events-*"))
    Correlator(reference, make_client(reference)).run_once()
    expected = _findings(reference)
    assert len(expected) >= 3 * HOSTS_PER_BATCH
    assert got == expected
