"""MCP metadata seen on an endpoint (the stdio tap, the inventory): tool fingerprints computed exactly as the Zeek
scripts compute them on the wire, the catalogue's indicator hits, the per-server fingerprint state (rug pull) and
the agent report that carries it all through the normal shipping path (outbox or --output file).

Only metadata leaves this module: method names and counts, client/server names and versions, capability keys,
tool names with digests and descriptions (each cut to the judge's bounds, judge/inputs.py: the server's own words
about its tools, which the SIEM's judge scores for poisoning), tools/call tool names with argument KEYS and indicator
flags. Never an argument value, a result or a prompt."""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
import threading
import time
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable

from mcpeeker.model.bounds import MAX_ITEMS, MAX_TEXT, cut
from mcpeeker.model import instance_key as keys

from .outbox import Outbox
from .privacy import Hasher
from .report import combine, envelope
from .state import default_state_path

CANONICAL_DEPTH = 16  # zeek/scripts/mcp/main.zeek: json_canonical(inputSchema, 16)
MAX_TOOLS = 512  # MCP::max_tool_digests
MAX_CALLS = 64  # tools/call records per report
MATCH_BYTES = 64 << 10  # of each argument value matched against the indicators
# A regex search holds the GIL the tap's relay threads need: values are searched in slices (overlapping by more
# than any indicator's reach), so the relay waits for one slice at most, not for a whole value.
MATCH_SLICE, MATCH_OVERLAP = 4096, 512
STATE_VERSION = 1


# -- fingerprints: the same bytes Zeek hashes (main.zeek read_tools) ----------------------------------------------
def canonical(value: Any, depth: int = CANONICAL_DEPTH) -> str:
    """Zeek's json_canonical: object members sorted by name, no white space, scalars as JSON writes them."""
    if depth > 0 and isinstance(value, dict):
        return "{" + ",".join(f'"{k}":{canonical(value[k], depth - 1)}' for k in sorted(value)) + "}"
    if depth > 0 and isinstance(value, list):
        return "[" + ",".join(canonical(v, depth - 1) for v in value) + "]"
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def tool_digest(tool: dict[str, Any]) -> str:
    """sha256(name NUL description NUL canonical(inputSchema)): what a rug pull changes; key order, white space,
    title, annotations, output schema and _meta do not count."""
    name, desc = tool.get("name"), tool.get("description")
    schema = canonical(tool["inputSchema"]) if "inputSchema" in tool else ""
    text = (name if isinstance(name, str) else "") + "\0" + (desc if isinstance(desc, str) else "") + "\0" + schema
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def tools_hash(digests: list[str]) -> str:
    return hashlib.sha256(",".join(sorted(digests)).encode()).hexdigest()


# -- indicators: the generated Zeek constants (zeek/scripts/mcp/indicators.zeek), compiled once ----------------
@dataclass(frozen=True)
class Indicators:
    poisoning: re.Pattern[bytes] | None
    sensitive_path: re.Pattern[bytes] | None
    injection: re.Pattern[bytes] | None


_CONST = re.compile(r"const\s+(\w+)\s*=\s*/(.*)/(i?)\s*$", re.M)


@lru_cache(maxsize=1)
def indicators() -> Indicators:
    """The catalogue's patterns as the Zeek notices match them (decoded JSON text). Missing file: no flags."""
    found: dict[str, re.Pattern[bytes]] = {}
    try:
        from mcpeeker import resources

        text = resources.path("zeek/scripts/mcp/indicators.zeek").read_text(encoding="utf-8")
    except Exception:  # noqa: BLE001 - the agent without the repository data still relays and fingerprints
        text = ""
    for m in _CONST.finditer(text):
        found[m.group(1)] = re.compile(m.group(2).encode("latin-1"), re.I if m.group(3) else 0)
    return Indicators(
        found.get("poisoning_patterns"), found.get("sensitive_path_patterns"), found.get("injection_patterns")
    )


def _strings(value: Any, depth: int = 32) -> list[str]:
    if isinstance(value, str):
        return [value]
    if depth <= 0:
        return []
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v, depth - 1)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v, depth - 1)]
    return []


