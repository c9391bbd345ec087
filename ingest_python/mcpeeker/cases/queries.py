"""Which findings `mcpeeker finding list` (and `GET /api/v1/findings`) shows, in which order: a typed filter turned
into one OpenSearch query, and `--sort FIELD[:asc|desc]` turned into its sort clause."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .. import catalogue
from ..errors import MCPeekerError
from ..settings import Settings
from ..timeutil import iso

# Keyword fields free text is looked for in (case-insensitive substring).
TEXT_FIELDS = (
    "finding.summary",
    "finding.status_reason",
    "instance.key",
    "mcp.server.name",
    "mcp.tools.names",
    "host.id",
    "host.name",
    "host.hostname",
    "registry.owner",
    "attack.types",
)


@dataclass(frozen=True)
class FindingFilter:
    classification: tuple[str, ...] = ()
    severity: tuple[str, ...] = ()
    status: tuple[str, ...] = ()
    host: str | None = None  # host id, name or address
    owner: str | None = None  # registry.owner: the person the finding's registry entry belongs to
    detection: str | None = None  # catalogue id (detections/MCP-*.yaml) the finding carries
    since: datetime | None = None  # last seen at or after
    until: datetime | None = None  # last seen before
    text: str | None = None
    suppressed: bool | None = None  # None: both


def _wildcard_escape(text: str) -> str:
    return "".join("\\" + c if c in "*?\\" else c for c in text)


class QueryError(MCPeekerError):
    pass


def detection_query(detection: str) -> dict[str, Any]:
    """Findings carrying a catalogue detection: as a trust penalty, or through the attack type it detects (the same
    reading as mcpeeker.cases.suppressions.detections_of)."""
    entry = next((e for e in catalogue.entries() if str(e["id"]) == detection), None)
    if entry is None:
        raise QueryError(f"detection: {detection!r} is not a catalogue id (detections/MCP-*.yaml)")
    should: list[dict[str, Any]] = [{"term": {"trust.penalties.detection": detection}}]
    if entry.get("attack_type"):
        should.append({"term": {"attack.types": str(entry["attack_type"])}})
    return {"bool": {"should": should, "minimum_should_match": 1}}


def finding_query(where: FindingFilter) -> dict[str, Any]:
    filters: list[dict[str, Any]] = []
    must_not: list[dict[str, Any]] = []
    for name, values in (
        ("classification", where.classification),
        ("severity", where.severity),
        ("finding.status", where.status),
    ):
        if values:
            filters.append({"terms": {name: list(values)}})
    if where.host:
        should: list[dict[str, Any]] = [
            {"term": {name: where.host}} for name in ("host.id", "host.name", "host.hostname")
        ]
        try:
            ipaddress.ip_address(where.host)
            should += [{"term": {"host.ip": where.host}}, {"term": {"destination.ip": where.host}}]
        except ValueError:
            pass
        filters.append({"bool": {"should": should, "minimum_should_match": 1}})
    if where.owner:
        filters.append({"term": {"registry.owner": where.owner}})
    if where.detection:
        filters.append(detection_query(where.detection))
    if where.since or where.until:
        bounds = {"gte": iso(where.since)} if where.since else {}
        if where.until:
            bounds["lt"] = iso(where.until)
        filters.append({"range": {"last_seen": bounds}})
    if where.text and where.text.strip():
        pattern = f"*{_wildcard_escape(where.text.strip())}*"
        filters.append(
            {
                "bool": {
                    "should": [
                        {"wildcard": {name: {"value": pattern, "case_insensitive": True}}} for name in TEXT_FIELDS
                    ],
                    "minimum_should_match": 1,
                }
            }
        )
    if where.suppressed is True:
        filters.append({"term": {"finding.suppressed": True}})
    elif where.suppressed is False:
        must_not.append({"term": {"finding.suppressed": True}})
    if not filters and not must_not:
        return {"match_all": {}}
    return {"bool": {"filter": filters, "must_not": must_not}}


# `--sort NAME[:asc|desc]`: the names a person types -> the indexed field and its natural direction.
SORT_FIELDS: dict[str, tuple[str, str]] = {
    "score": ("score", "desc"),
    "severity": ("severity_score", "desc"),  # ranked, not alphabetical
    "last_seen": ("last_seen", "desc"),
    "first_seen": ("first_seen", "desc"),
    "status": ("finding.status", "asc"),
    "status_changed": ("finding.status_changed_at", "desc"),
    "classification": ("classification", "asc"),
    "host": ("host.name", "asc"),
    "server": ("mcp.server.name", "asc"),
    "owner": ("registry.owner", "asc"),
    "trust": ("trust.score", "asc"),
    "id": ("finding.id", "asc"),
}
DEFAULT_SORT: tuple[tuple[str, str], ...] = (("score", "desc"), ("last_seen", "desc"))


def parse_sort(text: str) -> tuple[str, str]:
    """`score`, `last_seen:asc` -> (indexed field, direction); an unknown name or direction is an error naming it."""
    name, _, direction = text.strip().partition(":")
    if name not in SORT_FIELDS:
        raise QueryError(f"--sort {text!r}: sort by one of {', '.join(SORT_FIELDS)}")
    field, natural = SORT_FIELDS[name]
    direction = direction.lower() or natural
    if direction not in ("asc", "desc"):
        raise QueryError(f"--sort {text!r}: the direction is asc or desc, not {direction!r}")
    return field, direction


def sort_clause(order: tuple[tuple[str, str], ...] = ()) -> list[dict[str, Any]]:
    """The requested (field, direction) pairs, then the default order, then finding.id so ties page stably.
    Findings without the field sort last either way."""
    clause: list[dict[str, Any]] = []
    seen: set[str] = set()
    for field, direction in (*order, *DEFAULT_SORT, ("finding.id", "asc")):
        if field not in seen:
            seen.add(field)
            clause.append({field: {"order": direction, "missing": "_last", "unmapped_type": "keyword"}})
    return clause


def search_findings(
    settings: Settings,
    client: Any,
    where: FindingFilter,
    size: int = 100,
    order: tuple[tuple[str, str], ...] = (),
) -> list[dict[str, Any]]:
    """Matching findings in `order` (parse_sort pairs); by default highest score first, newest first among equals."""
    index = settings.index("mcp-findings")
    client.indices.refresh(index=index)
    body = {"size": size, "sort": sort_clause(order), "query": finding_query(where)}
    return [hit["_source"] for hit in client.search(index=index, body=body)["hits"]["hits"]]


def count_findings(settings: Settings, client: Any, where: FindingFilter) -> int:
    index = settings.index("mcp-findings")
    client.indices.refresh(index=index)
    return int(client.count(index=index, body={"query": finding_query(where)})["count"])
