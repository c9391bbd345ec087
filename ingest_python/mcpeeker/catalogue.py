"""The detection catalogue (detections/): which evidence and attack type every sensor's detection stands for.

The normalisers, correlation and `mcpeeker sigma run` read it once, at import, into plain dicts; nothing here runs
per document. `catalogue_dir()` asks mcpeeker.resources where the files are (package data in a wheel, the
checkout's detections/ in an editable install). docs/detections.md describes the entries; scripts/catalogue.py generates the sensor files from the
indicator lists; tests/catalogue/test_catalogue.py validates everything.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from . import resources
from .errors import ConfigError


def catalogue_dir() -> Path:
    """The directory with _vocabulary.yaml, the MCP-*.yaml entries and indicators/."""
    try:
        return resources.path("detections")
    except resources.DataNotFound as exc:
        raise ConfigError(f"detection catalogue not found: {exc}") from exc


def _load_yaml(path: Path) -> Any:
    try:
        with path.open(encoding="utf-8") as fh:
            return yaml.load(fh, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: {exc}") from exc


@lru_cache(maxsize=1)
def vocabulary() -> dict[str, Any]:
    data: dict[str, Any] = _load_yaml(catalogue_dir() / "_vocabulary.yaml")
    return data


@lru_cache(maxsize=1)
def entries() -> tuple[dict[str, Any], ...]:
    """Every entry, by id. The words it uses are checked here too, so a typo cannot silently change a weight."""
    vocab = vocabulary()
    out = []
    for path in sorted(catalogue_dir().glob("MCP-*.yaml")):
        entry = _load_yaml(path)
        if not isinstance(entry, dict) or entry.get("evidence") not in vocab["evidence"]:
            raise ConfigError(f"{path}: `evidence` must be one of {sorted(vocab['evidence'])}")
        attack = entry.get("attack_type")
        if attack is not None and attack not in vocab["attack_types"]:
            raise ConfigError(f"{path}: unknown attack_type {attack!r} (detections/_vocabulary.yaml)")
        out.append(entry)
    return tuple(out)


def evidence_type(entry: dict[str, Any]) -> str:
    """What the entry's evidence weighs as in correlation (`mcpeeker.evidence.type`)."""
    return str(vocabulary()["evidence"][entry["evidence"]]["scores_as"])


def implementations(sensor: str) -> dict[Any, tuple[str, str | None]]:
    """Implementation of `sensor` (SID, notice name, Sigma rule id, risk name) -> (evidence type, attack type)."""
    out: dict[Any, tuple[str, str | None]] = {}
    for entry in entries():
        for name in (entry.get("implementations") or {}).get(sensor) or ():
            if name in out:
                raise ConfigError(f"detection catalogue: {sensor} {name!r} is claimed by two entries")
            out[name] = (evidence_type(entry), entry.get("attack_type"))
    return out


def attack_severities() -> dict[str, str]:
    """Attack type -> its default finding severity."""
    return {name: spec["severity"] for name, spec in vocabulary()["attack_types"].items()}
