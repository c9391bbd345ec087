"""Suppressions: rules in `mcp-suppressions` that mute findings by host, server instance, detection id, tool name or
network range, each with an owner, a reason and a required expiry (at most `suppressions.max_days` of
configs/scoring.yaml ahead).

The correlation cycle applies the rules that have not expired (`apply`): a muted finding stays stored and counted,
flagged finding.suppressed with the ids of the rules that match it. A rule that expires (or is removed) stops
applying at the next cycle: the cycle keeps a fingerprint of the active rules and re-applies them to every finding
when it changes. Every criterion a rule names must match (host and tool: that tool on that host).
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import secrets
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

from .. import audit, catalogue
from ..durations import parse_duration
from ..errors import MCPeekerError
from ..model.records import Finding
from ..paging import scan_sorted
from ..roles import Actor
from ..settings import Settings
from ..timeutil import iso, parse_iso, utcnow

CRITERIA = ("host", "instance", "detection", "tool", "network")
DEFAULT_MAX_DAYS = 90


class SuppressionError(MCPeekerError):
    pass


@dataclass(frozen=True)
class Match:
    """What a rule mutes; every criterion given must hold."""

    host: str | None = None  # host.id, host.name or host.hostname
    instance: str | None = None  # instance key (or one of its raw keys)
    detection: str | None = None  # catalogue id (detections/MCP-*.yaml) the finding carries
    tool: str | None = None  # an MCP tool name the server offers
    network: str | None = None  # CIDR holding the server's address (destination.ip) or its host's (host.ip)

    def criteria(self) -> dict[str, str]:
        return {k: v for k, v in asdict(self).items() if v}

    def describe(self) -> str:
        return " ".join(f"{k}={v}" for k, v in self.criteria().items())


@dataclass(frozen=True)
class Suppression:
    suppression_id: str
    match: Match
    owner: str
    reason: str
    created: str
    created_by: str
    expires: str
    source_finding: str | None = None

    def active(self, now: datetime) -> bool:
        return parse_iso(self.expires) > now

    def matches(self, finding: Mapping[str, Any]) -> bool:
        m = self.match
        host = finding.get("host") or {}
        if m.host and m.host not in {host.get("id"), host.get("name"), host.get("hostname")}:
            return False
        instance = finding.get("instance") or {}
        if m.instance and m.instance != instance.get("key") and m.instance not in instance.get("raw_keys", []):
            return False
        if m.detection and m.detection not in detections_of(finding):
            return False
        tools = ((finding.get("mcp") or {}).get("tools") or {}).get("names", [])
        if m.tool and m.tool not in tools:
            return False
        if m.network:
            network = ipaddress.ip_network(m.network, strict=False)
            addresses = [(finding.get("destination") or {}).get("ip"), *host.get("ip", [])]
            if not any(_in(network, a) for a in addresses if a):
                return False
        return True

    def to_doc(self) -> dict[str, Any]:
        doc = {k: v for k, v in asdict(self).items() if v is not None}
        doc["match"] = self.match.criteria()
        return doc

    @classmethod
    def from_doc(cls, doc: Mapping[str, Any]) -> Suppression:
        return cls(
            suppression_id=doc["suppression_id"],
            match=Match(**{k: v for k, v in (doc.get("match") or {}).items() if k in CRITERIA}),
            owner=doc["owner"],
            reason=doc["reason"],
            created=doc["created"],
            created_by=doc["created_by"],
            expires=doc["expires"],
            source_finding=doc.get("source_finding"),
        )


def _in(network: ipaddress.IPv4Network | ipaddress.IPv6Network, address: str) -> bool:
    try:
        return ipaddress.ip_address(address) in network
    except ValueError:
        return False


@lru_cache(maxsize=1)
def _detections_by_attack() -> dict[str, tuple[str, ...]]:
    out: dict[str, list[str]] = {}
    for entry in catalogue.entries():
        if entry.get("attack_type"):
            out.setdefault(str(entry["attack_type"]), []).append(str(entry["id"]))
    return {k: tuple(v) for k, v in out.items()}


def detections_of(finding: Mapping[str, Any]) -> set[str]:
    """Catalogue ids a finding carries: its trust penalties and the detections of its attack types."""
    found = {str(p.get("detection")) for p in (finding.get("trust") or {}).get("penalties", []) if p.get("detection")}
    for attack in (finding.get("attack") or {}).get("types", []):
        found.update(_detections_by_attack().get(attack, ()))
    return found


def validate_match(match: Match) -> None:
    if not match.criteria():
        raise SuppressionError(f"a suppression needs at least one of --{', --'.join(CRITERIA)}")
    if match.network:
        try:
            ipaddress.ip_network(match.network, strict=False)
        except ValueError as exc:
            raise SuppressionError(f"network: {match.network!r} is not an address range (CIDR): {exc}") from exc
    if match.detection:
        known = {str(e["id"]) for e in catalogue.entries()}
        if match.detection not in known:
            raise SuppressionError(f"detection: {match.detection!r} is not a catalogue id (detections/MCP-*.yaml)")


def parse_expiry(text: str, now: datetime) -> datetime:
    """`30d`, `12h` (from now) or an ISO date/time."""
    text = text.strip()
    try:
        return now + timedelta(seconds=parse_duration(text))
    except MCPeekerError:
        pass
    try:
        moment = parse_iso(text if "T" in text else f"{text}T00:00:00Z")
    except ValueError as exc:
        raise SuppressionError(f"expires: {text!r} is neither a duration (30d) nor an ISO date") from exc
    return moment


def add(
    settings: Settings,
    client: Any,
    actor: Actor,
    match: Match,
    owner: str,
    reason: str,
    expires: datetime,
    max_days: int = DEFAULT_MAX_DAYS,
    source_finding: str | None = None,
) -> Suppression:
    validate_match(match)
    owner, reason = owner.strip(), " ".join(reason.split())
    if not owner:
        raise SuppressionError("a suppression needs an owner (--owner)")
    if not reason:
        raise SuppressionError("a suppression needs a reason (--reason)")
    now = utcnow()
    if expires <= now:
        raise SuppressionError(f"expires {iso(expires)} is in the past")
    if expires > now + timedelta(days=max_days):
        raise SuppressionError(
            f"expires {iso(expires)} is more than {max_days} days ahead (suppressions.max_days, configs/scoring.yaml)"
        )
    audit.signing_key(settings)  # no audit key: stop before the rule is stored
    rule = Suppression(
        suppression_id=f"sup-{secrets.token_hex(6)}",
        match=match,
        owner=owner,
        reason=reason,
        created=iso(now),
        created_by=actor.name,
        expires=iso(expires),
        source_finding=source_finding,
    )
    index = settings.index("mcp-suppressions")
    client.index(index=index, id=rule.suppression_id, body=rule.to_doc(), op_type="create", refresh="wait_for")
    audit.append(settings, client, actor, "suppression.add", "suppression", rule.suppression_id, rule.to_doc())
    return rule


def get(settings: Settings, client: Any, suppression_id: str) -> Suppression:
    got = client.get(index=settings.index("mcp-suppressions"), id=suppression_id, ignore=[404])
    if not got.get("found"):
        raise SuppressionError(f"no suppression {suppression_id!r} in {settings.index('mcp-suppressions')}")
    return Suppression.from_doc(got["_source"])


def remove(settings: Settings, client: Any, actor: Actor, suppression_id: str, note: str = "") -> Suppression:
    rule = get(settings, client, suppression_id)
    audit.signing_key(settings)
    client.delete(index=settings.index("mcp-suppressions"), id=suppression_id, refresh="wait_for")
    audit.append(
        settings, client, actor, "suppression.remove", "suppression", suppression_id, {**rule.to_doc(), "note": note}
    )
    return rule


def load(settings: Settings, client: Any) -> list[Suppression]:
    index = settings.index("mcp-suppressions")
    if not client.indices.exists(index=index):
        return []  # a cluster set up before suppressions existed: nothing to apply until `mcpeeker setup`
    client.indices.refresh(index=index)
    return [
        Suppression.from_doc(hit["_source"])
        for hit in scan_sorted(client, index, {"match_all": {}}, [{"suppression_id": "asc"}])
    ]


def active(rules: list[Suppression], now: datetime) -> list[Suppression]:
    return [r for r in rules if r.active(now)]


def fingerprint(rules: list[Suppression]) -> str:
    """Changes when the set of active rules (or what one matches) does."""
    parts = sorted(json.dumps([r.suppression_id, r.match.criteria()], sort_keys=True) for r in rules)
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


def apply(doc: Finding, rules: list[Suppression]) -> None:
    """Flag `doc` with the active rules that match it (none: suppressed false, no ids)."""
    head = doc.setdefault("finding", {})
    ids = sorted(r.suppression_id for r in rules if r.matches(doc))
    head["suppressed"] = bool(ids)
    if ids:
        head["suppression_ids"] = ids
    else:
        head.pop("suppression_ids", None)
