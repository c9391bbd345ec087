"""A finding's status: open -> acknowledged -> resolved | false_positive | accepted_risk, and back to open.

Analysts change it (`mcpeeker finding status`, verdicts through mcpeeker.feedback); each change is written to the
finding (finding.status, status_changed_at/by, status_reason) and appended to the audit chain, which is where the
finding's timeline (mcpeeker.feedback.timeline) reads who/when/why. The correlation cycle keeps the status across
re-scoring (`carry`) and reopens a closed finding when attack evidence it had not seen arrives (`reopen_for`);
new plain evidence (more sightings of the same server) leaves it closed.

For the triage dashboard each finding also carries when it was first worked on and closed: `acknowledged_at` (the
first analyst status change away from open) and `resolved_at` (the first move into a closed status), with
`time_to_acknowledge` / `time_to_resolve` in seconds from the finding's opening (`opened_at`, set when it is reopened;
before that its first_seen). Reopening starts a new round: those four fields are cleared.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, cast

from .. import audit
from ..errors import MCPeekerError
from ..model.records import Finding, FindingHead
from ..roles import Actor
from ..settings import Settings
from ..timeutil import iso, parse_iso, utcnow

STATUSES = ("open", "acknowledged", "resolved", "false_positive", "accepted_risk")
CLOSED = frozenset(("resolved", "false_positive", "accepted_risk"))
# Which status may follow which. Closing statuses reopen first: a false positive is not quietly "resolved".
TRANSITIONS: dict[str, frozenset[str]] = {
    "open": frozenset(("acknowledged", "resolved", "false_positive", "accepted_risk")),
    "acknowledged": frozenset(("open", "resolved", "false_positive", "accepted_risk")),
    "resolved": frozenset(("open", "false_positive")),
    "false_positive": frozenset(("open",)),
    "accepted_risk": frozenset(("open", "resolved")),
}
# Analyst verdicts (mcpeeker.feedback.VERDICTS) that move a finding; needs_info changes nothing.
VERDICT_STATUS = {"true_positive": "acknowledged", "false_positive": "false_positive", "benign": "accepted_risk"}
# The finding.* fields this module owns; the correlation cycle copies them from the stored finding.
# Triage timings (the dashboard's time to acknowledge / resolve): one round from opening to closing.
TIMING_FIELDS = ("opened_at", "acknowledged_at", "resolved_at", "time_to_acknowledge", "time_to_resolve")
LIFECYCLE_FIELDS = (
    "status",
    "status_changed_at",
    "status_changed_by",
    "status_reason",
    "reopened_at",
    "reopen_reason",
    *TIMING_FIELDS,
)
STATUS_ACTION = "finding.status"
REOPEN_ACTION = "finding.reopen"


class LifecycleError(MCPeekerError):
    pass


@dataclass(frozen=True)
class StatusChange:
    finding_id: str
    old: str
    new: str
    at: str
    by: str
    reason: str
    reopened: bool = False  # by the correlation cycle, on new attack evidence


def check_transition(finding_id: str, old: str, new: str) -> None:
    if new not in STATUSES:
        raise LifecycleError(f"status must be one of {', '.join(STATUSES)}, not {new!r}")
    if old == new:
        raise LifecycleError(f"finding {finding_id} is already {new}")
    if new not in TRANSITIONS.get(old, frozenset()):
        allowed = ", ".join(sorted(TRANSITIONS.get(old, frozenset()))) or "nothing"
        raise LifecycleError(f"finding {finding_id} is {old}: it may become {allowed}, not {new}")


def _is_conflict(exc: Exception) -> bool:
    return getattr(exc, "status_code", None) == 409 or "409" in str(exc)[:40]


def _seconds_since(start: str | None, at: str) -> int | None:
    if not start:
        return None
    try:
        return max(0, round((parse_iso(at) - parse_iso(start)).total_seconds()))
    except ValueError:
        return None


def timings(stored: Mapping[str, Any], new: str, at: str) -> FindingHead:
    """The timing fields a move to `new` at `at` writes on a finding stored as `stored` (None clears a field)."""
    head = stored.get("finding", {})
    if new == "open":  # a new round: the next acknowledgement and resolution count from now
        cleared: dict[str, Any] = {name: None for name in TIMING_FIELDS}
        cleared["opened_at"] = at
        return cast(FindingHead, cleared)
    start = head.get("opened_at") or stored.get("first_seen")
    out: FindingHead = {}
    if not head.get("acknowledged_at"):
        out["acknowledged_at"] = at
        seconds = _seconds_since(start, at)
        if seconds is not None:
            out["time_to_acknowledge"] = seconds
    if new in CLOSED and not head.get("resolved_at"):
        out["resolved_at"] = at
        seconds = _seconds_since(start, at)
        if seconds is not None:
            out["time_to_resolve"] = seconds
    return out


def set_status(
    settings: Settings, client: Any, finding_id: str, status: str, actor: Actor, reason: str, attempts: int = 5
) -> StatusChange:
    """Move a finding to `status` (validated against TRANSITIONS), record who/when/why on the finding and in the
    audit chain. A concurrent writer (the correlation cycle) makes the write retry on the current version."""
    reason = " ".join(reason.split())
    if not reason:
        raise LifecycleError("a status change needs a reason (--reason)")
    audit.signing_key(settings)  # no audit key: stop before the finding changes
    index = settings.index("mcp-findings")
    for _ in range(attempts):
        got = client.get(index=index, id=finding_id, ignore=[404])
        if not got.get("found"):
            raise LifecycleError(f"no finding {finding_id!r} in {index}")
        old = str(got["_source"].get("finding", {}).get("status") or "open")
        check_transition(finding_id, old, status)
        at = iso(utcnow())
        head: FindingHead = {
            "status": status,
            "status_changed_at": at,
            "status_changed_by": actor.name,
            "status_reason": reason,
            **timings(got["_source"], status, at),
        }
        try:
            client.update(
                index=index,
                id=finding_id,
                body={"doc": {"finding": head}},
                if_seq_no=got["_seq_no"],
                if_primary_term=got["_primary_term"],
                refresh=True,  # a person's change: lists and the next command see it at once
            )
        except Exception as exc:  # ConflictError of either client: the cycle rewrote it meanwhile
            if _is_conflict(exc):
                continue
            raise
        audit.append(
            settings, client, actor, STATUS_ACTION, "finding", finding_id, {"from": old, "to": status, "reason": reason}
        )
        return StatusChange(finding_id, old, status, at, actor.name, reason)
    raise LifecycleError(f"finding {finding_id} kept changing while its status was set; run the command again")


def status_for_verdict(verdict: str) -> str | None:
    return VERDICT_STATUS.get(verdict)


# --- the correlation cycle -------------------------------------------------------------------------------------------


def carry(stored: Mapping[str, Any] | None, doc: Finding) -> None:
    """Give a rebuilt finding the lifecycle fields of its stored version (a new finding starts open)."""
    head = doc.setdefault("finding", {})
    old = (stored or {}).get("finding", {})
    for name in LIFECYCLE_FIELDS:
        if old.get(name) not in (None, ""):
            head[name] = old[name]  # type: ignore[literal-required]
        else:
            head.pop(name, None)  # type: ignore[misc]
    head["status"] = str(old.get("status") or "open")


def new_attack_evidence(stored: Mapping[str, Any], doc: Finding) -> str | None:
    """Why `doc` carries attack evidence `stored` had not seen (None when it does not): attack events added
    since, attack references it did not hold, or attack types it did not carry. Plain evidence never counts."""
    old_ev, new_ev = stored.get("evidence", {}), doc.get("evidence", {})
    old_refs = set(old_ev.get("refs_by_type", {}).get("attack", []))
    new_refs = [r for r in new_ev.get("refs_by_type", {}).get("attack", []) if r not in old_refs]
    added = int(new_ev.get("attack", 0)) - int(old_ev.get("attack", 0))
    old_types = set(stored.get("attack", {}).get("types", []))
    types = doc.get("attack", {}).get("types", [])
    # An attack type can also arrive on endpoint evidence (an agent risk such as exposed_listener).
    fresh = [t for t in types if t not in old_types]
    if added <= 0 and not new_refs and not fresh:
        return None
    parts = [f"new attack evidence: {', '.join(fresh or types) or 'attack'}"]
    if fresh:
        parts.append("(attack types not seen before)")
    if added > 0:
        parts.append(f"{added} new attack event(s)")
    if new_refs:
        parts.append(f"events {', '.join(new_refs[:5])}")
    return " ".join(parts)


def reopen_for(stored: Mapping[str, Any] | None, doc: Finding, at: str, by: str) -> StatusChange | None:
    """Reopen `doc` (already carrying its stored status) when it is closed and new attack evidence arrived."""
    if stored is None:
        return None
    head = doc["finding"]
    old = head.get("status", "open")
    if old not in CLOSED:
        return None
    why = new_attack_evidence(stored, doc)
    if why is None:
        return None
    head.update(
        {
            "status": "open",
            "status_changed_at": at,
            "status_changed_by": by,
            "status_reason": why,
            "reopened_at": at,
            "reopen_reason": why,
        }
    )
    for name in TIMING_FIELDS:
        head.pop(name, None)  # type: ignore[misc]
    head["opened_at"] = at
    return StatusChange(head["id"], old, "open", at, by, why, reopened=True)


def record_reopens(settings: Settings, client: Any, actor: Actor, changes: list[StatusChange]) -> None:
    for change in changes:
        audit.append(
            settings,
            client,
            actor,
            REOPEN_ACTION,
            "finding",
            change.finding_id,
            {"from": change.old, "to": change.new, "reason": change.reason},
        )
