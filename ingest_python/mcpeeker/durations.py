"""Parse human durations such as `10s`, `5m`, `1h`, `2d`."""

from __future__ import annotations

import re

from .errors import MCPeekerError

_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str) -> float:
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*", text)
    if not match:
        raise MCPeekerError(f"not a duration: {text!r} (use e.g. 10s, 5m, 1h)")
    return float(match.group(1)) * _UNITS[match.group(2) or "s"]
