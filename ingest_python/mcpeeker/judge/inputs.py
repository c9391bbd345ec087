"""What the judge sees of an instance: a bounded, privacy-safe summary of its evidence.

Only protocol structure and self-descriptions go in: JSON-RPC method names, HTTP header *names*, the key shapes of
results, server and client names, tool names and tool descriptions (each cut to MAX_TEXT bytes, at most MAX_ITEMS
of each). Never arguments, header values, tokens or results' contents: the input can be logged, cached and sent to
an LLM backend without leaking what the server was asked or answered.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

# Re-exported (judge modules and tests import them from here); the agent imports mcpeeker.model.bounds.
from ..model.bounds import MAX_ITEMS as MAX_ITEMS
from ..model.bounds import MAX_TEXT as MAX_TEXT
from ..model.bounds import cut as cut


def bounded(values: Iterable[str]) -> tuple[str, ...]:
    """Distinct non-empty values, sorted, each cut, at most MAX_ITEMS."""
    return tuple(sorted({cut(v) for v in values if v}))[:MAX_ITEMS]


@dataclass(frozen=True)
class ToolText:
    name: str
    description: str = ""

    def text(self) -> str:
        return f"{self.name}\n{self.description}"


@dataclass(frozen=True)
class JudgeInput:
    methods: tuple[str, ...] = ()
    header_names: tuple[str, ...] = ()
    result_shapes: tuple[str, ...] = ()
    server_names: tuple[str, ...] = ()
    client_names: tuple[str, ...] = ()
    transports: tuple[str, ...] = ()
    tools: tuple[ToolText, ...] = field(default_factory=tuple)

    @classmethod
    def build(
        cls,
        methods: Iterable[str] = (),
        header_names: Iterable[str] = (),
        result_shapes: Iterable[str] = (),
        server_names: Iterable[str] = (),
        client_names: Iterable[str] = (),
        transports: Iterable[str] = (),
        tools: Iterable[tuple[str, str]] = (),
    ) -> "JudgeInput":
        by_name: dict[str, str] = {}
        for name, description in tools:
            if name:
                # one definition per tool name: the longest description seen (a rug pull shows up as a new hash)
                current = by_name.get(cut(name, 256), "")
                by_name[cut(name, 256)] = max(current, cut(description or ""), key=len)
        return cls(
            methods=bounded(methods),
            header_names=bounded(h.lower() for h in header_names),
            result_shapes=bounded(result_shapes),
            server_names=bounded(server_names),
            client_names=bounded(client_names),
            transports=bounded(transports),
            tools=tuple(ToolText(n, d) for n, d in sorted(by_name.items())[:MAX_ITEMS]),
        )

    def as_dict(self) -> dict[str, object]:
        return {
            "methods": list(self.methods),
            "header_names": list(self.header_names),
            "result_shapes": list(self.result_shapes),
            "server_names": list(self.server_names),
            "client_names": list(self.client_names),
            "transports": list(self.transports),
            "tools": [{"name": t.name, "description": t.description} for t in self.tools],
        }

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> "JudgeInput":
        def strings(key: str) -> list[str]:
            value = data.get(key) or []
            return [str(v) for v in value] if isinstance(value, list) else []

        raw_tools = data.get("tools") or []
        tools = [
            (str(t.get("name", "")), str(t.get("description", "")))
            for t in (raw_tools if isinstance(raw_tools, list) else [])
            if isinstance(t, dict)
        ]
        return cls.build(
            strings("methods"),
            strings("header_names"),
            strings("result_shapes"),
            strings("server_names"),
            strings("client_names"),
            strings("transports"),
            tools,
        )

    def content_hash(self) -> str:
        """sha256 of the canonical input: the cache key (same tools, same evidence -> no second judgement)."""
        return hashlib.sha256(json.dumps(self.as_dict(), sort_keys=True).encode()).hexdigest()

    def protocol_text(self) -> str:
        """The "is this MCP?" view: structure and names only. Tool descriptions are left out on purpose, so text a
        server writes about its tools (attacker-controlled) cannot talk the classifier out of its verdict."""
        parts = [f"method:{m}" for m in self.methods]
        parts += [f"header:{h}" for h in self.header_names]
        parts += [f"shape:{s}" for s in self.result_shapes]
        parts += [f"server:{s}" for s in self.server_names]
        parts += [f"client:{c}" for c in self.client_names]
        parts += [f"transport:{t}" for t in self.transports]
        parts += [f"tool:{t.name}" for t in self.tools]
        return " ".join(parts)


# --- reading JSON-RPC payloads (a capture's bodies, a sensor's payload snippet) -------------------------------------

DECODER = json.JSONDecoder()
METHOD = re.compile(r'"method"\s*:\s*"([^"\\]{1,128})"')


@dataclass
class PayloadFields:
    """What a JSON-RPC payload says, names and shapes only (never params' or results' values)."""

    methods: list[str] = field(default_factory=list)
    result_shapes: list[str] = field(default_factory=list)
    server_names: list[str] = field(default_factory=list)
    client_names: list[str] = field(default_factory=list)
    tools: list[tuple[str, str]] = field(default_factory=list)

    def add(self, text: str) -> None:
        objects = json_objects(text)
        for obj in objects:
            self.add_message(obj)
        if not objects:
            # a payload cut short (a sensor's snippet) holds no whole message: its method names still count
            self.methods += METHOD.findall(text)

    def add_message(self, obj: dict[str, Any]) -> None:
        if isinstance(obj.get("method"), str):
            self.methods.append(obj["method"])
        self.result_shapes += shapes(obj)
        params, result = obj.get("params"), obj.get("result")
        if isinstance(params, dict) and isinstance(params.get("clientInfo"), dict):
            self.client_names.append(str(params["clientInfo"].get("name", "")))
        if isinstance(result, dict):
            if isinstance(result.get("serverInfo"), dict):
                self.server_names.append(str(result["serverInfo"].get("name", "")))
            for tool in result.get("tools") or []:
                if isinstance(tool, dict) and isinstance(tool.get("name"), str):
                    self.tools.append((tool["name"], str(tool.get("description") or "")))


def json_objects(text: str) -> list[dict[str, Any]]:
    """Every JSON object that starts with `{"` in `text` (HTTP bodies, SSE data lines, WebSocket frames alike)."""
    found, pos = [], 0
    while (start := text.find('{"', pos)) != -1:
        try:
            obj, end = DECODER.raw_decode(text, start)
        except (ValueError, RecursionError):  # truncated, garbled or a JSON bomb: skip past it
            pos = start + 2
            continue
        if isinstance(obj, dict):
            found.append(obj)
        pos = end
    return found


def shapes(obj: dict[str, Any]) -> list[str]:
    """The keys (not the values) of a message's result, params and error: `result.serverInfo`, `params.clientInfo`."""
    out = []
    for part in ("result", "params", "error"):
        value = obj.get(part)
        if isinstance(value, dict):
            out += [f"{part}.{key}" for key in sorted(value)[:16]]
    return out
