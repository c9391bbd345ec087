"""Pull only the server sections out of a JSON file too large to load whole.

Claude Code's ~/.claude.json keeps every project's prompt history beside the servers; files of 15 to
240 MB are reported by its users. Loading such a file would cost hundreds of MB of memory, and refusing
it (the config size cap) would miss every server in it. This reader walks the file in 1 MiB chunks,
descends only into the keys of the wanted key paths, skips every other value without building it, and
parses just the wanted values (each read again from its byte range, bounded by `max_value_bytes`).
Memory stays at a couple of chunks whatever the file size.
"""

from __future__ import annotations

import json
import os
import re
from typing import Any, BinaryIO

from .parsers import FileInfo, ParseError, read_stable

CHUNK = 1 << 20
MAX_KEY_BYTES = 64 * 1024
_WS = frozenset(b" \t\r\n")
_STRUCTURAL = re.compile(rb'["{}\[\]]')
_SCALAR_END = re.compile(rb"[,}\]\s]")


class _Reader:
    def __init__(self, handle: BinaryIO, max_depth: int) -> None:
        self.fh = handle
        self.buf = b""
        self.pos = 0
        self.base = 0  # file offset of buf[0]
        self.max_depth = max_depth

    def offset(self) -> int:
        return self.base + self.pos

    def _fill(self) -> bool:
        data = self.fh.read(CHUNK)
        self.base += self.pos
        self.buf = self.buf[self.pos :] + data
        self.pos = 0
        return bool(data)

    def _fail(self, what: str) -> ParseError:
        return ParseError(f"invalid JSON near byte {self.offset()}: {what}")

    def peek(self) -> int:
        """The next byte that is not white space (not consumed), or -1 at the end of the file."""
        while True:
            while self.pos < len(self.buf) and self.buf[self.pos] in _WS:
                self.pos += 1
            if self.pos < len(self.buf):
                return self.buf[self.pos]
            if not self._fill():
                return -1

    def expect(self, byte: int) -> None:
        if self.peek() != byte:
            raise self._fail(f"expected {chr(byte)!r}")
        self.pos += 1

    def string(self, keep: bool = False) -> bytes | None:
        """Consume a string (at its opening quote); its raw body when `keep` and not longer than MAX_KEY_BYTES.

        The closing quote is found with bytes.find (memchr speed): a quote is escaped when an odd number
        of backslashes stands before it, counted across chunk borders through `carry`.
        """
        self.expect(0x22)
        parts: list[bytes] | None = [] if keep else None
        size = 0
        scan, carry = self.pos, 0
        while True:
            buf = self.buf
            quote = buf.find(b'"', scan)
            stop = len(buf) if quote < 0 else quote
            i = stop
            while i > scan and buf[i - 1] == 0x5C:
                i -= 1
            run = stop - i + (carry if i == scan else 0)
            if quote < 0:
                if parts is not None:
                    parts.append(buf[self.pos :])
                    size += len(buf) - self.pos
                    if size > MAX_KEY_BYTES:
                        parts = None
                carry = run % 2
                self.pos = len(buf)
                if not self._fill():
                    raise self._fail("unterminated string")
                scan = self.pos
                continue
            if run % 2 == 0:
                if parts is not None:
                    parts.append(buf[self.pos : quote])
                    size += quote - self.pos
                self.pos = quote + 1
                return b"".join(parts) if parts is not None and size <= MAX_KEY_BYTES else None
            scan, carry = quote + 1, 0

    def key(self) -> str | None:
        raw = self.string(keep=True)
        if raw is None:
            return None
        try:
            key: str = json.loads(b'"' + raw + b'"')
        except ValueError as exc:
            raise self._fail("bad string escape") from exc
        return key

    def skip(self, depth: int) -> None:
        """Consume one value of any kind without building it."""
        first = self.peek()
        if first == 0x22:
            self.string()
            return
        if first in (0x7B, 0x5B):  # { [
            self.pos += 1
            nesting = 1
            while nesting:
                match = _STRUCTURAL.search(self.buf, self.pos)
                if match is None:
                    self.pos = len(self.buf)
                    if not self._fill():
                        raise self._fail("unterminated object or array")
                    continue
                self.pos = match.start()
                byte = self.buf[self.pos]
                if byte == 0x22:
                    self.string()
                elif byte in (0x7B, 0x5B):
                    nesting += 1
                    if depth + nesting > self.max_depth:
                        raise ParseError(f"nesting deeper than the cap ({self.max_depth})")
                    self.pos += 1
                else:
                    nesting -= 1
                    self.pos += 1
            return
        if first == -1:
            raise self._fail("value expected")
        while True:  # number, true, false, null
            match = _SCALAR_END.search(self.buf, self.pos)
            if match is not None:
                if match.start() == self.pos:
                    raise self._fail("value expected")
                self.pos = match.start()
                return
            self.pos = len(self.buf)
            if not self._fill():
                return


