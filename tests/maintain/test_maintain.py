"""Retention of the evidence indices (mcpeeker.maintain, `mcpeeker maintain`, `mcpeeker setup --lifecycle`) on the real
node: rolled-over evidence past retention (by the time it was ingested) is deleted; the write index, recent evidence,
findings, registry, feedback, state and the audit chain are kept. The local node has no ISM plugin, so the ISM and
ILM policies are checked against the shape their documentation gives (tested here as JSON Schemas) instead."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
from dataclasses import replace
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from mcpeeker import lifecycle, maintain
from mcpeeker.cli import main as mcpeeker_main
from mcpeeker.client import make_client
from mcpeeker.indices import FIXED_INDICES
from mcpeeker.settings import Lifecycle, Settings

from correlate.test_lease import Lines

DAY = 86400.0


def _iso(epoch: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


def _events(client: Any, index: str, ingested: float, n: int, tag: str) -> None:
    for i in range(n):
        doc = {"@timestamp": _iso(ingested - 3600), "event": {"ingested": _iso(ingested), "id": f"{tag}{i}"}}
        client.index(index=index, id=f"{tag}{i}", body=doc)


def _world(settings: Settings) -> tuple[Any, dict[str, str]]:
    """000001: ingested 40 days ago; a daily index of an earlier version: 400 days ago; 000002: today (rolled
    over); 000003: the write index, empty. Plus an old audit record."""
    client = make_client(settings)
    alias = lifecycle.events_alias(settings)
    now = time.time()
    old = lifecycle.bootstrap(client, settings)
    _events(client, alias, now - 40 * DAY, 3, "old")
    recent = lifecycle.rollover(client, settings, force=True).new_index
    _events(client, alias, now - 60, 2, "recent")
    write = lifecycle.rollover(client, settings, force=True).new_index
    legacy = settings.index("mcp-events-2025.01.01")
    _events(client, legacy, now - 400 * DAY, 4, "legacy")
    client.index(index=settings.index("mcp-audit"), id="a1", body={"@timestamp": _iso(now - 400 * DAY), "action": "x"})
    client.indices.refresh(index=settings.index("*"))
    return client, {"old": old, "recent": recent, "write": write, "legacy": legacy}


def test_retention_deletes_only_rolled_over_evidence_past_retention(os_settings: Settings) -> None:
    settings = replace(os_settings, lifecycle=Lifecycle(events_retention_days=30))
    client, names = _world(settings)
    fixed = {settings.index(name) for name in FIXED_INDICES}
    audit = client.count(index=settings.index("mcp-audit"))["count"]

    dry = maintain.run(settings, client, dry_run=True)
    assert {a.index for a in dry.deleted} == {names["old"], names["legacy"]}
    assert client.indices.exists(index=names["old"]) and client.indices.exists(index=names["legacy"])

    result = maintain.run(settings, client)
    assert result.write_index == names["write"]
    assert {a.index: a.documents for a in result.deleted} == {names["old"]: 3, names["legacy"]: 4}
    assert {a.index for a in result.kept} == {names["recent"], names["write"]}
    remaining = set(client.indices.get(index=settings.index("*")))
    assert remaining == fixed | {names["recent"], names["write"]}
    assert client.count(index=settings.index("mcp-audit"))["count"] == audit  # the audit chain is never trimmed

    # Long after: the rolled-over index goes too, the write index never does (it still takes new evidence).
    later = maintain.run(settings, client, now=time.time() + 100 * DAY)
    assert [a.index for a in later.deleted] == [names["recent"]]
    assert set(client.indices.get(index=settings.index("*"))) == fixed | {names["write"]}


def test_maintain_command_dry_run_names_what_it_would_delete(
    os_settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    _, names = _world(os_settings)  # default retention: 30 days
    argv = ["maintain", "--dry-run", "--url", os_settings.url, "--index-prefix", os_settings.index_prefix]
    assert mcpeeker_main(argv) == 0
    err = capsys.readouterr().err
    assert f"would delete {names['old']}: 3 documents" in err and f"would delete {names['legacy']}: 4" in err
    assert make_client(os_settings).indices.exists(index=names["old"])


# The ISM policy document as the OpenSearch documentation describes it (Index State Management > Policies).
ISM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["policy"],
    "additionalProperties": False,
    "properties": {
        "policy": {
            "type": "object",
            "required": ["description", "default_state", "states"],
            "additionalProperties": False,
            "properties": {
                "description": {"type": "string"},
                "default_state": {"type": "string"},
                "states": {
                    "type": "array",
                    "minItems": 1,
                    "items": {
                        "type": "object",
                        "required": ["name", "actions", "transitions"],
                        "additionalProperties": False,
                        "properties": {
                            "name": {"type": "string"},
                            "actions": {
                                "type": "array",
                                "items": {
                                    "type": "object",
                                    "minProperties": 1,
                                    "properties": {
                                        "rollover": {
                                            "type": "object",
                                            "additionalProperties": False,
                                            "properties": {
                                                "min_size": {"type": "string", "pattern": "^[0-9]+(b|kb|mb|gb|tb)$"},
                                                "min_primary_shard_size": {"type": "string"},
                                                "min_doc_count": {"type": "integer"},
                                                "min_index_age": {"type": "string", "pattern": "^[0-9]+(s|m|h|d)$"},
                                            },
                                        },
                                        "delete": {"type": "object", "maxProperties": 0},
                                    },
                                },
                            },
                            "transitions": {
                                "type": "array",
                                "items": {
                                    "type": "object",
                                    "required": ["state_name"],
                                    "additionalProperties": False,
                                    "properties": {
                                        "state_name": {"type": "string"},
                                        "conditions": {
                                            "type": "object",
                                            "maxProperties": 1,
                                            "additionalProperties": False,
                                            "properties": {
                                                "min_index_age": {"type": "string"},
                                                "min_rollover_age": {"type": "string", "pattern": "^[0-9]+d$"},
                                                "min_doc_count": {"type": "integer"},
                                                "min_size": {"type": "string"},
                                                "cron": {"type": "object"},
                                            },
                                        },
                                    },
                                },
                            },
                        },
                    },
                },
                "ism_template": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["index_patterns"],
                        "properties": {
                            "index_patterns": {"type": "array", "items": {"type": "string"}},
                            "priority": {"type": "integer"},
                        },
                    },
                },
            },
        }
    },
}

# The ILM policy body as the Elasticsearch documentation describes it (ILM > Create or update lifecycle policy).
ILM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["policy"],
    "properties": {
        "policy": {
            "type": "object",
            "required": ["phases"],
            "properties": {
                "_meta": {"type": "object"},
                "phases": {
                    "type": "object",
                    "additionalProperties": False,
                    "patternProperties": {
                        "^(hot|warm|cold|frozen|delete)$": {
                            "type": "object",
                            "required": ["actions"],
                            "properties": {
                                "min_age": {"type": "string", "pattern": "^[0-9]+(ms|s|m|h|d)$"},
                                "actions": {"type": "object"},
                            },
                        }
                    },
                },
            },
        }
    },
}


def test_lifecycle_policies_match_their_documented_shape(os_settings: Settings) -> None:
    settings = replace(os_settings, lifecycle=Lifecycle(events_retention_days=45, rollover_max_docs=1000))
    ism = maintain.ism_policy(settings)
    jsonschema.validate(ism, ISM_SCHEMA)
    states = {s["name"] for s in ism["policy"]["states"]}
    assert ism["policy"]["default_state"] in states
    assert all(t["state_name"] in states for s in ism["policy"]["states"] for t in s["transitions"])
    hot = ism["policy"]["states"][0]
    assert hot["actions"] == [{"rollover": {"min_size": "10gb", "min_index_age": "1d", "min_doc_count": 1000}}]
    assert hot["transitions"][0]["conditions"] == {"min_rollover_age": "45d"}
    assert ism["policy"]["ism_template"][0]["index_patterns"] == [lifecycle.events_pattern(settings)]

    ilm = maintain.ilm_policy(settings)
    jsonschema.validate(ilm, ILM_SCHEMA)
    phases = ilm["policy"]["phases"]
    assert phases["hot"]["actions"]["rollover"] == {"max_size": "10gb", "max_age": "1d", "max_docs": 1000}
    assert phases["delete"] == {"min_age": "45d", "actions": {"delete": {}}}


def test_setup_lifecycle_on_a_node_without_ism(os_settings: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    client = make_client(os_settings)
    plugins = {row["component"] for row in client.cat.plugins(format="json")}
    if "opensearch-index-management" in plugins:  # a node with ISM: the policy must install
        assert maintain.install_policy(os_settings, client).installed
        return
    result = maintain.install_policy(os_settings, client)
    assert not result.installed and result.kind == "ism" and "no ISM plugin" in result.reason
    argv = ["setup", "--lifecycle", "--url", os_settings.url, "--index-prefix", os_settings.index_prefix]
    assert mcpeeker_main(argv) == 0
    assert "mcpeeker maintain --every 1h" in capsys.readouterr().err


class _Forwarder:
    """A TCP relay from a port of ours to the test node: the cluster 'comes back' when it starts listening."""

    def __init__(self, port: int, target: tuple[str, int]) -> None:
        self.port, self.target = port, target
        self.server: socket.socket | None = None

    def start(self) -> None:
        self.server = socket.create_server(("127.0.0.1", self.port))
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        assert self.server is not None
        while True:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.target)
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)

    def stop(self) -> None:
        if self.server is not None:
            self.server.close()


def test_maintain_every_waits_out_an_unreachable_cluster(os_settings: Settings, tmp_path: Path) -> None:
    """`maintain --every` is a service: a cluster it cannot reach is retried with backoff and named in the log,
    never a reason to exit; once the cluster answers it runs again and says so."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    node = urllib.parse.urlsplit(os_settings.url)
    forwarder = _Forwarder(port, (node.hostname or "127.0.0.1", node.port or 9200))
    argv = [sys.executable, "-m", "mcpeeker.cli", "maintain", "--every", "1s"]
    argv += ["--url", f"{node.scheme}://127.0.0.1:{port}", "--index-prefix", os_settings.index_prefix]
    env = dict(os.environ, MCPEEKER_IDENTITY="admin")
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stderr is not None
        lines = Lines(proc.stderr)
        lines.wait_for("maintain: run failed (attempt 1, retrying in 0.5s)", 60)
        lines.wait_for("maintain: run failed (attempt 3, retrying in 2s)", 60)
        assert proc.poll() is None
        forwarder.start()
        lines.wait_for("failed attempt(s)", 60)
        line, _ = lines.wait_for("maintain: write index", 30)
        assert os_settings.index("mcp-events-") in line
        assert proc.poll() is None
    finally:
        proc.terminate()
        proc.wait(20)
        forwarder.stop()
