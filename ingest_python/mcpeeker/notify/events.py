"""What is worth a notification: events derived from a finding and the notifier's memory of it.

The memory (one state document per finding, kept by the notifier, not the correlator) holds what was last seen:
classification, severity, the reopen already announced and how often the finding became unauthorized. Comparing
a finding with it gives the events; each event has a dedup key (subject id + kind + revision) that stays the same
however often the same change is derived again (a crash before the memory was written, an overlapping window).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Mapping, TypedDict

from ..registry.model import RegistryEntry
from .config import severity_rank

CLOSED = ("resolved", "false_positive", "accepted_risk")


class Memory(TypedDict, total=False):
    classification: str
    severity: str
    reopened_at: str
    unauthorized_rev: int


@dataclass(frozen=True)
class Event:
    kind: str  # new_unauthorized | severity_raised | reopened | registry_expiring
    subject: str  # finding id, or registry entry id for a reminder
    revision: str
    severity: str
    classification: str
    host: str  # what the per-host throttle counts: host id, else server address, else the subject
    at: str
    summary: str = ""
    server_name: str = ""
    tools: tuple[str, ...] = ()
    attacks: tuple[str, ...] = ()
    status: str = "open"
    reason: str = ""
    destination: str = ""
    owner: str = ""
    expires: str = ""
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def dedup_key(self) -> str:
        return f"{self.subject}:{self.kind}:{self.revision}"

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["tools"], data["attacks"] = list(self.tools), list(self.attacks)
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Event:
        values = dict(data)
        values["tools"], values["attacks"] = tuple(values.get("tools", ())), tuple(values.get("attacks", ()))
        return cls(**values)


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _base(finding: Mapping[str, Any], kind: str, revision: str, at: str) -> Event:
    head = finding.get("finding", {})
    host = finding.get("host", {}) or {}
    dest = finding.get("destination", {}) or {}
    server = (finding.get("mcp", {}) or {}).get("server", {}) or {}
    address = f"{_text(dest.get('ip'))}:{_text(dest.get('port'))}" if dest.get("ip") else ""
    return Event(
        kind=kind,
        subject=str(head.get("id", "")),
        revision=revision,
        severity=_text(finding.get("severity")) or "info",
        classification=_text(finding.get("classification")),
        host=_text(host.get("id")) or address or str(head.get("id", "")),
        at=at,
        summary=_text(head.get("summary")),
        server_name=_text(server.get("name")),
        tools=tuple(str(t) for t in ((finding.get("mcp", {}) or {}).get("tools", {}) or {}).get("names", [])[:20]),
        attacks=tuple(str(t) for t in (finding.get("attack", {}) or {}).get("types", [])),
        status=_text(head.get("status")) or "open",
        reason=_text(head.get("reopen_reason")),
        destination=address,
    )


def derive(finding: Mapping[str, Any], memory: Memory | None, at: str) -> tuple[list[Event], Memory]:
    """The events this finding's change since `memory` is worth, and the memory to keep."""
    head = finding.get("finding", {})
    classification = _text(finding.get("classification"))
    severity = _text(finding.get("severity")) or "info"
    status = _text(head.get("status")) or "open"
    reopened_at = _text(head.get("reopened_at"))
    old: Memory = memory or {}
    new: Memory = {
        "classification": classification,
        "severity": severity,
        "reopened_at": reopened_at or old.get("reopened_at", ""),
        "unauthorized_rev": int(old.get("unauthorized_rev", 0)),
    }
    events: list[Event] = []
    if reopened_at and reopened_at != old.get("reopened_at"):
        events.append(_base(finding, "reopened", reopened_at, at))
    closed = status in CLOSED
    if classification == "unauthorized" and old.get("classification") != "unauthorized":
        new["unauthorized_rev"] = int(old.get("unauthorized_rev", 0)) + 1
        if not closed:
            events.append(_base(finding, "new_unauthorized", str(new["unauthorized_rev"]), at))
    raised = severity_rank(severity) > severity_rank(old.get("severity"))
    announced = any(e.kind == "new_unauthorized" for e in events)
    if raised and severity_rank(severity) >= severity_rank("high") and not closed and not announced:
        # A finding new this cycle is announced once, by its new_unauthorized event (which carries the severity);
        # later rises to high and then to critical are one event each.
        events.append(_base(finding, "severity_raised", severity, at))
    return events, new


def registry_event(entry: RegistryEntry, days: int, at: str) -> Event:
    """A reminder that an approved entry expires within `days`; a renewal (new expiry) is a new revision."""
    server = entry.get("server", {}) or {}
    host = entry.get("host", {}) or {}
    name = _text(server.get("name") or server.get("url") or f"{_text(server.get('ip'))}:{_text(server.get('port'))}")
    return Event(
        kind="registry_expiring",
        subject=str(entry["entry_id"]),
        revision=_text(entry.get("expires")),
        severity="info",
        classification="registry",
        host=_text(host.get("id")) or str(entry["entry_id"]),
        at=at,
        summary=f"registry entry {entry['entry_id']} expires {_text(entry.get('expires'))} (within {days} days)",
        server_name=name,
        owner=_text(entry.get("owner")),
        expires=_text(entry.get("expires")),
        extra={"team": _text(entry.get("team"))},
    )
