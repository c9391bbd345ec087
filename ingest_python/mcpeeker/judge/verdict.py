"""What a judge answers about one instance, whichever backend produced it."""

from __future__ import annotations

from dataclasses import dataclass, field

VERDICTS = ("mcp", "not_mcp", "unsure")


@dataclass(frozen=True)
class ToolScore:
    name: str
    poisoning: int  # 0-100
    reasons: tuple[str, ...] = ()


@dataclass(frozen=True)
class Judgement:
    verdict: str  # mcp | not_mcp | unsure
    confidence: float  # 0-1, in the verdict
    poisoning: int  # 0-100 for the server: its most poisoned tool
    tools: tuple[ToolScore, ...] = ()
    reasons: tuple[str, ...] = ()
    model_id: str = ""
    model_version: str = ""
    backend: str = "local"  # local | llm
    notes: tuple[str, ...] = field(default_factory=tuple)  # why a backend fell back, what it refused

    def reason_text(self, poisoned_at: int = 40, limit: int = 1000) -> str:
        """One line for the timeline and mcpeeker.evidence.reason: the verdict's reasons, then each poisoned tool's."""
        parts = list(self.reasons)
        parts += [
            f"{t.name} {t.poisoning}/100: {', '.join(t.reasons)}" for t in self.tools if t.poisoning >= poisoned_at
        ]
        text = "; ".join(parts)
        return text if len(text) <= limit else text[: limit - 3] + "..."
