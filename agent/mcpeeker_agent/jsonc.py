"""JSONC (JSON with comments and trailing commas, as VS Code, Cursor and Zed write it) to plain JSON.

A small scanner that knows about strings, so `"http://x"` or `"a,}"` inside a string is left alone.
"""

from __future__ import annotations

import json
from typing import Any

_WS = " \t\r\n"


def strip_jsonc(text: str) -> str:
    """Remove // and /* */ comments and commas before `}` or `]`, keeping line numbers intact."""
    out: list[str] = []
    i, n = 0, len(text)
    pending_comma: int | None = None  # index in `out` of a comma that may turn out to be trailing
    while i < n:
        ch = text[i]
        if ch == '"':
            end = _string_end(text, i)
            out.append(text[i:end])
            pending_comma = None
            i = end
        elif ch == "/" and i + 1 < n and text[i + 1] == "/":
            end = text.find("\n", i)
            i = n if end < 0 else end  # keep the newline itself
        elif ch == "/" and i + 1 < n and text[i + 1] == "*":
            end = text.find("*/", i + 2)
            if end < 0:
                raise json.JSONDecodeError("unterminated /* comment", text, i)
            out.append("\n" * text.count("\n", i, end))  # line numbers of errors stay right
            i = end + 2
        elif ch == ",":
            pending_comma = len(out)
            out.append(ch)
            i += 1
        elif ch in "}]":
            if pending_comma is not None:
                out[pending_comma] = ""
                pending_comma = None
            out.append(ch)
            i += 1
        else:
            if ch not in _WS:
                pending_comma = None
            out.append(ch)
            i += 1
    return "".join(out)


def _string_end(text: str, start: int) -> int:
    """Index just past the closing quote of the string starting at `start` (or the end of text)."""
    i, n = start + 1, len(text)
    while i < n:
        ch = text[i]
        if ch == "\\":
            i += 2
            continue
        if ch == '"':
            return i + 1
        if ch == "\n":  # JSON strings cannot span lines: let the JSON parser report it
            return i
        i += 1
    return n


def loads(text: str) -> Any:
    return json.loads(strip_jsonc(text))