def _walk(
    reader: _Reader,
    active: list[tuple[tuple[str, ...], int]],
    where: tuple[str, ...],
    found: list[tuple[tuple[str, ...], int, int]],
) -> None:
    """Walk one object; record (path, start, end) of every value a key path ends at."""
    reader.expect(0x7B)
    if reader.peek() == 0x7D:
        reader.pos += 1
        return
    depth = len(where) + 1
    while True:
        key = reader.key()
        reader.expect(0x3A)
        hits = [] if key is None else [(kp, i) for kp, i in active if kp[i] in (key, "*")]
        # (hits is empty when key is None: `key is not None` only tells the type checker)
        if key is not None and any(i + 1 == len(kp) for kp, i in hits):
            reader.peek()
            start = reader.offset()
            reader.skip(depth)
            found.append((where + (key,), start, reader.offset()))
        elif key is not None and hits and reader.peek() == 0x7B:
            _walk(reader, [(kp, i + 1) for kp, i in hits], where + (key,), found)
        else:
            reader.skip(depth)
        nxt = reader.peek()
        reader.pos += 1
        if nxt == 0x7D:
            return
        if nxt != 0x2C:
            raise reader._fail("expected ',' or '}'")


def extract(
    path: str, key_paths: tuple[tuple[str, ...], ...], max_file_bytes: int, max_value_bytes: int, max_depth: int
) -> tuple[dict[str, Any], FileInfo]:
    """A document holding only the values at `key_paths` (same nesting as in the file), and the file's info."""

    def located_values(handle: BinaryIO) -> list[tuple[tuple[str, ...], bytes]]:
        reader = _Reader(handle, max_depth)
        if reader.peek() == 0xEF:  # UTF-8 byte order mark
            reader.pos += 3
        found: list[tuple[tuple[str, ...], int, int]] = []
        if reader.peek() != 0x7B:
            raise ParseError("invalid JSON: the top level is not an object")
        _walk(reader, [(kp, 0) for kp in key_paths if kp], (), found)
        if reader.peek() != -1:
            raise reader._fail("extra data after the top-level object")
        total = sum(end - start for _, start, end in found)
        if total > max_value_bytes:
            raise ParseError(f"server sections too large ({total} bytes > cap {max_value_bytes})")
        values = []
        for where, start, end in found:
            handle.seek(start)
            values.append((where, handle.read(end - start)))
        return values

    values, st = read_stable(path, max_file_bytes, located_values)
    doc: dict[str, Any] = {}
    for where, raw in values:
        try:
            value = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            raise ParseError(f"invalid JSON in the value of {'.'.join(where)}") from exc
        node = doc
        for part in where[:-1]:
            node = node.setdefault(part, {})
        node[where[-1]] = value
    return doc, FileInfo(path, st.st_size, st.st_mtime)


def is_large(path: str, max_bytes: int) -> bool:
    try:
        return os.stat(path).st_size > max_bytes
    except OSError:
        return False
