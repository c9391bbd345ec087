"""Score and classify an MCP instance from its evidence and registry match (configs/scoring.yaml)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import catalogue
from ..config import load_named_config
from ..errors import ConfigError

SEVERITY_ORDER = ("info", "low", "medium", "high", "critical")
SCORED_TYPES = ("endpoint", "judge", "network")
CLASS_ORDER = ("authorized", "suspect", "unauthorized")


@dataclass(frozen=True)
class ScoringConfig:
    weights: dict[str, float]
    authorized_max: float
    unauthorized_min: float
    registry_match_authorizes: bool = True
    unregistered_floor: str = "suspect"
    attack_severity: dict[str, str] = field(default_factory=catalogue.attack_severities)
    classification_severity: dict[str, str] = field(default_factory=dict)
    correlation: dict[str, Any] = field(default_factory=dict)
    registry: dict[str, Any] = field(default_factory=dict)
    suppressions: dict[str, Any] = field(default_factory=dict)
    remote: dict[str, float] = field(default_factory=dict)  # how a remote MCP service use was seen -> score

    @classmethod
    def load(cls, path: Path | str | None = None) -> "ScoringConfig":
        data = load_named_config("scoring", path)
        return cls(
            weights=data["weights"],
            authorized_max=data["classification"]["authorized_max"],
            unauthorized_min=data["classification"]["unauthorized_min"],
            registry_match_authorizes=data["classification"].get("registry_match_authorizes", True),
            unregistered_floor=data["classification"].get("unregistered_floor", "suspect"),
            attack_severity=attack_severities(data.get("attack_severity") or {}, path or "configs/scoring.yaml"),
            classification_severity=data.get(
                "classification_severity", {"authorized": "info", "suspect": "low", "unauthorized": "medium"}
            ),
            correlation=data.get("correlation", {}),
            registry=data.get("registry", {}),
            suppressions=data.get("suppressions", {}),
            remote=data.get("remote", {}),
        )


def attack_severities(overrides: dict[str, str], source: Any = "configs/scoring.yaml") -> dict[str, str]:
    """Every attack type's severity: the catalogue's default (detections/_vocabulary.yaml), unless the site
    overrides it. An override for a type the catalogue does not know is a typo, not a new type."""
    defaults = catalogue.attack_severities()
    unknown = sorted(set(overrides) - set(defaults))
    if unknown:
        raise ConfigError(
            f"{source}: attack_severity: unknown attack types {unknown} "
            f"(known: {sorted(defaults)}, detections/_vocabulary.yaml)"
        )
    return {**defaults, **overrides}


@dataclass(frozen=True)
class Score:
    score: float
    classification: str
    severity: str
    contributions: dict[str, float]


def classify(score: float, config: ScoringConfig) -> str:
    if score <= config.authorized_max:
        return "authorized"
    if score >= config.unauthorized_min:
        return "unauthorized"
    return "suspect"


def registry_classify(
    contributions: dict[str, float], registry_active: bool, config: ScoringConfig
) -> tuple[float, str]:
    """Adds an active registry match to `contributions`, then the total and its class: the registry is the authority
    on approval, and an unapproved instance is never below the floor. Shared by server and remote-use findings."""
    if registry_active:
        contributions["registry_approved"] = float(config.weights["registry_approved"])
    total = sum(contributions.values())
    classification = classify(total, config)
    if registry_active and config.registry_match_authorizes:
        classification = "authorized"
    elif not registry_active and CLASS_ORDER.index(classification) < CLASS_ORDER.index(config.unregistered_floor):
        classification = config.unregistered_floor
    return total, classification


def max_severity(*severities: str) -> str:
    return max(severities, key=SEVERITY_ORDER.index)


def score_instance(
    present_types: set[str], attack_types: set[str], registry_active: bool, config: ScoringConfig
) -> Score:
    """Each evidence type counts once; an active registry match lowers the score; attacks only raise severity."""
    contributions = {t: float(config.weights[t]) for t in SCORED_TYPES if t in present_types}
    total, classification = registry_classify(contributions, registry_active, config)
    severity = config.classification_severity.get(classification, "info")
    for attack in attack_types:
        # Attack evidence is never cancelled by the registry: it raises severity whatever the score.
        severity = max_severity(severity, config.attack_severity.get(attack, "high"))
    return Score(total, classification, severity, contributions)
