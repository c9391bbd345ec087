"""Read one config file safely and parse it as JSON, JSONC, TOML or YAML.

Every failure (unreadable, vanished, too big, binary, changed while read, syntax, too deep) raises
`ParseError` with a short reason; the scanner turns it into one entry of the report's `errors[]`.
"""

from __future__ import annotations

import json
import os
import tomllib
from dataclasses import dataclass
from typing import Any

import yaml

from . import jsonc

DEFAULT_MAX_BYTES = 4 * 1024 * 1024
DEFAULT_MAX_DEPTH = 64
MAX_NODES = 200_000  # YAML aliases can make a small file a huge graph


class ParseError(Exception):
    """A config file that cannot be used; the message says why (never quotes the content)."""


@dataclass(frozen=True)
class FileInfo:
    path: str
    size: int
    mtime: float


def read_text(path: str, max_bytes: int = DEFAULT_MAX_BYTES) -> tuple[str, FileInfo]:
    """Read a UTF-8 text file, refusing huge, binary or concurrently modified files."""
    for _attempt in range(2):
        before = _stat(path)
        if before.st_size > max_bytes:
            raise ParseError(f"file too large ({before.st_size} bytes > cap {max_bytes})")
        try:
            with open(path, "rb") as handle:
                data = handle.read(max_bytes + 1)
        except FileNotFoundError as exc:
            raise ParseError("file vanished during scan") from exc
        except OSError as exc:
            raise ParseError(_os_reason(exc)) from exc
        after = _stat(path)
        if len(data) > max_bytes:
            raise ParseError(f"file grew past the size cap ({max_bytes} bytes) while read")
        if (before.st_mtime_ns, before.st_size) == (after.st_mtime_ns, after.st_size) and len(data) == after.st_size:
            return _decode(data), FileInfo(path, after.st_size, after.st_mtime)
    raise ParseError("file changed while it was read (twice)")


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
        if isinstance(node, dict):
            children = node.values()
        elif isinstance(node, list):
            children = node
        else:
            continue
        if depth > max_depth:
            raise ParseError(f"nesting deeper than the cap ({max_depth})")
        stack.extend((child, depth + 1) for child in children)
