"""Findings of the kind "remote MCP service used": one per (client host, public remote MCP service).

The sensors and logs tag a sighting of a catalogue service (detections/remote/endpoints.yaml) with
`mcpeeker.remote` (service, host, how seen): Suricata's mcp-remote.rules, Zeek's mcp_remote.log, Squid's access.log,
a gateway's request log. Those are context evidence, never an MCP server instance (a DNS sighting's destination is
the resolver, a CONNECT's the proxy). Here they become findings keyed by the client (source.ip, or the host id an
agent reports for that address) and the service (mcpeeker.model.remote_key).

How the use was seen, weakest to strongest (the strongest wins and is what configs/scoring.yaml `remote` scores):
  dns        a DNS lookup of a host dedicated to MCP
  tls        a TLS session to it (SNI, server certificate) or a proxy CONNECT to it (the tunnel)
  proxy_url  a URL on a known MCP path: a proxy's URL log, an API gateway's request log, a TLS-inspecting gateway,
             cleartext HTTP

The number of (client, service) pairs is small (hosts x services used), so every cycle aggregates all of them with
one composite aggregation and the engine writes only the findings whose content changed; a registry change, an
expiry or a new host address therefore takes effect at the next cycle without new evidence.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from .. import remote_endpoints
from ..model import remote_key
from ..model.records import Finding
from ..registry.model import RegistryEntry, effective_status, is_active, matches_remote
from .engine import _drop_empty
from .instances import HostMap, finding_id
from .scoring import ScoringConfig, registry_classify

KIND = "remote"
# mcpeeker.remote.seen (per sensor) -> the strength it proves; unknown kinds (Zeek's "other") count for nothing.
SEEN_STRENGTH: dict[str, str] = {
    "dns": "dns",
    "tls_sni": "tls",
    "certificate": "tls",
    "http_host": "tls",  # the Host of a proxy CONNECT on the wire: the tunnel that follows is TLS to the host
    "proxy_connect": "tls",
    "url": "proxy_url",
    "proxy_url": "proxy_url",
    "gateway_url": "proxy_url",  # an API gateway's request log (ingest kong): the whole upstream URL
}
STRENGTHS = ("dns", "tls", "proxy_url")
DEFAULT_WEIGHTS = {"dns": 3.0, "tls": 6.0, "proxy_url": 9.0}
REFS = 5


@dataclass
class RemoteUse:
    """What the evidence says of one (client address, service) pair."""

    client_ip: str
    service: str
    count: int = 0
    first_seen: str = ""
    last_seen: str = ""
    seen: dict[str, int] = field(default_factory=dict)  # sensor's seen kind -> documents
    hosts: list[str] = field(default_factory=list)  # names the sensors matched
    modules: list[str] = field(default_factory=list)
    refs: list[str] = field(default_factory=list)

    def strength(self) -> str | None:
        proven = {SEEN_STRENGTH[s] for s in self.seen if s in SEEN_STRENGTH}
        return max(proven, key=STRENGTHS.index) if proven else None


def weights(config: ScoringConfig) -> dict[str, float]:
    return {**DEFAULT_WEIGHTS, **{k: float(v) for k, v in config.remote.items()}}


def uses(client: Any, index: str, page_size: int = 1000) -> Iterator[RemoteUse]:
    """Every (source.ip, mcpeeker.remote.service) pair of the events, with counts, times, kinds and references."""
    query = {"bool": {"filter": [{"exists": {"field": "mcpeeker.remote.service"}}, {"exists": {"field": "source.ip"}}]}}
    sources = [
        {"ip": {"terms": {"field": "source.ip"}}},
        {"service": {"terms": {"field": "mcpeeker.remote.service"}}},
    ]
    aggs = {
        "first": {"min": {"field": "@timestamp"}},
        "last": {"max": {"field": "@timestamp"}},
        "seen": {"terms": {"field": "mcpeeker.remote.seen", "size": 20}},
        "host": {"terms": {"field": "mcpeeker.remote.host", "size": 10}},
        "module": {"terms": {"field": "event.module", "size": 10}},
        "refs": {"top_hits": {"size": REFS, "sort": [{"@timestamp": "desc"}], "_source": False}},
    }
    after: dict[str, Any] | None = None
    while True:
        composite: dict[str, Any] = {"size": page_size, "sources": sources, **({"after": after} if after else {})}
        body = {
            "size": 0,
            "track_total_hits": False,
            "query": query,
            "aggs": {"pairs": {"composite": composite, "aggs": aggs}},
        }
        response = client.search(index=index, body=body, ignore_unavailable=True, allow_no_indices=True)
        page = response.get("aggregations", {}).get("pairs")
        if not page or not page["buckets"]:
            return
        for b in page["buckets"]:
            yield RemoteUse(
                client_ip=str(b["key"]["ip"]),
                service=str(b["key"]["service"]),
                count=int(b["doc_count"]),
                first_seen=b["first"].get("value_as_string") or "",
                last_seen=b["last"].get("value_as_string") or "",
                seen={x["key"]: int(x["doc_count"]) for x in b["seen"]["buckets"]},
                hosts=sorted(x["key"] for x in b["host"]["buckets"]),
                modules=sorted(x["key"] for x in b["module"]["buckets"]),
                refs=[h["_id"] for h in b["refs"]["hits"]["hits"]],
            )
        after = page.get("after_key")
        if not after:
            return


@dataclass
class RemoteFinding:
    """One (client, service) finding being assembled from the uses of the client's addresses."""

    key: str
    client: str
    host_id: str | None
    service: str
    uses: list[RemoteUse] = field(default_factory=list)

    def merged(self) -> RemoteUse:
        out = RemoteUse(self.client, self.service)
        for use in self.uses:
            out.count += use.count
            if use.first_seen and (not out.first_seen or use.first_seen < out.first_seen):
                out.first_seen = use.first_seen
            out.last_seen = max(out.last_seen, use.last_seen)
            for kind, n in use.seen.items():
                out.seen[kind] = out.seen.get(kind, 0) + n
            out.hosts = sorted(set(out.hosts) | set(use.hosts))
            out.modules = sorted(set(out.modules) | set(use.modules))
            out.refs = (out.refs + use.refs)[: REFS * 2]
        return out


