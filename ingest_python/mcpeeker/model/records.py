"""Typed records of the documents the pipeline writes: an evidence event (index mcp-events-*, templates/
mcp-events.json), a finding (index mcp-findings, templates/mcp-findings.json) and a registry entry (index
mcp-registry, templates/mcp-registry.json). tests/model/test_records.py and tests/registry/test_model.py keep their
fields equal to the templates. ECS namespaces the normalisers fill field by field (source, http, tls, ...)
stay `dict[str, Any]` here; the project's own namespaces are spelled out.
"""

from __future__ import annotations

from typing import Any, TypedDict

# --- evidence: one document per observation (mcp-events-*) ----------------------------------------------------------


class EvidenceInfo(TypedDict, total=False):
    type: str  # endpoint | network | attack | judge | context
    kind: str
    score: float
    confidence: str  # high | medium | low
    reason: str


class EvidenceAttack(TypedDict, total=False):
    type: list[str]
    technique: str


class EvidenceInstance(TypedDict, total=False):
    key: str  # mcpeeker.model.instance_key


class EvidenceSource(TypedDict, total=False):
    file: str
    line: int
    offset: int


class EvidenceRemote(TypedDict, total=False):
    """A public remote MCP service seen (detections/remote/endpoints.yaml, mcpeeker.remote_endpoints)."""

    service: str  # the catalogue's service id
    host: str
    seen: str  # dns | tls_sni | http_host | url | proxy_connect | proxy_url
    dedicated: bool


class EvidenceMeta(TypedDict, total=False):
    """The `mcpeeker` namespace of an evidence document."""

    evidence: EvidenceInfo
    attack: EvidenceAttack
    instance: EvidenceInstance
    remote: EvidenceRemote
    snippet: str
    source: EvidenceSource
    schema_version: str
    key_id: str
    time_skew: bool  # @timestamp far from the time the event was read (lifecycle.skew_*): kept, flagged
    time_skew_seconds: int  # read time minus @timestamp (negative: an event from the future)


class ScanSummaryMeta(EvidenceMeta, total=False):
    """An agent scan summary also carries its counters, stored unindexed (the template is dynamic: false)."""

    scan: dict[str, Any]


class EventInfo(TypedDict, total=False):
    id: str
    kind: str
    category: list[str]
    type: list[str]
    module: str
    dataset: str
    action: str
    outcome: str
    severity: int
    ingested: str
    created: str
    provider: str


# "@timestamp" is not an identifier, hence the functional form.
Evidence = TypedDict(
    "Evidence",
    {
        "@timestamp": str,
        "event": EventInfo,
        "mcpeeker": EvidenceMeta,
        "host": dict[str, Any],
        "user": dict[str, Any],
        "agent": dict[str, Any],
        "observer": dict[str, Any],
        "source": dict[str, Any],
        "destination": dict[str, Any],
        "network": dict[str, Any],
        "url": dict[str, Any],
        "http": dict[str, Any],
        "user_agent": dict[str, Any],
        "tls": dict[str, Any],
        "dns": dict[str, Any],
        "process": dict[str, Any],
        "file": dict[str, Any],
        "rule": dict[str, Any],
        "threat": dict[str, Any],
        "error": dict[str, Any],
        "tags": list[str],
        "labels": dict[str, Any],
        "zeek": dict[str, Any],
        "suricata": dict[str, Any],
        "mcp": dict[str, Any],
        "gen_ai": dict[str, Any],
        "jsonrpc": dict[str, Any],
    },
    total=False,
)


# --- finding: one document per MCP instance (mcp-findings) ------------------------------------------------------------


class FindingHead(TypedDict, total=False):
    id: str
    status: str  # open | acknowledged | resolved | false_positive | accepted_risk (mcpeeker.cases.lifecycle)
    summary: str
    status_changed_at: str
    status_changed_by: str  # the actor name the audit chain records
    status_reason: str
    reopened_at: str
    reopen_reason: str  # which new attack evidence reopened it
    # Triage timings (mcpeeker.cases.lifecycle.timings): one round from opening to closing; None clears them.
    opened_at: str | None  # the last reopening (before any: first_seen counts)
    acknowledged_at: str | None  # the first analyst status change away from open
    resolved_at: str | None  # the first move into resolved / false_positive / accepted_risk
    time_to_acknowledge: int | None  # seconds from opening to acknowledged_at
    time_to_resolve: int | None  # seconds from opening to resolved_at
    suppressed: bool
    suppression_ids: list[str]  # mcpeeker.cases.suppressions: the rules that mute it (it stays stored and counted)


