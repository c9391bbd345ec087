"""The findings a principal may see, filtered (the CLI's filter, mcpeeker.cases.queries) and paged (search_after),
for `GET /api/v1/findings`.

A role without finding.all (a developer) sees the findings on their own hosts (the token's hosts claim, and the
hosts of their approved registry entries), the findings whose registry owner they are and the findings their
entries were claimed from; a finding outside that scope answers 404, as if it did not exist.
"""

from __future__ import annotations

import base64
import ipaddress
from dataclasses import dataclass, field
from typing import Any

import orjson

from ..cases.queries import FindingFilter, finding_query
from ..errors import MCPeekerError
from ..registry.model import RegistryEntry
from ..settings import Settings

SORT: list[dict[str, Any]] = [{"score": "desc"}, {"last_seen": "desc"}, {"finding.id": "asc"}]


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
class FindingPage:
    """One page of `where` (the CLI's filter, mcpeeker.cases.queries), for one registry owner if given."""

    where: FindingFilter = field(default_factory=FindingFilter)
    owner: str | None = None
    limit: int = 50
    cursor: str | None = None


@dataclass
class Page:
    items: list[dict[str, Any]]
    total: int
    next_cursor: str | None = None


def _query(page: FindingPage, scope: Scope | None) -> dict[str, Any]:
    clauses: list[dict[str, Any]] = [finding_query(page.where)]
    if page.owner:
        clauses.append({"term": {"registry.owner": page.owner}})
    if scope is not None:
        clauses.append(scope.query())
    return {"bool": {"filter": clauses}}


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


def list_findings(settings: Settings, client: Any, page: FindingPage, scope: Scope | None) -> Page:
    body: dict[str, Any] = {
        "size": page.limit,
        "sort": SORT,
        "query": _query(page, scope),
        "track_total_hits": True,
    }
    if page.cursor:
        body["search_after"] = decode_cursor(page.cursor)
    result = client.search(index=settings.index("mcp-findings"), body=body, params={"ignore_unavailable": "true"})
    hits = result["hits"]["hits"]
    total = result["hits"]["total"]
    more = len(hits) == page.limit
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
