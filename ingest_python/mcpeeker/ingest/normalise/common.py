"""Shared pieces of the normalisers: the context, typed field converters and table application.

A mapping table is a tuple of `(source field, target path, converter)`. Converters raise ValueError with a
plain message; `apply_table` turns it into a NormaliseError naming the field, which the pipeline
dead-letters with file and line.
"""

from __future__ import annotations

import hashlib
import ipaddress
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable

from .. import privacy
from ...site.keys import SITE_HELP, MissingKeyError, key_id
from ..ids import ID_LENGTH, document_id, events_index, id_prefix
from ..native import tables_module

SCHEMA_VERSION = "1"

Doc = dict[str, Any]
Output = tuple[str, str, Doc, float]  # (index, _id, document, epoch seconds of @timestamp)
Converter = Callable[[Any], Any]
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

def as_str(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    raise ValueError(f"expected a string, got {type(value).__name__}")


def as_int(value: Any) -> int:
    if isinstance(value, bool):
        raise ValueError("expected an integer, got a boolean")
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    elif isinstance(value, str) and value.lstrip("-").isdigit() and len(value) < 21:
        value = int(value)
    if isinstance(value, int):
        if -(1 << 63) <= value < (1 << 63):  # the `long` mapping type
            return value
        raise ValueError(f"integer out of range: {value:.3g}")
    raise ValueError(f"expected an integer, got {value!r:.60}")


def as_port(value: Any) -> int:
    port = as_int(value)
    if not 0 <= port <= 65535:
        raise ValueError(f"port out of range: {port}")
    return port


def as_float(value: Any) -> float:
    if isinstance(value, bool):
        raise ValueError("expected a number, got a boolean")
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        return float(value)
    raise ValueError(f"expected a number, got {type(value).__name__}")


def as_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if value in ("T", "true", "True", 1):
        return True
    if value in ("F", "false", "False", 0):
        return False
    raise ValueError(f"expected a boolean, got {value!r:.60}")


_IP_CACHE: dict[str, str] = {}


def as_ip(value: Any) -> str:
    """A valid address for the `ip` mapping type (checked once per distinct address)."""
    ip = _IP_CACHE.get(value) if value.__class__ is str else None
    if ip is not None:
        return ip
    if not isinstance(value, str):
        raise ValueError(f"expected an IP address, got {type(value).__name__}")
    try:
        # Zeek writes IPv6 link-local scopes as fe80::1%eth0; the ip mapping type does not take the scope.
        ip = str(ipaddress.ip_address(value.split("%", 1)[0]))
    except ValueError:
        raise ValueError(f"not an IP address: {value!r:.60}") from None
    if len(_IP_CACHE) >= 65536:
        _IP_CACHE.clear()
    _IP_CACHE[value] = ip
    return ip


def as_str_list(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [as_str(v) for v in value]
    raise ValueError(f"expected a list of strings, got {type(value).__name__}")


def first_str(value: Any) -> str | None:
    items = as_str_list(value)
    return items[0] if items else None


def lower_str(value: Any) -> str:
    return as_str(value).lower()


_URL_CACHE: dict[str, str] = {}
_URL_CACHE_MAX = 16384  # entries of at most _URL_CACHED_LEN characters: bounded memory
_URL_CACHED_LEN = 512


def redacted_url(value: Any) -> str:
    """Redacted and cut to a snippet; the same URIs recur (an MCP endpoint, a polled path), so recent results are
    kept in a bounded cache."""
    text = as_str(value)
    url = _URL_CACHE.get(text)
    if url is not None:
        return url
    url = privacy.cut_snippet(privacy.redact_url(text))
    if len(text) <= _URL_CACHED_LEN:
        if len(_URL_CACHE) >= _URL_CACHE_MAX:
            _URL_CACHE.clear()
        _URL_CACHE[text] = url
    return url


def redacted_text(value: Any) -> str:
    return privacy.snippet(as_str(value))


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


def get(doc: Doc, path: tuple[str, ...]) -> Any:
    d: Any = doc
    for key in path:
        if not isinstance(d, dict):
            return None
        d = d.get(key)
    return d


_ERRORS = (ValueError, TypeError, OverflowError)
_COMPILED: dict[int, Callable[[Doc, dict], None]] = {}


# Converters with an inline fast path in the native applier (ingest/_tables.pyx numbers them the same way).
_NATIVE_KINDS: dict[Converter, int] = {
    as_str: 1, as_int: 2, as_port: 3, as_float: 4, as_ip: 5, as_bool: 6, lower_str: 7, id_str: 8,
    redacted_url: 9, as_str_list: 10, first_str: 11,
}

_native = tables_module()
NativeTable = _native.NativeTable if _native is not None else None


def compile_table_native(table: Table) -> Callable[[Doc, dict], None]:
    """The table as a native applier: the same stores and errors as `compile_table_python`, 1.6-1.8x faster."""
    if NativeTable is None:
        raise RuntimeError("the native table applier (mcpeeker.ingest._tables) is not built")
    rows = [(src, path, convert, _NATIVE_KINDS.get(convert, 0)) for src, path, convert in table]
    return NativeTable(rows, NormaliseError, _ERRORS, _IP_CACHE, _URL_CACHE, as_str)


def compile_table(table: Table) -> Callable[[Doc, dict], None]:
    return compile_table_native(table) if NativeTable is not None else compile_table_python(table)


def compile_table_python(table: Table) -> Callable[[Doc, dict], None]:
    """Turn a mapping table into straight-line Python (one `get`, one converter call and one store per row, each
    intermediate object looked up or created once per document): the table stays the single source of truth,
    the generated code avoids a generic loop and repeated path walks per field."""
    env: dict[str, Any] = {"_NE": NormaliseError, "_ERRORS": _ERRORS, "_IPC": _IP_CACHE, "_URLC": _URL_CACHE, "_S": as_str}
    nodes: dict[tuple[str, ...], str] = {(): "doc"}
    for _, path, _ in table:
        for depth in range(1, len(path)):
            nodes.setdefault(path[:depth], f"n{len(nodes)}")
    lines = ["def apply(doc, data):", "    g = data.get"]
    lines += [f"    {name} = None" for prefix, name in nodes.items() if prefix]

    def ensure(prefix: tuple[str, ...], indent: str) -> list[str]:
        if not prefix:
            return []
        name, parent = nodes[prefix], nodes[prefix[:-1]]
        return [f"{indent}if {name} is None:",
                *ensure(prefix[:-1], indent + "    "),
                f"{indent}    {name} = {parent}.get({prefix[-1]!r})",
                f"{indent}    if {name} is None:",
                f"{indent}        {name} = {parent}[{prefix[-1]!r}] = {{}}"]

    for i, (src, path, convert) in enumerate(table):
        env[f"c{i}"] = convert
        lines += [f"    v = g({src!r})", "    if v is not None:"]
        if convert is not None:
            # Inline fast paths for the common, already-right values; anything else goes through the converter.
            call = {
                as_str: f"v = v if v.__class__ is str else c{i}(v)",
                as_int: f"v = v if v.__class__ is int and -9223372036854775808 <= v <= 9223372036854775807 else c{i}(v)",
                as_port: f"v = v if v.__class__ is int and 0 <= v <= 65535 else c{i}(v)",
                as_float: f"v = v if v.__class__ is float else c{i}(v)",
                as_ip: f"v = (_IPC.get(v) if v.__class__ is str else None) or c{i}(v)",
                as_bool: f"v = v if v.__class__ is bool else c{i}(v)",
                lower_str: f"v = v.lower() if v.__class__ is str else c{i}(v)",
                id_str: f"v = v if v.__class__ is str else str(v) if v.__class__ is int else c{i}(v)",
                redacted_url: f"v = (_URLC.get(v) if v.__class__ is str else None) or c{i}(v)",
                as_str_list: f"v = [x if x.__class__ is str else _S(x) for x in v] if v.__class__ is list else c{i}(v)",
            }.get(convert, f"v = c{i}(v)")
            lines += ["        try:", f"            {call}", "        except _ERRORS as exc:",
                      f"            raise _NE({f'field {src!r}: '!r} + str(exc)) from None"]
        lines.append("        if v is not None:")
        lines += ensure(path[:-1], "            ")
        lines.append(f"            {nodes[path[:-1]]}[{path[-1]!r}] = v")
    if len(lines) == 2:
        lines.append("    return None")
    exec(compile("\n".join(lines), f"<table {len(table)} rows>", "exec"), env)  # noqa: S102 - our own constant tables
    return env["apply"]


def compiled(table: Table) -> Callable[[Doc, dict], None]:
    """The compiled form of a table (compiled once; modules bind it at import so a record pays no lookup)."""
    fn = _COMPILED.get(id(table))
    if fn is None:
        fn = _COMPILED[id(table)] = compile_table(table)
        _KEEP.append(table)  # the id stays this table's while the table lives
    return fn


_KEEP: list[Table] = []


def apply_table(doc: Doc, data: dict, table: Table) -> None:
    compiled(table)(doc, data)


_SECONDS: dict[int, str] = {}  # whole second -> "YYYY-MM-DDTHH:MM:SS" (bounded; logs revisit recent seconds)


def epoch_to_iso_python(ts: float) -> str:
    """`YYYY-MM-DDTHH:MM:SS.ffffffZ`; the date-time part is cached per second."""
    try:
        sec = int(ts // 1)
        micro = round((ts - sec) * 1e6)
        if micro >= 1_000_000:
            sec, micro = sec + 1, micro - 1_000_000
        text = _SECONDS.get(sec)
        if text is None:
            text = datetime.fromtimestamp(sec, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
            if len(_SECONDS) >= 65536:
                _SECONDS.clear()
            _SECONDS[sec] = text
    except (OverflowError, OSError, ValueError) as exc:
        raise NormaliseError(f"timestamp out of range: {ts!r}: {exc}") from None
    return f"{text}.{micro:06d}Z"


# The native form when built (about 5x faster; it asks the reference for each new second and for odd input).
epoch_to_iso: Callable[[float], str] = (_native.NativeIso(epoch_to_iso_python) if _native is not None
                                        else epoch_to_iso_python)


_DAY_EPOCH: dict[str, float] = {}
_MINUTE_EPOCH: dict[str, float] = {}  # "YYYY-MM-DDTHH:MM:" -> epoch of that minute (bounded)


def _minute_epoch(head: str) -> float | None:
    day = head[:10]
    base = _DAY_EPOCH.get(day)
    try:
        if base is None:
            base = datetime.strptime(day, "%Y-%m-%d").replace(tzinfo=timezone.utc).timestamp()
            if len(_DAY_EPOCH) < 100_000:
                _DAY_EPOCH[day] = base
        hour, minute = int(head[11:13]), int(head[14:16])
    except ValueError:
        return None
    if hour > 23 or minute > 59 or head[13] != ":" or head[16] != ":":
        return None
    # The same additions, in the same order, as for the whole timestamp: the sum is bit-identical.
    base = base + hour * 3600 + minute * 60
    if len(_MINUTE_EPOCH) >= 65536:
        _MINUTE_EPOCH.clear()
    _MINUTE_EPOCH[head] = base
    return base


def _minute_base(head: str) -> float | None:
    base = _MINUTE_EPOCH.get(head)
    return base if base is not None else _minute_epoch(head)


def _fast_suricata_time_python(text: str) -> tuple[str, float] | None:
    """Suricata's own `2026-11-23T16:39:37.809609+0000`, without datetime parsing; None for anything else."""
    if len(text) != 31 or not text.endswith("+0000") or text[10] != "T" or text[19] != ".":
        return None
    base = _minute_base(text[:17])
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
    _native.NativeSuricataTime(_fast_suricata_time_python, _minute_base) if _native is not None
    else _fast_suricata_time_python)


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


def base_doc(*, timestamp: str, module: str, dataset: str, kind: str, evidence_type: str,
             evidence_kind: str, file: str, line: int) -> Doc:
    return doc_start(module=module, dataset=dataset, kind=kind, evidence_type=evidence_type,
                     evidence_kind=evidence_kind)(timestamp, file, line)


def doc_start(*, module: str, dataset: str, kind: str, evidence_type: str,
              evidence_kind: str) -> Callable[[str, str, int], Doc]:
    """`base_doc` with the constant part bound once per record type: (timestamp, file, line) -> document."""
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
    return f"net:{ip}:{port}"


def dispatcher(source: str, table: dict[str, Callable[[dict, Context, str, int], tuple[Doc, float]]],
               what: str) -> Callable[[str, dict, bytes, Context, str, int], list[Output]]:
    """One normaliser for a source: pick the record type's function from `table`, then finish the document."""
    # ids.document_id(source, rtype, raw) with its prefix bound per record type: this runs once per ingested line.
    prefixes = {rtype: id_prefix(source, rtype) for rtype in table}
    sha256 = hashlib.sha256

    def normalise(rtype: str, data: dict, raw: bytes, ctx: Context, file: str, line: int) -> list[Output]:
        fn = table.get(rtype)
        if fn is None:
            raise Unsupported(f"{what} {rtype!r} is not ingested")
        doc, epoch = fn(data, ctx, file, line)
        doc_id = sha256(prefixes[rtype] + raw).hexdigest()[:ID_LENGTH]
        doc["event"]["id"] = doc_id
        return [(events_index(ctx.index_prefix, epoch), doc_id, doc, epoch)]
    normalise.__name__ = f"normalise_{source}"
    return normalise
