"""Analyst verdicts on findings, a finding's investigation timeline, the findings list
(`mcpeeker feedback`, `mcpeeker finding show|list`: cli/feedback.py)."""

from __future__ import annotations

import hashlib
from datetime import datetime, timezone
import json
from typing import Any

from . import audit
from .errors import MCPeekerError
from .roles import Actor
from .settings import Settings
from .timeutil import iso, parse_iso, utcnow

VERDICTS = ("true_positive", "false_positive", "benign", "needs_info")


def get_finding(settings: Settings, client: Any, finding_id: str) -> dict[str, Any]:
    doc = client.get(index=settings.index("mcp-findings"), id=finding_id, ignore=[404])
    if not doc.get("found"):
        raise MCPeekerError(f"no finding {finding_id!r} in {settings.index('mcp-findings')}")
    source: dict[str, Any] = doc["_source"]
    return source


def add_feedback(
    settings: Settings, client: Any, actor: Actor, finding_id: str, verdict: str, note: str
) -> dict[str, Any]:
    if verdict not in VERDICTS:
        raise MCPeekerError(f"verdict must be one of {', '.join(VERDICTS)}, not {verdict!r}")
    get_finding(settings, client, finding_id)
    audit.signing_key(settings)  # no audit key: stop before the feedback is stored
    now = iso(utcnow())
    doc = {
        "@timestamp": now,
        "finding_id": finding_id,
        "verdict": verdict,
        "note": note,
        "actor": {"name": actor.name, "role": actor.role},
    }
    doc["feedback_id"] = hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()[:20]
    client.index(index=settings.index("mcp-feedback"), id=doc["feedback_id"], body=doc, refresh="wait_for")
    audit.append(
        settings,
        client,
        actor,
        "feedback.add",
        "finding",
        finding_id,
        {"feedback_id": doc["feedback_id"], "verdict": verdict, "note": note},
    )
    return doc


def timeline(settings: Settings, client: Any, finding_id: str, limit: int = 200) -> list[dict[str, Any]]:
    """Evidence, verdicts and registry events of one finding, in time order."""
    finding = get_finding(settings, client, finding_id)
    raw_keys = finding.get("instance", {}).get("raw_keys") or [finding["instance"]["key"]]
    rows: list[dict[str, Any]] = []
    # The newest evidence matters most on a busy finding; the rows are put back in time order below.
    events = client.search(
        index=settings.index("mcp-events-*"),
        params={"ignore_unavailable": "true"},
        body={"size": limit, "sort": [{"@timestamp": "desc"}], "query": {"terms": {"mcpeeker.instance.key": raw_keys}}},
    )
    for hit in events["hits"]["hits"]:
        src = hit["_source"]
        what = (
            src.get("rule", {}).get("name")
            or src.get("mcp", {}).get("method", {}).get("name")
            or src.get("mcpeeker", {}).get("evidence", {}).get("kind")
            or src.get("event", {}).get("dataset")
        )
        rows.append(
            {
                "at": src.get("@timestamp"),
                "kind": f"evidence/{src.get('mcpeeker', {}).get('evidence', {}).get('type')}",
                "source": src.get("event", {}).get("dataset"),
                "detail": str(what),
                "id": hit["_id"],
            }
        )
    verdicts = client.search(
        index=settings.index("mcp-feedback"),
        body={"size": limit, "sort": [{"@timestamp": "asc"}], "query": {"term": {"finding_id": finding_id}}},
    )
    for hit in verdicts["hits"]["hits"]:
        src = hit["_source"]
        rows.append(
            {
                "at": src["@timestamp"],
                "kind": "verdict",
                "source": src["actor"]["name"],
                "detail": f"{src['verdict']}: {src.get('note', '')}",
                "id": hit["_id"],
            }
        )
    entry_id = finding.get("registry", {}).get("entry_id")
    registry_query: dict[str, Any] = {
        "bool": {"should": [{"term": {"object.id": finding_id}}], "minimum_should_match": 1}
    }
    if entry_id:
        registry_query["bool"]["should"].append({"term": {"object.id": entry_id}})
    records = client.search(
        index=settings.index("mcp-audit"), body={"size": limit, "sort": [{"seq": "asc"}], "query": registry_query}
    )
    for hit in records["hits"]["hits"]:
        src = hit["_source"]
        if src["action"].startswith("registry."):
            rows.append(
                {
                    "at": src["@timestamp"],
                    "kind": "registry",
                    "source": src["actor"]["name"],
                    "detail": f"{src['action']} {src['object']['id']}",
                    "id": hit["_id"],
                }
            )
    return sorted(rows, key=lambda r: parse_iso(r["at"]) if r["at"] else datetime.min.replace(tzinfo=timezone.utc))


def list_findings(settings: Settings, client: Any, size: int = 100) -> list[dict[str, Any]]:
    client.indices.refresh(index=settings.index("mcp-findings"))
    hits = client.search(
        index=settings.index("mcp-findings"),
        body={"size": size, "sort": [{"score": "desc"}, {"last_seen": "desc"}], "query": {"match_all": {}}},
    )
    return [hit["_source"] for hit in hits["hits"]["hits"]]