class TrustPenalty(TypedDict, total=False):
    detection: str
    penalty: int
    reason: str
    evidence: str  # why it applied: "attack type x, agent risk y"


class FindingTrust(TypedDict, total=False):
    score: int
    penalties: list[TrustPenalty]


class FindingInstance(TypedDict, total=False):
    key: str
    kind: str
    raw_keys: list[str]
    evidence_fp: str
    facts: dict[str, list[Any]]  # unindexed: what a re-score without new evidence rebuilds from


class FindingHostOs(TypedDict, total=False):
    type: str
    family: str
    name: str


class FindingHost(TypedDict, total=False):
    id: str | None
    name: str
    ip: list[str]
    hostname: str
    os: FindingHostOs


class FindingDestination(TypedDict, total=False):
    ip: str | None
    port: int | None
    domain: str


class FindingUrl(TypedDict, total=False):
    full: str
    path: str


class McpServer(TypedDict, total=False):
    name: str | None
    version: str | None


class McpProtocol(TypedDict, total=False):
    version: list[str]


class McpConfig(TypedDict, total=False):
    client: list[str]
    server_name: list[str]


class McpTools(TypedDict, total=False):
    names: list[str]


class FindingMcp(TypedDict, total=False):
    server: McpServer
    transport: list[str]
    spec_era: list[str]
    protocol: McpProtocol
    config: McpConfig
    tools: McpTools


class EvidenceRefs(TypedDict, total=False):
    endpoint: list[str]
    network: list[str]
    attack: list[str]
    judge: list[str]


class FindingEvidence(TypedDict, total=False):
    types: list[str]
    total: int
    endpoint: int
    network: int
    attack: int
    judge: int
    refs: list[str]
    refs_by_type: EvidenceRefs
    sources: list[str]


class FindingAttack(TypedDict, total=False):
    types: list[str]


class FindingRegistry(TypedDict, total=False):
    match: bool
    entry_id: str
    owner: str | None
    team: str | None
    status: str
    expires: str | None


class FindingRemote(TypedDict, total=False):
    """A "remote MCP service used" finding (mcpeeker.correlate.remote): which public service, how it was seen."""

    service: str  # the catalogue's service id
    name: str
    vendor: str
    host: str  # the service's host name
    dedicated: bool
    seen: str  # the strongest sighting: dns < tls < proxy_url
    seen_kinds: list[str]  # every sensor kind (dns, tls_sni, certificate, http_host, url, proxy_connect, proxy_url)
    client: str  # the client's host id, or its address when no agent claims it


Finding = TypedDict(
    "Finding",
    {
        "finding": FindingHead,
        "@timestamp": str,
        "first_seen": str,
        "last_seen": str,
        "updated": str,
        "score": float,
        "classification": str,
        "severity": str,
        "severity_score": int,
        "trust": FindingTrust,
        "instance": FindingInstance,
        "host": FindingHost,
        "destination": FindingDestination,
        "url": FindingUrl,
        "mcp": FindingMcp,
        "evidence": FindingEvidence,
        "attack": FindingAttack,
        "registry": FindingRegistry,
        "remote": FindingRemote,
        "suggested_entry": dict[str, Any],  # unindexed: a RegistryEntry draft, blanks left for the owner to fill
        "scoring": dict[str, Any],  # unindexed: each signal's contribution
    },
    total=False,
)


# --- registry entry: one document per approval of an MCP server (mcp-registry) ---------------------------------------


class EntryHost(TypedDict, total=False):
    id: str
    name: str
    ip: str


class EntryServer(TypedDict, total=False):
    name: str
    port: int
    url: str
    ip: str


class EntryRemote(TypedDict, total=False):
    """A remote-service entry (mcpeeker.registry.model): use of a public MCP service, for all or some clients."""

    service: str  # the catalogue's service id
    host: str  # or the service's host name
    clients: list[str]  # keyed host ids or IP addresses; empty: every client


# One lifecycle step; "from" is a keyword, hence the functional form.
HistoryItem = TypedDict(
    "HistoryItem", {"at": str, "action": str, "actor": str, "from": str, "to": str, "note": str}, total=False
)


class RegistryEntry(TypedDict, total=False):
    entry_id: str
    status: str  # pending | approved | rejected | revoked | expired (mcpeeker.registry.model.STATUSES)
    owner: str
    team: str | None
    purpose: str
    host: EntryHost
    server: EntryServer
    remote: EntryRemote
    created: str
    updated: str
    expires: str
    approved_by: str
    source_finding: str | None
    history: list[HistoryItem]
    expires_requested: bool