def argument_flags(arguments: Any) -> list[str]:
    """Indicator hits on tools/call argument values ("sensitive_path", "shell_injection"); the values stay here."""
    ind = indicators()
    flags: set[str] = set()
    for s in _strings(arguments):
        b = s[:MATCH_BYTES].encode("utf-8", "surrogatepass")
        if _search(ind.sensitive_path, b):
            flags.add("sensitive_path")
        if _search(ind.injection, b):
            flags.add("shell_injection")
    return sorted(flags)


def _search(pattern: re.Pattern[bytes] | None, data: bytes) -> bool:
    if pattern is None:
        return False
    return any(
        pattern.search(data, start, start + MATCH_SLICE + MATCH_OVERLAP)
        for start in range(0, max(1, len(data)), MATCH_SLICE)
    )


def poisoned(tool: dict[str, Any]) -> bool:
    pattern = indicators().poisoning
    if pattern is None:
        return False
    text = json.dumps(tool, ensure_ascii=False)  # Zeek matches the decoded definition
    return bool(pattern.search(text.encode("utf-8", "surrogatepass")))


# -- what one server said ------------------------------------------------------------------------------------------
@dataclass
class ToolList:
    digests: dict[str, str]  # tool name -> digest
    hash: str
    count: int
    poisoned: list[str]
    page: str = ""  # the cursor of a later page: each page is compared with the same page (as Zeek does)
    descriptions: dict[str, str] = field(default_factory=dict)  # tool name -> description, cut as the judge cuts


def bounded_descriptions(tools: list[Any]) -> dict[str, str]:
    """Name -> description of the listed tools, the judge's bounds (at most MAX_ITEMS by name, each cut to MAX_TEXT
    UTF-8 bytes on a character boundary): what the judge would read of the same list on the wire."""
    found: dict[str, str] = {}
    for tool in tools:
        if isinstance(tool, dict) and isinstance(tool.get("name"), str) and tool["name"]:
            desc = tool.get("description")
            if isinstance(desc, str) and desc:
                found.setdefault(cut(tool["name"], 256), cut(desc, MAX_TEXT))
    return dict(sorted(found.items())[:MAX_ITEMS])


def tool_list(tools: list[Any]) -> ToolList:
    digests: dict[str, str] = {}
    all_digests: list[str] = []
    bad: list[str] = []
    for tool in tools:
        if not isinstance(tool, dict):
            continue
        d = tool_digest(tool)
        all_digests.append(d)
        name = tool.get("name")
        name = name if isinstance(name, str) else ""
        if len(digests) < MAX_TOOLS:
            digests[name] = d
        if poisoned(tool):
            bad.append(name[:128])
    return ToolList(
        digests, tools_hash(all_digests), len(all_digests), sorted(bad), descriptions=bounded_descriptions(tools)
    )


@dataclass
class Session:
    """MCP metadata of one client-server session (the tap) or one inventory run."""

    source: str  # tap | inventory
    client: str
    server_name: str
    methods: dict[str, int] = field(default_factory=dict)
    protocol_version: str | None = None
    client_info: dict[str, str] = field(default_factory=dict)
    server_info: dict[str, str] = field(default_factory=dict)
    client_capabilities: list[str] = field(default_factory=list)
    server_capabilities: list[str] = field(default_factory=list)
    calls: list[dict[str, Any]] = field(default_factory=list)
    calls_dropped: int = 0
    skipped_lines: int = 0  # not JSON, or over the line bound: relayed, not read


def _info(value: Any) -> dict[str, str]:
    if not isinstance(value, dict):
        return {}
    return {k: str(value[k])[:128] for k in ("name", "version") if isinstance(value.get(k), (str, int, float))}


def _cap_keys(value: Any) -> list[str]:
    return sorted(str(k)[:64] for k in value)[:32] if isinstance(value, dict) else []


