"""Readers: bytes on disk -> `Record` (one parsed log line) or `BadLine` (why a line cannot be read).

Zeek logs in JSON (`LogAscii::use_json=T`, one object per line) and in Zeek's TSV format (`#separator`,
`#fields`, `#types` header, `#close` footer), plain or gzip, current or rotated names; Suricata eve.json;
the agent's NDJSON. A reader never raises on content: every unreadable line becomes a `BadLine` naming
file and line, so the caller dead-letters it and carries on.
"""

from __future__ import annotations

import gzip
import os
import re
import sys
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Callable, Iterator, Protocol

import orjson

from .native import tables_module

MAX_LINE = 1 << 20  # 1 MiB: longer lines are dead-lettered without being held in memory

SOURCES = ("zeek", "suricata", "agent", "squid", "kong")


class Record:
    """One parsed log line. A plain class with an explicit __init__ (not a dataclass, whose generated __init__
    stays interpreted when this module is compiled): one is made per ingested line."""

    __slots__ = ("source", "rtype", "data", "raw", "file", "line", "end")

    def __init__(
        self, source: str, rtype: str, data: dict[str, Any], raw: bytes, file: str, line: int, end: int
    ) -> None:
        self.source = source  # zeek | suricata | agent
        self.rtype = rtype  # Zeek log path ("conn"), eve event_type ("alert"), "report" for the agent
        self.data = data
        self.raw = raw  # the line as read, without its newline: the identity the document _id hashes
        self.file = file
        self.line = line
        self.end = end  # byte offset just after this line: where a checkpoint may resume

    def _fields(self) -> tuple[Any, ...]:
        return (self.source, self.rtype, self.data, self.raw, self.file, self.line, self.end)

    def __eq__(self, other: object) -> bool:
        return other.__class__ is Record and self._fields() == other._fields()

    __hash__ = None  # type: ignore[assignment]  # mutable, like the dataclass it replaces

    def __repr__(self) -> str:
        return (
            f"Record(source={self.source!r}, rtype={self.rtype!r}, data={self.data!r}, raw={self.raw!r}, "
            f"file={self.file!r}, line={self.line!r}, end={self.end!r})"
        )


@dataclass(slots=True)
class BadLine:
    file: str
    line: int
    end: int
    reason: str
    raw: bytes = b""


Parsed = Record | BadLine | None


class LineParser(Protocol):
    def parse(self, raw: bytes, line: int, end: int) -> Parsed: ...


# ---------------------------------------------------------------------------------------------- lines


class LineReader:
    """Lines of a binary stream with line numbers and end offsets, in bounded memory.

    `final=False` (follow mode) leaves an incomplete last line unread so a writer can finish it; overlong
    lines are reported as None and skipped up to their newline, even across calls.
    """

    def __init__(self, fh: BinaryIO, line: int = 0, offset: int = 0) -> None:
        self.fh = fh
        self.line = line
        self.offset = offset
        self._skipping = False  # inside an overlong line whose end has not been read yet

    def lines(self, final: bool = True) -> Iterator[tuple[int, int, bytes | None]]:
        fh = self.fh
        while True:
            start = self.offset
            chunk = fh.readline(MAX_LINE + 1)
            if not chunk:
                return
            if self._skipping:
                self.offset += len(chunk)
                if chunk.endswith(b"\n"):
                    self._skipping = False
                continue
            if not chunk.endswith(b"\n"):
                if len(chunk) > MAX_LINE:
                    self.offset += len(chunk)
                    self.line += 1
                    self._skipping = True
                    yield self.line, self.offset, None
                    continue
                if not final:
                    # Incomplete line: rewind so the next poll reads it whole.
                    fh.seek(start)
                    return
            self.offset += len(chunk)
            self.line += 1
            yield self.line, self.offset, chunk.rstrip(b"\r\n")


# -------------------------------------------------------------------------------------------- helpers


def _excerpt(raw: bytes, limit: int = 200) -> bytes:
    return raw[:limit]


def _json_object(raw: bytes) -> tuple[dict[str, Any] | None, str]:
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        msg = str(exc)
        if "UTF-8" in msg or "utf-8" in msg or "surrogate" in msg:
            return None, f"invalid UTF-8: {msg}"
        return None, f"malformed or truncated JSON: {msg}"
    if not isinstance(data, dict):
        return None, f"expected a JSON object, got {type(data).__name__}"
    return data, ""


# ----------------------------------------------------------------------------------------------- zeek

_ROTATED = re.compile(r"^([A-Za-z0-9_]+?)(?:[._-].*)?$")