def group(all_uses: Iterator[RemoteUse], hosts: HostMap) -> dict[str, RemoteFinding]:
    """Uses by finding key: addresses an agent claims join that host's finding."""
    out: dict[str, RemoteFinding] = {}
    for use in all_uses:
        host_id = hosts.host_for(use.client_ip)
        client = host_id or use.client_ip
        key = remote_key.key(client, use.service)
        out.setdefault(key, RemoteFinding(key, client, host_id, use.service)).uses.append(use)
    return out


def registry_match(
    entries: list[RegistryEntry], service: str, service_host: str, clients: tuple[str, ...], now: datetime
) -> RegistryEntry | None:
    candidates = [e for e in entries if matches_remote(e, service, service_host, clients)]
    # An active approval wins over a pending, revoked or expired entry, as for server findings.
    candidates.sort(key=lambda e: (not is_active(e, now), e["entry_id"]))
    return candidates[0] if candidates else None


def build(
    found: RemoteFinding,
    hosts: HostMap,
    entries: list[RegistryEntry],
    config: ScoringConfig,
    matcher: remote_endpoints.Matcher,
    now: datetime,
) -> Finding | None:
    """The finding of one (client, service), or None when no sighting proves anything (unknown seen kinds only)."""
    use = found.merged()
    strength = use.strength()
    if strength is None:
        return None
    endpoint = matcher.service(found.service)
    service_host = endpoint.host if endpoint else (use.hosts[0] if use.hosts else "")
    known = hosts.ips_of.get(found.host_id, set()) if found.host_id else set()
    client_ips = sorted({u.client_ip for u in found.uses} | known)
    clients = tuple([found.host_id] if found.host_id else []) + tuple(client_ips)
    entry = registry_match(entries, found.service, service_host, clients, now)
    active = entry is not None and is_active(entry, now)
    contributions = {f"remote_{strength}": weights(config)[strength]}
    # The same rules as server findings: the registry is the authority on approval, and an unapproved use is
    # never below the floor.
    score, classification = registry_classify(contributions, active, config)
    fid = finding_id(found.key)
    vendor = endpoint.vendor if endpoint else ""
    name = endpoint.name if endpoint else found.service
    registry: dict[str, Any] = {"match": False}
    if entry is not None:
        registry = {
            "match": active,
            "entry_id": entry["entry_id"],
            "owner": entry.get("owner"),
            "team": entry.get("team"),
            "status": effective_status(entry, now),
            "expires": entry.get("expires"),
        }
    state = registry.get("status") or "unregistered"
    summary = f"Remote MCP service {name} ({service_host or found.service}) used by {found.client[:39]}"
    summary += f", seen by {strength.replace('_', ' ')}; registry: {state}"
    doc: dict[str, Any] = {
        "finding": {"id": fid, "status": "open", "summary": summary},
        "first_seen": use.first_seen,
        "last_seen": use.last_seen,
        "@timestamp": use.last_seen,
        "score": score,
        "classification": classification,
        "severity": config.classification_severity.get(classification, "info"),
        "instance": {
            "key": found.key,
            "kind": KIND,
            "raw_keys": [found.key],
            "evidence_fp": _fingerprint(found.key, use),
            "facts": {"seen_counts": dict(sorted(use.seen.items())), "client_ips": client_ips},
        },
        "host": {"id": found.host_id, "ip": client_ips[:10]},
        "remote": {
            "service": found.service,
            "name": name,
            "vendor": vendor,
            "host": service_host,
            "dedicated": endpoint.dedicated if endpoint else None,
            "seen": strength,
            "seen_kinds": sorted(use.seen),
            "client": found.client,
        },
        "evidence": {"types": ["remote"], "total": use.count, "refs": use.refs, "sources": use.modules},
        "registry": registry,
        "scoring": {"contributions": contributions},
    }
    if not active:
        remote = {"service": found.service, "clients": [found.client]}
        doc["suggested_entry"] = {"owner": "", "team": "", "purpose": "", "source_finding": fid, "remote": remote}
    return cast(Finding, _drop_empty(doc))


def findings(
    client: Any,
    events_index: str,
    hosts: HostMap,
    entries: list[RegistryEntry],
    config: ScoringConfig,
    now: datetime,
    page_size: int = 1000,
) -> list[Finding]:
    """Every remote-service finding the events support, built against the current registry."""
    remote_entries = [e for e in entries if e.get("remote")]
    matcher = remote_endpoints.default_matcher()
    out = []
    for found in group(uses(client, events_index, page_size), hosts).values():
        doc = build(found, hosts, remote_entries, config, matcher, now)
        if doc is not None:
            out.append(doc)
    return out


def _fingerprint(key: str, use: RemoteUse) -> str:
    parts = [key, str(use.count), use.first_seen, use.last_seen, *sorted(f"{k}={v}" for k, v in use.seen.items())]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:24]
