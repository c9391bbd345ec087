"""A server's trust score (0-100): posture, the way mcpsek and 82ch score it.

A server starts at 100; every catalogue entry with a `trust` block (detections/*.yaml) whose attack type or agent
risk its evidence carries subtracts its penalty once, however many documents carry it; the score never drops
below 0. The penalties and their reasons are data in the catalogue, not code here (docs/scoring.md,
docs/detections.md). The score says how far a server can be trusted; the classification (scoring.py) says whether
anyone approved it. The two are independent: an approved server can score 40, an unapproved one 100.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Iterable

from .. import catalogue
from ..errors import ConfigError
from ..model.records import FindingTrust, TrustPenalty

FULL = 100
RISK_TAG = "risk:"


@dataclass(frozen=True)
class Penalty:
    detection: str
    points: int
    reason: str
    attack_type: str | None
    risks: frozenset[str]


@lru_cache(maxsize=1)
def penalties() -> tuple[Penalty, ...]:
    """Every penalty of the catalogue, largest first. Two entries cannot penalise the same attack type or agent
    risk: one piece of evidence costs a server once."""
    out: list[Penalty] = []
    seen: dict[str, str] = {}
    for entry in catalogue.entries():
        trust = entry.get("trust")
        if not trust:
            continue
        risks = frozenset((entry.get("implementations") or {}).get("agent") or ())
        attack = entry.get("attack_type")
        for trigger in ([f"attack:{attack}"] if attack else []) + [f"risk:{r}" for r in risks]:
            if trigger in seen:
                raise ConfigError(
                    f"detection catalogue: {entry['id']} and {seen[trigger]} both carry a trust penalty for {trigger}"
                )
            seen[trigger] = entry["id"]
        out.append(Penalty(entry["id"], int(trust["penalty"]), " ".join(str(trust["reason"]).split()), attack, risks))
    return tuple(sorted(out, key=lambda p: (-p.points, p.detection)))


@lru_cache(maxsize=1)
def fingerprint() -> str:
    """Changes when a penalty or its reason does, so correlation rebuilds findings scored with the old table."""
    table = [(p.detection, p.points, p.reason, p.attack_type, sorted(p.risks)) for p in penalties()]
    return hashlib.sha256(json.dumps(table).encode()).hexdigest()[:12]


def risks_of(tags: Iterable[Any]) -> set[str]:
    """Agent risk names from evidence tags (`risk:<name>`, set by the agent normaliser)."""
    return {str(t)[len(RISK_TAG) :] for t in tags if str(t).startswith(RISK_TAG)}


def trust(attack_types: Iterable[str], risks: Iterable[str]) -> FindingTrust:
    """{"score": 0-100, "penalties": [{detection, penalty, reason, evidence}, ...]} for one instance's evidence."""
    attacks, flags = set(attack_types), set(risks)
    applied: list[TrustPenalty] = []
    for p in penalties():
        why = [f"attack type {p.attack_type}"] if p.attack_type in attacks else []
        why += [f"agent risk {r}" for r in sorted(p.risks & flags)]
        if why:
            applied.append(
                {"detection": p.detection, "penalty": p.points, "reason": p.reason, "evidence": ", ".join(why)}
            )
    return {"score": max(0, FULL - sum(a["penalty"] for a in applied)), "penalties": applied}