def zeek_log_type_from_name(path: str) -> str | None:
    """`conn.log`, `conn.2024-01-01-00-00-00.log`, `conn.00:00:00-01:00:00.log.gz` -> `conn`."""
    name = os.path.basename(path)
    for suffix in (".gz", ".log", ".json"):
        if name.endswith(suffix):
            name = name[: -len(suffix)]
    base = name.split(".", 1)[0]
    return base if base and _ROTATED.match(base) else None


# Zeek TSV escapes a backslash as \\ and every non-printable byte as \xNN. Its JSON writer keeps \xNN as text too,
# except for the five controls JSON has escapes for (\b \t \n \f \r: a newline in a notice's sub), which
# it writes as those. So a TSV \xNN of those five becomes the character and any other stays text: both formats
# then yield the same strings (checked against Zeek 7.0's writers).
_TSV_ESCAPE = re.compile(r"\\(\\|x0[89acdAC])")


def _tsv_escape(match: re.Match[str]) -> str:
    escape = match.group(1)
    return "\\" if escape == "\\" else chr(int(escape[1:], 16))


def _unescape(value: str) -> str:
    return _TSV_ESCAPE.sub(_tsv_escape, value) if "\\" in value else value


def _to_bool(value: str) -> bool:
    if value == "T":
        return True
    if value == "F":
        return False
    raise ValueError(f"expected T or F, got {value!r}")


_SCALAR: dict[str, Callable[[str], object]] = {
    "time": float,
    "interval": float,
    "double": float,
    "count": int,
    "int": int,
    "port": int,
    "bool": _to_bool,
    "addr": str,
    "subnet": str,
    "enum": str,
    "string": _unescape,
    "pattern": _unescape,
    "func": _unescape,
    "file": _unescape,
}


def _container_inner(zeek_type: str) -> str | None:
    """`set[string]`, `vector[count]`, `table[addr]` -> the element type; None for a scalar type."""
    for container in ("set[", "vector[", "table["):
        if zeek_type.startswith(container) and zeek_type.endswith("]"):
            return zeek_type[len(container) : -1]
    return None


def tsv_element(zeek_type: str) -> tuple[Callable[[str], object], bool]:
    """The converter of a Zeek type's values (of its elements for a container) and whether it is a container."""
    inner_type = _container_inner(zeek_type)
    return _SCALAR.get(zeek_type if inner_type is None else inner_type, _unescape), inner_type is not None


def _converter(zeek_type: str, set_sep: str, empty: str) -> Callable[[str], object]:
    inner, container = tsv_element(zeek_type)
    if not container:
        return inner

    def convert(value: str) -> list[Any]:
        if value == empty:
            return []
        return [inner(v) for v in value.split(set_sep)]

    return convert


class TsvParser:
    """The parser of one `#fields`/`#types` header as a plain loop (values -> record, each set value through its
    field's converter), where the native one (`_tables.NativeTsv`) is not built. It raises what the converters
    raise; the caller then names the field (`ZeekParser._bad_field`)."""

    __slots__ = ("fields", "unset")

    def __init__(self, fields: list[str], converters: list[Callable[[str], object]], unset: str) -> None:
        self.fields = tuple(zip(fields, converters))
        self.unset = unset

    def __call__(self, values: list[str]) -> dict[str, Any]:
        if len(values) < len(self.fields):
            raise ValueError(f"expected {len(self.fields)} values, got {len(values)}")
        unset = self.unset
        data = {}
        for (name, convert), v in zip(self.fields, values):
            if v != unset:
                data[name] = convert(v)
        return data


def compile_tsv(
    fields: list[str], converters: list[Callable[[str], object]], types: list[str], unset: str, empty: str, set_sep: str
) -> Callable[[list[str]], dict[str, Any]]:
    """The native parser of a header when the extension is built (about 1.5x as fast), else `TsvParser`."""
    native = tables_module()
    if native is None:
        return TsvParser(fields, converters, unset)
    parser: Callable[[list[str]], dict[str, Any]] = native.NativeTsv(
        fields, [tsv_element(t) for t in types], converters, unset, empty, set_sep, _unescape
    )
    return parser


