"""Which findings `mcpeeker finding list` shows: a typed filter turned into one OpenSearch query."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from datetime import datetime
from typing import Any

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
    since: datetime | None = None  # last seen at or after
    until: datetime | None = None  # last seen before
    text: str | None = None
    suppressed: bool | None = None  # None: both


def _wildcard_escape(text: str) -> str:
    return "".join("\\" + c if c in "*?\\" else c for c in text)


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


def search_findings(settings: Settings, client: Any, where: FindingFilter, size: int = 100) -> list[dict[str, Any]]:
    """Matching findings, highest score first, newest first among equals."""
    index = settings.index("mcp-findings")
    client.indices.refresh(index=index)
    body = {
        "size": size,
        "sort": [{"score": "desc"}, {"last_seen": "desc"}, {"finding.id": "asc"}],
        "query": finding_query(where),
    }
    return [hit["_source"] for hit in client.search(index=index, body=body)["hits"]["hits"]]


def count_findings(settings: Settings, client: Any, where: FindingFilter) -> int:
    index = settings.index("mcp-findings")
    client.indices.refresh(index=index)
    return int(client.count(index=index, body={"query": finding_query(where)})["count"])