class Recorder:
    """Reads copies of the JSON-RPC messages of one session. `emit` gets (session, tool list or None, call or None)
    whenever there is something to report now (a tool list, a flagged call)."""

    def __init__(self, session: Session, emit: Callable[[Session, ToolList | None, dict[str, Any] | None], None]):
        self.session = session
        self.emit = emit
        self.pending: dict[str, str] = {}  # request id (as JSON) -> method, per direction of the request

    def line(self, raw: bytes, from_client: bool) -> None:
        try:
            msg = json.loads(raw)
        except ValueError:
            self.session.skipped_lines += 1
            return
        for m in msg if isinstance(msg, list) else [msg]:
            if isinstance(m, dict):
                self.message(m, from_client)

    def message(self, m: dict[str, Any], from_client: bool) -> None:
        s = self.session
        method = m.get("method")
        rid = json.dumps(m.get("id")) if "id" in m else None
        direction = "c" if from_client else "s"
        if isinstance(method, str):
            method = method[:64]
            s.methods[method] = s.methods.get(method, 0) + 1
            raw_params = m.get("params")
            params: dict[str, Any] = raw_params if isinstance(raw_params, dict) else {}
            if rid is not None and len(self.pending) < 4096:
                cursor = params.get("cursor") if method == "tools/list" else None
                self.pending[direction + rid] = method + (f"#{str(cursor)[:128]}" if cursor else "")
            if method == "initialize" and from_client:
                s.client_info = _info(params.get("clientInfo"))
                s.client_capabilities = _cap_keys(params.get("capabilities"))
                if isinstance(params.get("protocolVersion"), str):
                    s.protocol_version = params["protocolVersion"][:32]
            elif method == "tools/call" and from_client:
                self._call(params)
            return
        if rid is None:
            return
        asked = self.pending.pop(("s" if from_client else "c") + rid, None)
        result = m.get("result")
        if not isinstance(result, dict):
            return
        if asked == "initialize":
            s.server_info = _info(result.get("serverInfo"))
            s.server_capabilities = _cap_keys(result.get("capabilities"))
            if isinstance(result.get("protocolVersion"), str):
                s.protocol_version = result["protocolVersion"][:32]
        elif asked is not None and asked.split("#", 1)[0] == "tools/list" and isinstance(result.get("tools"), list):
            tools = tool_list(result["tools"])
            tools.page = asked.partition("#")[2]
            self.emit(s, tools, None)

    def _call(self, params: dict[str, Any]) -> None:
        args = params.get("arguments")
        call: dict[str, Any] = {
            "tool": str(params.get("name", ""))[:128],
            "arg_keys": sorted(str(k)[:64] for k in args)[:32] if isinstance(args, dict) else [],
            "flags": argument_flags(args),
        }
        if len(self.session.calls) < MAX_CALLS:
            self.session.calls.append(call)
        else:
            self.session.calls_dropped += 1
        if call["flags"]:
            self.emit(self.session, None, call)


# -- fingerprint state: the last tool digests per server ---------------------------------------------------------
def default_tools_state() -> Path:
    return default_state_path().with_name("tools.json")


_STATE_LOCK = threading.Lock()


