"""Shared pieces of the normalisers: the context, typed field converters and table application.

A mapping table is a tuple of `(source field, target path, converter)`. Converters raise ValueError with a
plain message; the table's applier turns it into a NormaliseError naming the field, which the pipeline
dead-letters with file and line.

Each converter is written once, as a Python function, with its fast path declared beside it (`@fast`: the
value types it takes as they are, or through a memo, or through a cheaper call). From that one description come
both appliers of a table: `_tables.NativeTable` (compiled) and `TableApplier`, the same loop in Python, used where
the extension is not built and held to it by tests/ingest/test_native.py.
"""

from __future__ import annotations

import hashlib
import ipaddress
import os
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable, TypeVar

from .. import privacy
from ...model import instance_key
from ...site.keys import SITE_HELP, MissingKeyError, key_id
from ..ids import ID_LENGTH, document_id, events_index, id_prefix
from ..memo import Memo
from ..native import tables_module

SCHEMA_VERSION = "1"

Doc = dict[str, Any]
Output = tuple[str, str, Doc, float]  # (index, _id, document, epoch seconds of @timestamp)
Converter = Callable[[Any], Any]
C = TypeVar("C", bound=Converter)
Table = tuple[tuple[str, tuple[str, ...], Converter | None], ...]


class NormaliseError(ValueError):
    """The record parsed but cannot be turned into a document (wrong type, missing timestamp ...)."""


class Unsupported(Exception):
    """A record type we do not ingest (a Zeek `files` log, an eve `stats` line): skipped, reported once."""


@dataclass(frozen=True, slots=True)
class Context:
    index_prefix: str = ""
    site_key: bytes | None = None  # the site's current key (settings.site_key_bytes()); there is no default key
    key_id: str = ""  # its id, stored beside every hash made with it (mcpeeker.key_id): joins survive a rotation

    def __post_init__(self) -> None:
        if not self.site_key:
            raise MissingKeyError(SITE_HELP)
        if not self.key_id:
            object.__setattr__(self, "key_id", key_id(self.site_key))


# ------------------------------------------------------------------------------------------ converters


class _Keep:
    __slots__ = ()

    def __repr__(self) -> str:
        return "KEEP"


KEEP = _Keep()  # a fast path that takes the value as it is
Int64 = (-(1 << 63), (1 << 63) - 1)  # the `long` mapping type
FastPath = tuple[dict[type, Any], tuple[int, int] | None]
FAST: dict[Converter, FastPath] = {}
CONVERTERS: dict[str, Converter] = {}  # function name -> converter: what a table's text names


def converter(convert: C) -> C:
    """Make a converter usable in mapping tables, under its function name (`@fast` does this too)."""
    known = CONVERTERS.setdefault(convert.__name__, convert)
    if known is not convert:
        raise ValueError(f"two converters named {convert.__name__!r}")
    return convert


def fast(by_type: dict[type, Any], int_range: tuple[int, int] | None = None) -> Callable[[C], C]:
    """Declare a converter's fast path, for values of exactly one of the types in `by_type` (not subclasses):
    KEEP takes the value as it is (an int only within `int_range`), a Memo looks it up, a callable is applied.
    Each must give what the converter gives for those values; test_native checks that it does."""

    def register(convert: C) -> C:
        FAST[convert] = (by_type, int_range)
        return converter(convert)

    return register


