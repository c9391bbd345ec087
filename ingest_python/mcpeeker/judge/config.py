"""configs/judge.yaml as typed values (schemas/judge.schema.json)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..config import load_named_config
from ..errors import ConfigError


@dataclass(frozen=True)
class LLMConfig:
    url: str = ""
    model: str = ""
    api_key_env: str = ""
    timeout_seconds: float = 10.0
    retries: int = 2
    budget: int = 50
    verify_tls: bool = True


@dataclass(frozen=True)
class JudgeConfig:
    enabled: bool = True
    classifications: tuple[str, ...] = ("suspect",)
    new_tool_definitions: bool = True
    sample: float = 1.0
    budget: int = 200
    max_events: int = 500
    min_confidence: float = 0.8
    backend: str = "local"
    llm: LLMConfig = field(default_factory=LLMConfig)

    @classmethod
    def load(cls, path: Path | str | None = None) -> "JudgeConfig":
        data: dict[str, Any] = load_named_config("judge", path) or {}
        select = data.get("select") or {}
        llm = LLMConfig(**(data.get("llm") or {}))
        config = cls(
            enabled=bool(data.get("enabled", True)),
            classifications=tuple(select.get("classifications", ["suspect"])),
            new_tool_definitions=bool(select.get("new_tool_definitions", True)),
            sample=float(select.get("sample", 1.0)),
            budget=int(select.get("budget", 200)),
            max_events=int(select.get("max_events", 500)),
            min_confidence=float((data.get("score") or {}).get("min_confidence", 0.8)),
            backend=str(data.get("backend", "local")),
            llm=llm,
        )
        if config.backend == "llm" and not (llm.url and llm.model):
            raise ConfigError(f"{path or 'judge.yaml'}: backend llm needs llm.url and llm.model")
        return config
