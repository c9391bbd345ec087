"""Read one config file safely and parse it as JSON, JSONC, TOML or YAML.

Every failure (unreadable, vanished, too big, binary, changed while read, syntax, too deep) raises
`ParseError` with a short reason; the scanner turns it into one entry of the report's `errors[]`.
"""

from __future__ import annotations

import json
import os
import tomllib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, BinaryIO, TypeVar

import yaml

from . import jsonc

DEFAULT_MAX_BYTES = 4 * 1024 * 1024
# Plain-JSON files over DEFAULT_MAX_BYTES (Claude Code's ~/.claude.json grows with every prompt) are streamed
# for their server keys only (jsonstream.py) up to this size.
DEFAULT_MAX_STREAM_BYTES = 512 * 1024 * 1024
DEFAULT_MAX_DEPTH = 64
MAX_NODES = 200_000  # YAML aliases can make a small file a huge graph
T = TypeVar("T")


class ParseError(Exception):
    """A config file that cannot be used; the message says why (never quotes the content)."""


@dataclass(frozen=True)
class FileInfo:
    path: str
    size: int
    mtime: float


def read_stable(path: str, max_bytes: int, read: Callable[[BinaryIO], T]) -> tuple[T, os.stat_result]:
    """`read(handle)` of a file no larger than max_bytes, with the file's stat; read again once if the file changed
    meanwhile (size or mtime), refused if it changes twice. OS errors become ParseErrors that say why."""
    for _attempt in range(2):
        before = _stat(path)
        if before.st_size > max_bytes:
            raise ParseError(f"file too large ({before.st_size} bytes > cap {max_bytes})")
        try:
            with open(path, "rb") as handle:
                result = read(handle)
        except FileNotFoundError as exc:
            raise ParseError("file vanished during scan") from exc
        except OSError as exc:
            raise ParseError(_os_reason(exc)) from exc
        after = _stat(path)
        if (before.st_mtime_ns, before.st_size) == (after.st_mtime_ns, after.st_size):
            return result, after
    raise ParseError("file changed while it was read (twice)")


def read_text(path: str, max_bytes: int = DEFAULT_MAX_BYTES) -> tuple[str, FileInfo]:
    """Read a UTF-8 text file, refusing huge, binary or concurrently modified files."""
    data, st = read_stable(path, max_bytes, lambda handle: handle.read(max_bytes + 1))
    if len(data) > max_bytes:
        raise ParseError(f"file grew past the size cap ({max_bytes} bytes) while read")
    if len(data) != st.st_size:
        raise ParseError("file changed while it was read")
    return _decode(data), FileInfo(path, st.st_size, st.st_mtime)


def _stat(path: str) -> os.stat_result:
    try:
        return os.stat(path)
    except FileNotFoundError as exc:
        raise ParseError("file vanished during scan") from exc
    except OSError as exc:
        raise ParseError(_os_reason(exc)) from exc


def _os_reason(exc: OSError) -> str:
    import errno

    if exc.errno == errno.ELOOP:
        return "symlink loop"
    if exc.errno in (errno.EACCES, errno.EPERM):
        return "permission denied"
    if exc.errno == errno.EISDIR:
        return "is a directory"
    return exc.strerror or type(exc).__name__


def _decode(data: bytes) -> str:
    if b"\x00" in data[:8192]:
        raise ParseError("binary content (NUL bytes)")
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ParseError(f"not UTF-8 text (byte offset {exc.start})") from exc


def parse(text: str, fmt: str, max_depth: int = DEFAULT_MAX_DEPTH) -> Any:
    """Parse text in the given format and enforce the nesting-depth cap."""
    try:
        if fmt == "json":
            data = _json_or_jsonc(text)
        elif fmt == "jsonc":
            data = jsonc.loads(text)
        elif fmt == "toml":
            data = tomllib.loads(text)
        elif fmt == "yaml":
            data = yaml.safe_load(text)
        elif fmt == "xml":
            data = jetbrains_xml(text)
        else:
            raise ParseError(f"unknown format {fmt!r}")
    except json.JSONDecodeError as exc:
        raise ParseError(f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ParseError(f"invalid TOML: {exc}") from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1} column {mark.column + 1}" if mark else ""
        raise ParseError(f"invalid YAML{where}: {getattr(exc, 'problem', None) or type(exc).__name__}") from exc
    except RecursionError as exc:
        raise ParseError(f"nesting too deep (parser recursion limit; cap {max_depth})") from exc
    check_depth(data, max_depth)
    return data


