"""Features of the local judge: the catalogue's indicator groups (detections/indicators) as binary features of a
tool definition, plus the phrases that matched (the judge's reasons).

The patterns are the catalogue's Zeek rendering (scripts/catalogue.py), stored in the model's metadata when
`make judge-model` trains it, so the shipped model and its indicators change together (a stale model fails
tests/judge/test_model.py). Zeek matches bytes: the text is matched as its UTF-8 bytes mapped one to one onto
Latin-1 characters, between quotes as in the decoded JSON Zeek sees (its patterns need a non-word character at
their edges).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Indicator:
    name: str  # file.group, e.g. poisoning_markers.concealment
    pattern: re.Pattern[str]


def compile_indicators(patterns: dict[str, tuple[str, bool]]) -> tuple[Indicator, ...]:
    """name -> (Zeek pattern, case-insensitive) as compiled indicators, in name order."""
    return tuple(
        Indicator(name, re.compile(pattern, re.IGNORECASE if insensitive else 0))
        for name, (pattern, insensitive) in sorted(patterns.items())
    )


def as_bytes_text(text: str) -> str:
    return '"' + text.encode("utf-8", "replace").decode("latin-1") + '"'


def matches(indicators: tuple[Indicator, ...], text: str) -> list[tuple[str, str]]:
    """(indicator, matched phrase) for each indicator group the text shows; the phrase decoded and cut to 80."""
    subject = as_bytes_text(text)
    out = []
    for indicator in indicators:
        found = indicator.pattern.search(subject)
        if found:
            phrase = found.group(0).encode("latin-1").decode("utf-8", "replace").strip("\"' \n\t")
            out.append((indicator.name, phrase[:80]))
    return out


def indicator_matrix(indicators: tuple[Indicator, ...], texts: list[str]) -> Any:
    """One row per text, one 0/1 column per indicator (a numpy array: numpy comes with the judge extra)."""
    import numpy as np

    rows = np.zeros((len(texts), len(indicators)), dtype=np.float64)
    for i, text in enumerate(texts):
        subject = as_bytes_text(text)
        for j, indicator in enumerate(indicators):
            if indicator.pattern.search(subject):
                rows[i, j] = 1.0
    return rows
