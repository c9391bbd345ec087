"""Agent report -> evidence documents of the data model (docs/data-model.md), used by `--ship` when the
ingest package's own normaliser is not installed. Field choices are documented in docs/agent.md."""

from __future__ import annotations

import hashlib
import json
from typing import Any, Iterator

_DATASET = {"file": "config", "process": "process", "listener": "listener", "probe": "probe"}
# Agent risk -> attack type (detections/MCP-POS-*.yaml; the ingest normaliser reads the same from the catalogue).
_ATTACK = {"committed_secret": "committed_secret", "exposed_listener": "exposed_listener",
           "broad_filesystem": "filesystem_exposure", "static_credential": "static_credential",
           "cleartext_transport": "cleartext_transport"}


def doc_id(host_id: str, timestamp: str, evidence: dict[str, Any]) -> str:
    canon = json.dumps(evidence, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(f"agent|{host_id}|{timestamp}|{canon}".encode()).hexdigest()[:32]


def to_documents(report: dict[str, Any]) -> Iterator[dict[str, Any]]:
    host = report.get("host", {})
    base = {
        "@timestamp": report["timestamp"],
        "host": {"id": report["host_id"], "ip": host.get("ips", []), "os": {"type": host.get("os")}},
        "agent": {"type": "mcpeeker-agent", "version": report.get("agent", {}).get("version")},
        "observer": {"type": "agent", "product": "mcpeeker-agent"},
    }
    for ev in report.get("evidence", []):
        kind = _DATASET[ev["type"]]
        doc = json.loads(json.dumps(base))
        doc["event"] = {"module": "agent", "dataset": f"agent.{kind}", "kind": "event",
                        "category": ["file"] if kind == "config" else (["network"] if kind in ("listener", "probe") else ["process"])}
        attacks = [_ATTACK[r] for r in ev.get("risk", []) if r in _ATTACK]
        doc["mcpeeker"] = {"evidence": {"type": "attack" if attacks else "endpoint", "kind": kind, "score": ev["score"],
                                        "confidence": "high" if ev["score"] >= 0.6 else ("medium" if ev["score"] >= 0.3 else "low"),
                                        "reason": ev.get("reason", "")},
                           "schema_version": report["schema"]}
        if attacks:
            doc["mcpeeker"]["attack"] = {"type": attacks[0]}
        if ev.get("risk"):
            doc["tags"] = [f"risk:{r}" for r in ev["risk"]]
        if ev.get("instance_key"):
            doc["mcpeeker"]["instance"] = {"key": ev["instance_key"]}
        if ev.get("snippet"):
            doc["mcpeeker"]["snippet"] = ev["snippet"]
        doc["mcp"] = {}
        if "config" in ev:
            _config_fields(doc, ev)
        if "process" in ev:
            _process_fields(doc, ev["process"])
        if "listener" in ev:
            li = ev["listener"]
            doc["destination"] = {"ip": li["ip"], "port": li["port"]}
            doc["network"] = {"transport": li.get("transport", "tcp")}
        if "probe" in ev:
            pr = ev["probe"]
            doc["mcp"]["probe"] = {"ok": pr.get("ok", False)}
            doc["mcp"]["server"] = {"name": pr.get("server_name"), "version": pr.get("server_version"), "url": pr.get("url")}
            doc["mcp"]["protocol"] = {"version": pr.get("protocol_version")}
        doc["event"]["id"] = doc_id(report["host_id"], report["timestamp"], ev)
        yield doc


def _config_fields(doc: dict[str, Any], ev: dict[str, Any]) -> None:
    c = ev["config"]
    secrets = c.get("secrets", [])
    doc["file"] = {k: v for k, v in ev.get("file", {}).items() if k in ("path", "size", "mtime")}
    if doc["file"].get("path"):
        doc["file"]["name"] = doc["file"]["path"].replace("\\", "/").rsplit("/", 1)[-1]
    doc["mcp"]["config"] = {"client": c.get("client"), "scope": c.get("scope"), "path": ev.get("file", {}).get("path"),
                            "server_name": c.get("server_name"), "fingerprint": c.get("fingerprint"),
                            "change": c.get("change"), "env_names": c.get("env_names", []),
                            "header_names": c.get("header_names", []),
                            "secret_kinds": sorted({s["kind"] for s in secrets}),
                            "secret_fingerprints": [s["fingerprint"] for s in secrets],
                            "package": c.get("package")}
    doc["mcp"]["server"] = {k: c[k] for k in ("command", "args", "url") if c.get(k) is not None}
    if c.get("transport"):
        doc["mcp"]["transport"] = c["transport"]


def _process_fields(doc: dict[str, Any], p: dict[str, Any]) -> None:
    doc["process"] = {"pid": p.get("pid"), "name": p.get("name"), "executable": p.get("exe"),
                      "command_line": p.get("cmdline"), "start": p.get("start"),
                      "parent": {"pid": p.get("ppid"), "name": p.get("parent_name")}}
    if p.get("user_id"):
        doc["user"] = {"id": p["user_id"]}
        doc["process"]["user"] = {"id": p["user_id"]}
    doc["mcp"]["server"] = {"command": p.get("cmdline")}
    doc["mcpeeker"]["match"] = p.get("matched")