def _json_or_jsonc(text: str) -> Any:
    # Several clients document plain JSON but users add comments anyway; accept both.
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return jsonc.loads(text)


def check_depth(data: Any, max_depth: int) -> None:
    """Iteratively walk containers; raise ParseError past `max_depth` or MAX_NODES nodes."""
    stack: list[tuple[Any, int]] = [(data, 1)]
    seen = 0
    while stack:
        node, depth = stack.pop()
        seen += 1
        if seen > MAX_NODES:
            raise ParseError(f"document too large (more than {MAX_NODES} nodes)")
        children: Iterable[Any]
        if isinstance(node, dict):
            children = node.values()
        elif isinstance(node, list):
            children = node
        else:
            continue
        if depth > max_depth:
            raise ParseError(f"nesting deeper than the cap ({max_depth})")
        stack.extend((child, depth + 1) for child in children)


# JetBrains AI Assistant (2025.1-2025.2) keeps its MCP servers in IDE settings XML: options/llm.mcpServers.xml
# (component McpApplicationServerCommands) and a project's .idea/workspace.xml (McpProjectServerCommands).
# Entries sit directly in the component or under <commands>/<urls>; each carries <option name= value=> pairs
# and name/value lists for the environment and headers. From 2025.3 the definitions moved to JSON
# (~/.ai/mcp/mcp.json), and the XML keeps only each server's name and state: entries with neither a command
# nor a URL are skipped.
_JB_COMPONENTS = {"McpApplicationServerCommands", "McpProjectServerCommands"}


def jetbrains_xml(text: str) -> dict[str, Any]:
    """The AI Assistant servers of an IDE settings XML file, as {"mcpServers": {name: definition}}."""
    import xml.etree.ElementTree as ET

    if "<!DOCTYPE" in text or "<!ENTITY" in text:
        raise ParseError("XML with a DOCTYPE or entity declarations is not read")
    try:
        root = ET.fromstring(text)
    except ET.ParseError as exc:
        line, col = getattr(exc, "position", (0, 0))
        raise ParseError(f"invalid XML at line {line} column {col + 1}") from exc
    servers: dict[str, Any] = {}
    for component in root.iter("component"):
        if component.get("name") not in _JB_COMPONENTS:
            continue
        for child in component:
            for entry in list(child) if child.tag in ("commands", "urls") else [child]:
                name, definition = _jb_entry(entry)
                if name:
                    servers[name] = definition
    return {"mcpServers": servers}


def _jb_entry(entry: Any) -> tuple[str | None, dict[str, Any]]:
    options: dict[str, str] = {}
    lists: dict[str, dict[str, str | None]] = {"env": {}, "headers": {}}

    def walk(node: Any, target: dict[str, str | None] | None) -> None:
        label = node.get("name") if node.tag == "option" else node.tag
        key, value = node.get("name") or node.get("key"), node.get("value")
        if target is not None:
            if key:
                target[key] = value
        elif label in ("envs", "env", "environment"):
            target = lists["env"]
        elif label == "headers":
            target = lists["headers"]
        elif node.tag == "option" and key and value is not None:
            options.setdefault(key, value)
        for kid in node:
            walk(kid, target)

    walk(entry, None)
    definition: dict[str, Any] = {}
    command = options.get("programPath") or options.get("command")
    url = options.get("url") or options.get("serverUrl")
    if command:
        definition["command"] = command
        if options.get("arguments"):
            definition["args"] = options["arguments"]
    if url:
        definition["url"] = url
    if not options.get("name") or not definition:
        return None, {}
    if options.get("enabled") == "false":
        definition["disabled"] = True
    for kind, values in lists.items():
        if values:
            definition[kind] = values
    return options["name"], definition