def update_state(path: Path | None, server: str, current: ToolList) -> tuple[list[str], str | None]:
    """Names of the tools whose definition changed since the server last listed them, and the previous list's
    hash. Added or removed tools are not a rug pull (same rule as attacks.zeek changed_tools)."""
    if path is None:
        return [], None
    with _STATE_LOCK:
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
            servers = raw["servers"] if raw.get("version") == STATE_VERSION else {}
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            servers = {}
        old = servers.get(server) if isinstance(servers, dict) else None
        changed: list[str] = []
        previous = None
        if isinstance(old, dict) and isinstance(old.get("digests"), dict):
            changed = sorted(n for n, d in current.digests.items() if n in old["digests"] and old["digests"][n] != d)
            previous = str(old.get("hash"))
        servers = servers if isinstance(servers, dict) else {}
        servers[server] = {"digests": current.digests, "hash": current.hash, "seen": time.time()}
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd, tmp = tempfile.mkstemp(prefix=".tools-", dir=path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump({"version": STATE_VERSION, "servers": servers}, fh)
            os.replace(tmp, path)  # atomic: two taps never leave half a file
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise
        return changed, previous


# -- the report -----------------------------------------------------------------------------------------------------
@dataclass
class Sink:
    """Where reports go: an --output NDJSON file, else the agent's outbox (the next `scan --ship` sends it)."""

    hasher: Hasher
    host_id: str
    output: Path | None = None
    outbox: Path | None = None
    state: Path | None = None

    def server_key(self, session: Session) -> str:
        return f"{session.client}\x1f{session.server_name}"

    def tools_evidence(
        self, session: Session, tools: ToolList | None, call: dict[str, Any] | None, final: bool = False
    ) -> dict[str, Any]:
        risk: list[str] = []
        record: dict[str, Any] = {
            "source": session.source,
            "client": session.client,
            "server_name": session.server_name,
            "methods": dict(sorted(session.methods.items())[:64]),
        }
        for key, value in (
            ("protocol_version", session.protocol_version),
            ("server_info_name", session.server_info.get("name")),
            ("server_info_version", session.server_info.get("version")),
            ("client_info_name", session.client_info.get("name")),
            ("client_info_version", session.client_info.get("version")),
        ):
            if value:
                record[key] = value
        if session.server_capabilities:
            record["server_capabilities"] = session.server_capabilities
        if session.client_capabilities:
            record["client_capabilities"] = session.client_capabilities
        reason = f"{session.source}: MCP server {session.server_name!r} ({session.client})"
        if tools is not None:
            key = self.server_key(session) + (f"#{tools.page}" if tools.page else "")
            changed, previous = update_state(self.state, key, tools)
            record.update(
                tool_names=sorted(tools.digests)[:MAX_TOOLS],
                tool_digests=dict(sorted(tools.digests.items())),
                tools_hash=tools.hash,
                tools_count=tools.count,
            )
            if tools.descriptions:
                record["tool_descriptions"] = tools.descriptions
            reason += f" lists {tools.count} tool(s), tools hash {tools.hash[:12]}"
            if changed:
                risk.append("rug_pull")
                record["changed_tools"] = changed
                record["previous_tools_hash"] = previous
                reason += f"; tool definitions changed since last listed: {', '.join(changed)[:200]}"
            if tools.poisoned:
                risk.append("tool_poisoning")
                record["poisoned_tools"] = tools.poisoned
                reason += f"; instructions for the model in tool definitions: {', '.join(tools.poisoned)[:200]}"
        calls = [call] if call is not None else (session.calls if final else [])
        if calls:
            record["calls"] = calls
            flags = {f for c in calls for f in c["flags"]}
            # A flagged call was reported when it was seen; the summary lists it without counting it twice.
            if "sensitive_path" in flags and not final:
                risk.append("sensitive_file")
            if "shell_injection" in flags and not final:
                risk.append("command_injection")
            if flags:
                reason += f"; tools/call arguments with {', '.join(sorted(flags))}"
        if final:
            record["calls_dropped"] = session.calls_dropped
            record["skipped_lines"] = session.skipped_lines
            reason += f"; session ended after {sum(session.methods.values())} message(s)"
        return {
            "type": "tools",
            "score": 0.9 if risk else 0.8,
            "reason": reason,
            "instance_key": keys.host_cfg(self.host_id, session.client, session.server_name),
            "risk": risk,
            "tools": record,
        }

    def report(self, evidence: list[dict[str, Any]]) -> dict[str, Any]:
        return {
            **envelope(self.hasher, self.host_id, time.time()),
            "local_score": combine(ev["score"] for ev in evidence),
            "evidence": evidence,
            "errors": [],
        }

    def write(self, report: dict[str, Any]) -> None:
        line = json.dumps(report, separators=(",", ":"), ensure_ascii=False)
        if self.output is not None:
            self.output.parent.mkdir(parents=True, exist_ok=True)
            with self.output.open("a", encoding="utf-8") as fh:
                fh.write(line + "\n")
        elif self.outbox is not None:
            Outbox(self.outbox).put(line.encode("utf-8"), str(report["scan_id"]))