@fast({str: KEEP})
def as_str(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    raise ValueError(f"expected a string, got {type(value).__name__}")


@fast({int: KEEP}, Int64)
def as_int(value: Any) -> int:
    if isinstance(value, bool):
        raise ValueError("expected an integer, got a boolean")
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    elif isinstance(value, str) and value.lstrip("-").isdigit() and len(value) < 21:
        value = int(value)
    if isinstance(value, int):
        if Int64[0] <= value <= Int64[1]:
            return value
        raise ValueError(f"integer out of range: {value:.3g}")
    raise ValueError(f"expected an integer, got {value!r:.60}")


@fast({int: KEEP}, (0, 65535))
def as_port(value: Any) -> int:
    port = as_int(value)
    if not 0 <= port <= 65535:
        raise ValueError(f"port out of range: {port}")
    return port


@fast({float: KEEP})
def as_float(value: Any) -> float:
    if isinstance(value, bool):
        raise ValueError("expected a number, got a boolean")
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        return float(value)
    raise ValueError(f"expected a number, got {type(value).__name__}")


@fast({bool: KEEP})
def as_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if value in ("T", "true", "True", 1):
        return True
    if value in ("F", "false", "False", 0):
        return False
    raise ValueError(f"expected a boolean, got {value!r:.60}")


def _checked_ip(text: str) -> str:
    try:
        # Zeek writes IPv6 link-local scopes as fe80::1%eth0; the ip mapping type does not take the scope.
        return str(ipaddress.ip_address(text.split("%", 1)[0]))
    except ValueError:
        raise ValueError(f"not an IP address: {text!r:.60}") from None


_IPS: Memo[str, str] = Memo(_checked_ip, 65536)  # each distinct address is checked once


@fast({str: _IPS})
def as_ip(value: Any) -> str:
    """A valid address for the `ip` mapping type."""
    if not isinstance(value, str):
        raise ValueError(f"expected an IP address, got {type(value).__name__}")
    return _IPS[value]


@converter
def as_str_list(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [v if v.__class__ is str else as_str(v) for v in value]
    raise ValueError(f"expected a list of strings, got {type(value).__name__}")


@fast({str: KEEP})
def first_str(value: Any) -> str | None:
    items = as_str_list(value)
    return items[0] if items else None


@fast({str: str.lower})
def lower_str(value: Any) -> str:
    return as_str(value).lower()


def _redacted_snippet(text: str) -> str:
    return privacy.cut_snippet(privacy.redact_url(text))


# The same URIs recur (an MCP endpoint, a polled path); only short ones are kept: bounded memory.
_URLS: Memo[str, str] = Memo(_redacted_snippet, 16384, max_len=512)


@fast({str: _URLS})
def redacted_url(value: Any) -> str:
    """Redacted and cut to a snippet."""
    return _URLS[as_str(value)]


@converter
def redacted_text(value: Any) -> str:
    return privacy.snippet(as_str(value))


@fast({str: KEEP, int: str})
def id_str(value: Any) -> str:
    """JSON-RPC ids and flow ids are numbers or strings; stored as keyword strings."""
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise ValueError(f"expected a string or number id, got {type(value).__name__}")
    return str(value)


# ------------------------------------------------------------------------------------------ documents


def put(doc: Doc, path: tuple[str, ...], value: Any) -> None:
    d = doc
    for key in path[:-1]:
        nxt = d.get(key)
        if nxt is None:
            nxt = d[key] = {}
        d = nxt
    d[path[-1]] = value


def sub_object(data: Data, key: str) -> Data:
    """A nested object of a JSON record: {} when absent, a clear error when it is something else."""
    value = data.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise NormaliseError(f"field {key!r}: expected an object, got {type(value).__name__}")
    return value


def get(doc: Doc, path: tuple[str, ...]) -> Any:
    d: Any = doc
    for key in path:
        if not isinstance(d, dict):
            return None
        d = d.get(key)
    return d


MAPPINGS = os.path.join(os.path.dirname(__file__), "mappings.txt")


def tables(source: str) -> dict[str, Table]:
    """The mapping tables of one source, by name, from mappings.txt (its rows `zeek.HTTP uid zeek.uid as_str`:
    table, source field, dotted target path, converter). A converter is named by its function name (registered
    with `@fast` or `@converter` before this is called); `-` stores the value as it is."""
    found: dict[str, list[tuple[str, tuple[str, ...], Converter | None]]] = {}
    with open(MAPPINGS, encoding="utf-8") as fh:
        for number, text in enumerate(fh, 1):
            words = text.split("#", 1)[0].split()
            if not words:
                continue
            if len(words) != 4:
                raise ValueError(f"{MAPPINGS}:{number}: expected 'table field target.path converter': {text.strip()!r}")
            name, src, target, convert = words
            table_source, _, table_name = name.partition(".")
            if table_source != source:
                continue
            if convert != "-" and convert not in CONVERTERS:
                raise ValueError(f"{MAPPINGS}:{number}: no converter named {convert!r}")
            found.setdefault(table_name, []).append((src, tuple(target.split(".")), CONVERTERS.get(convert)))
    return {name: tuple(rows) for name, rows in found.items()}


_ERRORS = (ValueError, TypeError, OverflowError)
Applier = Callable[[Doc, dict[str, Any]], None]
# One row of an applier: source field, node the value goes into (0: the document), last key of the target path,
# converter (None: stored as it is), its fast path by type, int range, error prefix.
Row = tuple[str, int, str, Converter | None, dict[type, Any], tuple[int, int] | None, str]


def layout(table: Table) -> tuple[list[Row], list[int], list[str | None]]:
    """A table as the appliers run it: its rows, and the intermediate objects of the target paths (node i is
    created in node parents[i] under keys[i], once per document, when a value is stored in or below it)."""
    nodes: dict[tuple[str, ...], int] = {(): 0}
    parents: list[int] = [0]
    keys: list[str | None] = [None]
    rows: list[Row] = []
    for src, path, convert in table:
        for depth in range(1, len(path)):
            prefix = tuple(path[:depth])
            if prefix not in nodes:
                nodes[prefix] = len(parents)
                parents.append(nodes[prefix[:-1]])
                keys.append(prefix[-1])
        by_type, int_range = FAST.get(convert, ({}, None)) if convert is not None else ({}, None)
        rows.append((src, nodes[tuple(path[:-1])], path[-1], convert, by_type, int_range, f"field {src!r}: "))
    return rows, parents, keys


class TableApplier:
    """`_tables.NativeTable` as a plain Python loop, where the extension is not built: for each row,
    `v = data.get(src)`; skip None; the converter's fast path when the value's type has one, else the converter
    (its ValueError, TypeError or OverflowError becomes NormaliseError("field '<src>': <reason>")); skip a None
    result; create the intermediate objects of the target path once per document and store the value."""

    __slots__ = ("rows", "parents", "keys")

    def __init__(self, table: Table) -> None:
        self.rows, self.parents, self.keys = layout(table)

    def __call__(self, doc: Doc, data: dict[str, Any]) -> None:
        nodes: list[Any] = [doc] + [None] * (len(self.parents) - 1)
        get = data.get
        for row in self.rows:
            v = get(row[0])
            if v is None:  # most fields of a table are absent from a given record: nothing more is unpacked
                continue
            _, node, leaf, convert, by_type, int_range, error = row
            if convert is not None:
                try:
                    f: Any = by_type.get(v.__class__, convert)
                    if f is KEEP:
                        if int_range is not None and v.__class__ is int and not int_range[0] <= v <= int_range[1]:
                            v = convert(v)
                    elif f.__class__ is Memo:
                        v = f[v]
                    else:
                        v = f(v)
                except _ERRORS as exc:
                    raise NormaliseError(error + str(exc)) from None
                if v is None:
                    continue
            target = nodes[node]
            if target is None:
                target = self._create(nodes, node)
            target[leaf] = v

    def _create(self, nodes: list[Any], node: int) -> dict[str, Any]:
        parent = nodes[self.parents[node]]
        if parent is None:
            parent = self._create(nodes, self.parents[node])
        key = self.keys[node]
        found: dict[str, Any] | None = parent.get(key)
        if found is None:
            found = parent[key] = {}
        elif type(found) is not dict:
            raise TypeError(f"cannot store below {key!r}: it holds a {type(found).__name__}")
        nodes[node] = found
        return found


_native = tables_module()
NativeTable = _native.NativeTable if _native is not None else None


def compile_table_native(table: Table) -> Applier:
    """The table as the native applier (`_tables.NativeTable`)."""
    if NativeTable is None:
        raise RuntimeError("the native table applier (mcpeeker.ingest._tables) is not built")
    rows, parents, keys = layout(table)
    applier: Applier = NativeTable(rows, parents, keys, NormaliseError, _ERRORS, KEEP, Memo)
    return applier


def compile_table_python(table: Table) -> Applier:
    return TableApplier(table)


def compiled(table: Table) -> Applier:
    """The applier of a table (modules bind it at import so a record pays no lookup)."""
    return compile_table_native(table) if NativeTable is not None else compile_table_python(table)


def _second_text(sec: int) -> str:
    return datetime.fromtimestamp(sec, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")


_SECONDS: Memo[int, str] = Memo(
    _second_text, 65536
)  # whole second -> "YYYY-MM-DDTHH:MM:SS"; logs revisit recent seconds


def epoch_to_iso_python(ts: float) -> str:
    """`YYYY-MM-DDTHH:MM:SS.ffffffZ`; the date-time part is cached per second."""
    try:
        sec = int(ts // 1)
        micro = round((ts - sec) * 1e6)
        if micro >= 1_000_000:
            sec, micro = sec + 1, micro - 1_000_000
        text = _SECONDS[sec]
    except (OverflowError, OSError, ValueError) as exc:
        raise NormaliseError(f"timestamp out of range: {ts!r}: {exc}") from None
    return f"{text}.{micro:06d}Z"


# The native form when built (about 5x faster; it asks the reference for each new second and for odd input).
epoch_to_iso: Callable[[float], str] = (
    _native.NativeIso(epoch_to_iso_python) if _native is not None else epoch_to_iso_python
)


def _day_epoch(day: str) -> float:
    return datetime.strptime(day, "%Y-%m-%d").replace(tzinfo=timezone.utc).timestamp()


_DAYS: Memo[str, float] = Memo(_day_epoch, 100_000)


def _minute_epoch(head: str) -> float | None:
    """ "YYYY-MM-DDTHH:MM:" -> epoch of that minute; None when it is not one."""
    try:
        base = _DAYS[head[:10]]
        hour, minute = int(head[11:13]), int(head[14:16])
    except ValueError:
        return None
    if hour > 23 or minute > 59 or head[13] != ":" or head[16] != ":":
        return None
    # The same additions, in the same order, as for the whole timestamp: the sum is bit-identical.
    return base + hour * 3600 + minute * 60


_MINUTES: Memo[str, float | None] = Memo(_minute_epoch, 65536)
_minute_base: Callable[[str], float | None] = _MINUTES.__getitem__


def _fast_suricata_time_python(text: str) -> tuple[str, float] | None:
    """Suricata's own `2026-11-23T16:39:37.809609+0000`, without datetime parsing; None for anything else."""
    if len(text) != 31 or not text.endswith("+0000") or text[10] != "T" or text[19] != ".":
        return None
    base = _MINUTES[text[:17]]
    if base is None:
        return None
    try:
        second = float(text[17:26])
    except ValueError:
        return None
    if second >= 60 or not text[20:26].isdigit():
        return None
    return text[:26] + "Z", base + second


# The native form when built (about 3x faster; it leaves any other shape to the reference).
_fast_suricata_time: Callable[[str], tuple[str, float] | None] = (
    _native.NativeSuricataTime(_fast_suricata_time_python, _minute_base)
    if _native is not None
    else _fast_suricata_time_python
)


def parse_iso(value: Any, field: str) -> tuple[str, float]:
    """An ISO 8601 / RFC 3339 timestamp (Suricata writes +0000) -> (UTC ISO string, epoch seconds)."""
    if not isinstance(value, str):
        raise NormaliseError(f"field {field!r}: expected a timestamp string, got {type(value).__name__}")
    fast = _fast_suricata_time(value)
    if fast is not None:
        return fast
    text = value.strip()
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    try:
        dt = datetime.fromisoformat(text)
    except ValueError:
        raise NormaliseError(f"field {field!r}: not an ISO 8601 timestamp: {value!r:.60}") from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    try:
        epoch = dt.timestamp()
        iso = dt.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")
    except (OverflowError, ValueError) as exc:
        raise NormaliseError(f"field {field!r}: timestamp out of range: {exc}") from None
    return iso, epoch


def doc_start(
    *, module: str, dataset: str, kind: str, evidence_type: str, evidence_kind: str
) -> Callable[[str, str, int], Doc]:
    """The constant part of a document of one kind, bound once (at import): (timestamp, file, line) -> document."""

    def start(timestamp: str, file: str, line: int) -> Doc:
        return {
            "@timestamp": timestamp,
            "event": {"kind": kind, "module": module, "dataset": dataset},
            "mcpeeker": {
                "evidence": {"type": evidence_type, "kind": evidence_kind},
                "source": {"file": file, "line": line},
                "schema_version": SCHEMA_VERSION,
            },
        }

    return start


def finish(doc: Doc, ctx: Context, epoch: float, source: str, rtype: str, raw: bytes, part: str = "") -> Output:
    doc_id = document_id(source, rtype, raw, part)
    doc["event"]["id"] = doc_id
    return events_index(ctx.index_prefix, epoch), doc_id, doc, epoch


def net_instance_key(ip: Any, port: Any) -> str | None:
    if ip is None or port is None:
        return None
    return instance_key.net(ip, port)


def put_instance_key(doc: Doc, ip: Any, port: Any) -> None:
    """`mcpeeker.instance.key` of a network server, when its address and port are known."""
    key = net_instance_key(ip, port)
    if key:
        put(doc, ("mcpeeker", "instance", "key"), key)


def destination_key(doc: Doc, *_: object) -> None:
    """`mcpeeker.instance.key` of the record's destination: the server of a connection, whatever the direction of
    the message."""
    dest = doc.get("destination", {})
    put_instance_key(doc, dest.get("ip"), dest.get("port"))


def split_url(doc: Doc, *_: object) -> None:
    """`url.path` and `url.query` from the (redacted) `url.original`."""
    url = doc.get("url")
    if url and "original" in url:
        path, _, query = url["original"].partition("?")
        url["path"] = path
        if query:
            url["query"] = query


def sni_domain(doc: Doc, *_: object) -> None:
    """The TLS server name is the destination's domain."""
    sni = doc.get("tls", {}).get("client", {}).get("server_name")
    if sni:
        put(doc, ("destination", "domain"), sni)


def network_bytes(doc: Doc, *_: object) -> None:
    """`network.bytes`: both directions of a flow."""
    src = doc.get("source", {}).get("bytes")
    dst = doc.get("destination", {}).get("bytes")
    if src is not None or dst is not None:
        put(doc, ("network", "bytes"), (src or 0) + (dst or 0))


# ------------------------------------------------------------------------------------------ record types

Data = dict[str, Any]  # a parsed record
Begin = Callable[[Data, str, int], tuple[Doc, float]]  # (record, file, line) -> (document start, epoch)
RecordFn = Callable[[Data, Context, str, int], tuple[Doc, float]]  # one record type's normaliser
Normaliser = Callable[[str, Data, bytes, Context, str, int], list[Output]]


def starter(timestamp: Callable[[Data], tuple[str, float]], **constant: str) -> Begin:
    """The first step of every record type of a source: the record's timestamp (ISO text, epoch), then the
    document's constant part (`doc_start(**constant)`, bound once)."""
    start = doc_start(**constant)

    def begin(data: Data, file: str, line: int) -> tuple[Doc, float]:
        iso, epoch = timestamp(data)
        return start(iso, file, line), epoch

    return begin


Step = Callable[[Doc, Data, Context], None]  # a further step of a record type: (document, record, context)


def protocol(name: str) -> Step:
    """A step that sets `network.protocol`."""

    def step(doc: Doc, *_: object) -> None:
        put(doc, ("network", "protocol"), name)

    return step


def record_type(begin: Begin, applier: Applier, *steps: Step) -> RecordFn:
    """A record type that is its document start, one mapping table over the whole record, then `steps` in order."""

    def normalise(data: Data, ctx: Context, file: str, line: int) -> tuple[Doc, float]:
        doc, epoch = begin(data, file, line)
        applier(doc, data)
        for step in steps:
            step(doc, data, ctx)
        return doc, epoch

    return normalise


def dispatcher(source: str, table: dict[str, RecordFn], what: str) -> Normaliser:
    """One normaliser for a source: pick the record type's function from `table`, then finish the document."""
    # ids.document_id(source, rtype, raw) with its prefix bound per record type: this runs once per ingested line.
    prefixes = {rtype: id_prefix(source, rtype) for rtype in table}
    sha256 = hashlib.sha256

    def normalise(rtype: str, data: Data, raw: bytes, ctx: Context, file: str, line: int) -> list[Output]:
        fn = table.get(rtype)
        if fn is None:
            raise Unsupported(f"{what} {rtype!r} is not ingested")
        doc, epoch = fn(data, ctx, file, line)
        doc_id = sha256(prefixes[rtype] + raw).hexdigest()[:ID_LENGTH]
        doc["event"]["id"] = doc_id
        return [(events_index(ctx.index_prefix, epoch), doc_id, doc, epoch)]

    normalise.__name__ = f"normalise_{source}"
    return normalise