class ZeekParser:
    """Both Zeek formats, switching per line: `#` starts a header, `{` a JSON record, anything else is TSV."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.name_type = zeek_log_type_from_name(file)
        self.sep = "\t"
        self.set_sep = ","
        self.empty = "(empty)"
        self.unset = "-"
        self.path: str | None = None
        self.fields: list[str] | None = None
        self.types: list[str] | None = None
        self.converters: list[Callable[[str], object]] | None = None
        self.fast: Callable[[list[str]], dict[str, Any]] | None = None

    # Header lines (#fields etc.) are state, not records; a follow-mode restart replays them first.
    def header(self, raw: bytes) -> None:
        text = raw.decode("utf-8", "replace")
        if text.startswith("#separator"):
            value = text[len("#separator") :].strip()
            try:
                self.sep = value.encode().decode("unicode_escape") if value else "\t"
            except UnicodeDecodeError:
                self.sep = "\t"
            return
        key, _, rest = text.partition(self.sep)
        if key == "#set_separator":
            self.set_sep = rest or ","
            self.converters = self.fast = None  # the container converters split on it
        elif key == "#empty_field":
            self.empty = rest
            self.converters = self.fast = None
        elif key == "#unset_field":
            self.unset = rest
            self.fast = None
        elif key == "#path":
            self.path = rest or None
        elif key == "#fields":
            self.fields = rest.split(self.sep)
            self.converters = self.fast = None
        elif key == "#types":
            self.types = rest.split(self.sep)
            self.converters = self.fast = None

    def _types(self) -> list[str]:
        assert self.fields is not None
        types = self.types or ["string"] * len(self.fields)
        if len(types) != len(self.fields):
            types = ["string"] * len(self.fields)
        return types

    def _build_converters(self) -> list[Callable[[str], object]]:
        self.converters = [_converter(t, self.set_sep, self.empty) for t in self._types()]
        return self.converters

    def _compile(self) -> Callable[[list[str]], dict[str, Any]]:
        converters = self.converters or self._build_converters()
        self.fast = compile_tsv(self.fields or [], converters, self._types(), self.unset, self.empty, self.set_sep)
        return self.fast

    def parse(self, raw: bytes, line: int, end: int) -> Parsed:
        first = raw[:1]
        if first == b"#":
            self.header(raw)
            return None
        if first == b"{":
            return self._parse_json(raw, line, end)
        if not raw.strip():
            return None
        return self._parse_tsv(raw, line, end)

    def _parse_json(self, raw: bytes, line: int, end: int) -> Parsed:
        data, error = _json_object(raw)
        if data is None:
            return BadLine(self.file, line, end, error, _excerpt(raw))
        path = data.pop("_path", None)
        rtype = path if isinstance(path, str) and path else self.name_type
        if not rtype:
            return BadLine(
                self.file,
                line,
                end,
                "cannot tell the Zeek log type (no _path field, file name not <type>.log)",
                _excerpt(raw),
            )
        return Record("zeek", rtype, data, raw, self.file, line, end)

    def _parse_tsv(self, raw: bytes, line: int, end: int) -> Parsed:
        if self.fields is None:
            return BadLine(
                self.file, line, end, "not a Zeek record: neither JSON nor TSV after a #fields header", _excerpt(raw)
            )
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            return BadLine(self.file, line, end, f"invalid UTF-8 at byte {exc.start}", _excerpt(raw))
        values = text.split(self.sep)
        fields = self.fields
        if len(values) != len(fields):
            return BadLine(
                self.file, line, end, f"expected {len(fields)} tab-separated fields, got {len(values)}", _excerpt(raw)
            )
        try:
            data = (self.fast or self._compile())(values)
        except (ValueError, TypeError):
            return self._bad_field(values, raw, line, end)
        rtype = self.path or self.name_type
        if not rtype:
            return BadLine(
                self.file,
                line,
                end,
                "cannot tell the Zeek log type (no #path header, file name not <type>.log)",
                _excerpt(raw),
            )
        return Record("zeek", rtype, data, raw, self.file, line, end)

    def _bad_field(self, values: list[str], raw: bytes, line: int, end: int) -> BadLine:
        """The generic per-field loop, only to name the first field that does not convert."""
        for name, value, convert in zip(self.fields or [], values, self.converters or []):
            if value == self.unset:
                continue
            try:
                convert(value)
            except (ValueError, TypeError) as exc:
                return BadLine(self.file, line, end, f"field {name!r}: {exc}", _excerpt(raw))
        return BadLine(
            self.file, line, end, "a field does not convert", _excerpt(raw)
        )  # not reached: conversions are pure


# ---------------------------------------------------------------------------------- eve.json, agent


class JsonLineParser:
    """One JSON object per line; `record_type` names the record's type or says why it has none."""

    def __init__(self, file: str, source: str, record_type: Callable[[dict[str, Any]], tuple[str | None, str]]) -> None:
        self.file, self.source, self.record_type = file, source, record_type

    def parse(self, raw: bytes, line: int, end: int) -> Parsed:
        if not raw or raw.isspace():  # blank (bytes.isspace: the ASCII whitespace bytes.strip() removes)
            return None
        data, error = _json_object(raw)
        if data is None:
            return BadLine(self.file, line, end, error, _excerpt(raw))
        rtype, problem = self.record_type(data)
        if rtype is None:
            return BadLine(self.file, line, end, problem, _excerpt(raw))
        return Record(self.source, rtype, data, raw, self.file, line, end)


