"""Analyst verdicts on findings, a finding's investigation timeline, the findings list
(`mcpeeker feedback`, `mcpeeker finding show|list`: cli/feedback.py).

A verdict moves the finding's status (mcpeeker.cases.lifecycle.VERDICT_STATUS: false_positive -> false_positive,
true_positive -> acknowledged, benign -> accepted_risk) when that transition is allowed, and a false_positive
verdict can create a suppression of the finding's instance in the same step."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from . import audit
from .cases import lifecycle, queries
from .cases import suppressions as sup
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


@dataclass(frozen=True)
class VerdictResult:
    feedback: dict[str, Any]
    status: lifecycle.StatusChange | None  # the status the verdict moved the finding to (None: unchanged)
    suppression: sup.Suppression | None


@dataclass(frozen=True)
class SuppressRequest:
    """A suppression created with a false_positive verdict: the finding's instance, until `expires`."""

    expires: datetime
    max_days: int = sup.DEFAULT_MAX_DAYS


def give_verdict(
    settings: Settings,
    client: Any,
    actor: Actor,
    finding_id: str,
    verdict: str,
    note: str,
    suppress: SuppressRequest | None = None,
) -> VerdictResult:
    """Store the verdict, move the finding's status, and (false_positive only) create a suppression."""
    if suppress is not None and verdict != "false_positive":
        raise MCPeekerError(f"only a false_positive verdict creates a suppression, not {verdict}")
    finding = get_finding(settings, client, finding_id)
    match = sup.Match(instance=finding["instance"]["key"])
    if suppress is not None:
        sup.validate_match(match)  # fail before anything is stored
    doc = _store_feedback(settings, client, actor, finding_id, verdict, note)
    change = None
    status = lifecycle.status_for_verdict(verdict)
    old = str(finding.get("finding", {}).get("status") or "open")
    if status and status in lifecycle.TRANSITIONS.get(old, frozenset()):
        reason = f"verdict {verdict}" + (f": {note}" if note.strip() else "")
        change = lifecycle.set_status(settings, client, finding_id, status, actor, reason)
    rule = None
    if suppress is not None:
        rule = sup.add(
            settings,
            client,
            actor,
            match,
            actor.name,
            note.strip() or "false positive",
            suppress.expires,
            suppress.max_days,
            source_finding=finding_id,
        )
    return VerdictResult(doc, change, rule)


def add_feedback(
    settings: Settings, client: Any, actor: Actor, finding_id: str, verdict: str, note: str
) -> dict[str, Any]:
    """Store a verdict (audited) and move the finding's status; the stored verdict document."""
    return give_verdict(settings, client, actor, finding_id, verdict, note).feedback


def _store_feedback(
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
    """Evidence, verdicts, status changes and registry events of one finding, in time order."""
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
        if src["action"] in (lifecycle.STATUS_ACTION, lifecycle.REOPEN_ACTION):
            change = json.loads(src.get("content_json") or "{}")
            rows.append(
                {
                    "at": src["@timestamp"],
                    "kind": "reopened" if src["action"] == lifecycle.REOPEN_ACTION else "status",
                    "source": src["actor"]["name"],
                    "detail": f"{change.get('from')} -> {change.get('to')}: {change.get('reason', '')}",
                    "id": hit["_id"],
                }
            )
        elif src["action"].startswith("registry."):
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


def list_findings(
    settings: Settings,
    client: Any,
    size: int = 100,
    where: queries.FindingFilter | None = None,
    order: tuple[tuple[str, str], ...] = (),
) -> list[dict[str, Any]]:
    """Findings matching `where` (every finding without it), in `order` (queries.parse_sort), highest score first."""
    return queries.search_findings(settings, client, where or queries.FindingFilter(), size, order)
