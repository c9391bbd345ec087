"""The findings a principal may see, filtered and paged (search_after), for `GET /api/v1/findings`.

A role without finding.all (a developer) sees the findings on their own hosts (the token's hosts claim, and the
hosts of the registry entries they own), the findings whose registry owner they are and the findings their entries
were claimed from; a finding outside that scope answers 404, as if it did not exist.
"""

from __future__ import annotations

import base64
import ipaddress
from dataclasses import dataclass, field
from typing import Any

import orjson

from ..errors import MCPeekerError
from ..registry.model import RegistryEntry
from ..settings import Settings

SORT: list[dict[str, Any]] = [{"score": "desc"}, {"last_seen": "desc"}, {"instance.key": "asc"}]
TEXT_FIELDS = ("mcp.server.name", "mcp.config.server_name", "host.name", "instance.key", "url.full", "mcp.tools.names")


class BadCursor(MCPeekerError):
    pass


@dataclass(frozen=True)
class Scope:
    """What a principal without finding.all may see."""

    owner: str
    hosts: tuple[str, ...] = ()  # host names, addresses, machine ids and their keyed ids
    entries: tuple[RegistryEntry, ...] = ()

    def query(self) -> dict[str, Any]:
        should: list[dict[str, Any]] = [{"term": {"registry.owner": self.owner}}]
        names = set(self.hosts)
        host_ids = set(self.hosts)
        ips: set[str] = {h for h in self.hosts if _is_ip(h)}
        findings: set[str] = set()
        for entry in self.entries:
            host = entry.get("host", {})
            if host.get("id"):
                host_ids.add(host["id"])
            if host.get("name"):
                names.add(host["name"])
            for value in (host.get("ip"), entry.get("server", {}).get("ip")):
                if value:
                    ips.add(value)
            if entry.get("source_finding"):
                findings.add(str(entry["source_finding"]))
        if names:
            should += [{"terms": {"host.name": sorted(names)}}, {"terms": {"host.hostname": sorted(names)}}]
        if host_ids:
            should.append({"terms": {"host.id": sorted(host_ids)}})
        valid_ips = sorted(ip for ip in ips if _is_ip(ip))  # an ip field refuses anything else
        if valid_ips:
            should += [{"terms": {"host.ip": valid_ips}}, {"terms": {"destination.ip": valid_ips}}]
        if findings:
            should.append({"ids": {"values": sorted(findings)}})
        return {"bool": {"should": should, "minimum_should_match": 1}}


def _is_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
        return True
    except ValueError:
        return False


@dataclass(frozen=True)
class FindingFilter:
    classification: tuple[str, ...] = ()
    severity: tuple[str, ...] = ()
    status: tuple[str, ...] = ()
    host: str | None = None
    owner: str | None = None
    since: str | None = None
    text: str | None = None
    limit: int = 50
    cursor: str | None = None


@dataclass
class Page:
    items: list[dict[str, Any]]
    total: int
    next_cursor: str | None = None
    filters: dict[str, Any] = field(default_factory=dict)


def _wildcard(text: str) -> str:
    escaped = "".join("\\" + c if c in "*?\\" else c for c in text)
    return f"*{escaped}*"


def _query(filt: FindingFilter, scope: Scope | None) -> dict[str, Any]:
    clauses: list[dict[str, Any]] = []
    if filt.classification:
        clauses.append({"terms": {"classification": list(filt.classification)}})
    if filt.severity:
        clauses.append({"terms": {"severity": list(filt.severity)}})
    if filt.status:
        clauses.append({"terms": {"finding.status": list(filt.status)}})
    if filt.host:
        host_fields = ["host.name", "host.hostname", "host.id"]
        host_query: list[dict[str, Any]] = [{"term": {f: filt.host}} for f in host_fields]
        if _is_ip(filt.host):
            host_query += [{"term": {"host.ip": filt.host}}, {"term": {"destination.ip": filt.host}}]
        clauses.append({"bool": {"should": host_query, "minimum_should_match": 1}})
    if filt.owner:
        clauses.append({"term": {"registry.owner": filt.owner}})
    if filt.since:
        clauses.append({"range": {"last_seen": {"gte": filt.since}}})
    if filt.text:
        pattern = _wildcard(filt.text)
        text_query = [{"wildcard": {f: {"value": pattern, "case_insensitive": True}}} for f in TEXT_FIELDS]
        clauses.append({"bool": {"should": text_query, "minimum_should_match": 1}})
    if scope is not None:
        clauses.append(scope.query())
    return {"bool": {"filter": clauses}} if clauses else {"match_all": {}}


def encode_cursor(sort_values: list[Any]) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(sort_values)).decode().rstrip("=")


def decode_cursor(cursor: str) -> list[Any]:
    try:
        values = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, orjson.JSONDecodeError) as exc:
        raise BadCursor("cursor: not a cursor this API handed out") from exc
    if not isinstance(values, list) or len(values) != len(SORT):
        raise BadCursor("cursor: not a cursor this API handed out")
    return values


def list_findings(settings: Settings, client: Any, filt: FindingFilter, scope: Scope | None) -> Page:
    body: dict[str, Any] = {
        "size": filt.limit,
        "sort": SORT,
        "query": _query(filt, scope),
        "track_total_hits": True,
    }
    if filt.cursor:
        body["search_after"] = decode_cursor(filt.cursor)
    result = client.search(index=settings.index("mcp-findings"), body=body, params={"ignore_unavailable": "true"})
    hits = result["hits"]["hits"]
    total = result["hits"]["total"]
    more = len(hits) == filt.limit
    return Page(
        items=[hit["_source"] for hit in hits],
        total=int(total["value"] if isinstance(total, dict) else total),
        next_cursor=encode_cursor(hits[-1]["sort"]) if hits and more else None,
    )


def visible(settings: Settings, client: Any, finding_id: str, scope: Scope | None) -> dict[str, Any] | None:
    """The finding, or None when it does not exist or lies outside the scope."""
    query: dict[str, Any] = {"bool": {"filter": [{"ids": {"values": [finding_id]}}]}}
    if scope is not None:
        query["bool"]["filter"].append(scope.query())
    result = client.search(
        index=settings.index("mcp-findings"), body={"size": 1, "query": query}, params={"ignore_unavailable": "true"}
    )
    hits = result["hits"]["hits"]
    return hits[0]["_source"] if hits else None