def _eve_type(data: dict[str, Any]) -> tuple[str | None, str]:
    event_type = data.get("event_type")
    if not isinstance(event_type, str) or not event_type:
        return None, "eve record without a string event_type"
    return event_type, ""


def EveParser(file: str) -> JsonLineParser:  # noqa: N802 (a parser factory, named like the classes beside it)
    return JsonLineParser(file, "suricata", _eve_type)


def AgentParser(file: str) -> JsonLineParser:  # noqa: N802
    return JsonLineParser(file, "agent", lambda _data: ("report", ""))


def _squid_parser(file: str) -> LineParser:
    from .normalise.squid import SquidParser  # Squid's access.log: not on the compiled hot path

    return SquidParser(file)


def KongParser(file: str) -> JsonLineParser:  # noqa: N802
    # Kong's logging plugins: one JSON object per request (http-log with batching writes arrays: not read here)
    return JsonLineParser(file, "kong", lambda _data: ("request", ""))


PARSERS: dict[str, Callable[[str], LineParser]] = {
    "zeek": ZeekParser,
    "suricata": EveParser,
    "agent": AgentParser,
    "squid": _squid_parser,
    "kong": KongParser,
}


def make_parser(source: str, file: str) -> LineParser:
    return PARSERS[source](file)


# ---------------------------------------------------------------------------------------------- files


def is_gzip(path: str | Path) -> bool:
    try:
        with open(path, "rb") as fh:
            return fh.read(2) == b"\x1f\x8b"
    except OSError:
        return False


def open_input(path: str) -> BinaryIO:
    """A binary stream: stdin for `-`, gunzipped for gzip files (by magic, not only by name)."""
    if path == "-":
        return sys.stdin.buffer
    if is_gzip(path):
        return gzip.open(path, "rb")  # type: ignore[return-value]
    return open(path, "rb", buffering=1 << 20)


def _looks_like(source: str, path: Path) -> bool:
    name = path.name
    if source == "zeek":
        return name.endswith((".log", ".log.gz")) or (
            name.endswith((".json", ".json.gz")) and not name.startswith("eve")
        )
    if source == "squid":
        return name.startswith("access") and ".log" in name
    if source == "suricata":
        return name.startswith("eve") and (".json" in name)
    return name.endswith((".ndjson", ".jsonl", ".json", ".ndjson.gz", ".jsonl.gz", ".json.gz"))


def expand_paths(source: str, paths: list[str]) -> tuple[list[str], list[str]]:
    """Files to read (explicit files always; directories walked for files named like `source` logs) and
    the files found in directories that were skipped because they are not."""
    files: list[str] = []
    skipped: list[str] = []
    for p in paths:
        if p == "-":
            files.append(p)
            continue
        path = Path(p)
        if path.is_dir():
            for child in sorted(c for c in path.rglob("*") if c.is_file()):
                (files if _looks_like(source, child) else skipped).append(str(child))
        else:
            files.append(str(path))
    return files, skipped


def read_file(source: str, path: str) -> Iterator[Record | BadLine]:
    """Every record and bad line of one file, in order (one-shot mode)."""
    label = "<stdin>" if path == "-" else path
    parser = make_parser(source, label)
    try:
        fh = open_input(path)
    except OSError as exc:
        yield BadLine(label, 0, 0, f"cannot open: {exc.strerror or exc}")
        return
    # The one-shot loop is LineReader.lines(final=True) inlined: this is the hot path of a bulk ingest.
    parse = parser.parse
    readline = fh.readline
    line = offset = 0
    skipping = False
    try:
        while True:
            chunk = readline(MAX_LINE + 1)
            if not chunk:
                return
            offset += len(chunk)
            if skipping:
                skipping = not chunk.endswith(b"\n")
                continue
            line += 1
            if len(chunk) > MAX_LINE and not chunk.endswith(b"\n"):
                skipping = True
                yield BadLine(label, line, offset, f"line longer than {MAX_LINE} bytes")
                continue
            result = parse(chunk.rstrip(b"\r\n"), line, offset)
            if result is not None:
                yield result
    except (EOFError, gzip.BadGzipFile, zlib.error, OSError) as exc:
        yield BadLine(label, line + 1, offset, f"cannot read further: {exc}")
    finally:
        if fh is not sys.stdin.buffer:
            fh.close()
