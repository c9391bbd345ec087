#!/usr/bin/env python3
"""Each native piece of the ingest hot path against its pure-Python reference, on real records.

Times, per call (best of five repeats), the mapping tables of the Zeek and Suricata normalisers, the Zeek TSV
header parser, epoch -> ISO and Suricata's timestamp format, in their native form (ingest/_tables.pyx) and in
the Python form they fall back to (plain loops: `common.TableApplier`, `readers.TsvParser`). The records are the shared Zeek 7 logs and a real eve.json line.

    .venv/bin/python bench/ingest_native.py
"""

from __future__ import annotations

import sys
import timeit
from pathlib import Path
from typing import Any, Callable

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "ingest_python"))

from mcpeeker.ingest import native  # noqa: E402
from mcpeeker.ingest.normalise import common, suricata, zeek  # noqa: E402
from mcpeeker.ingest.readers import Record, TsvParser, ZeekParser, read_file  # noqa: E402

LOGS = REPO.parent / "shared" / "zeek-logs"
# One eve http event as Suricata 7 writes it (the shape of tests/pcaps output).
EVE_HTTP = {
    "timestamp": "2026-11-23T16:39:37.809609+0000",
    "flow_id": 1412571240915330,
    "in_iface": "lo",
    "event_type": "http",
    "src_ip": "10.20.0.100",
    "src_port": 51234,
    "dest_ip": "10.20.0.3",
    "dest_port": 8000,
    "proto": "TCP",
    "community_id": "1:abc=",
    "app_proto": "http",
    "http": {
        "hostname": "10.20.0.3",
        "http_port": 8000,
        "url": "/mcp",
        "http_user_agent": "python-httpx/0.28.1",
        "http_content_type": "application/json",
        "http_method": "POST",
        "protocol": "HTTP/1.1",
        "status": 200,
        "length": 311,
    },
}


def _per_call(fn: Callable[[], Any], number: int = 20000) -> float:
    return min(timeit.repeat(fn, number=number, repeat=5)) / number * 1e6


def _row(name: str, python_us: float, native_us: float) -> None:
    print(f"{name:<44}{python_us:>10.2f}{native_us:>10.2f}{python_us / native_us:>9.1f}x")


def _first_record(path: Path) -> dict:
    return next(item.data for item in read_file("zeek", str(path)) if isinstance(item, Record))


def main() -> None:
    if native.tables_module() is None:
        raise SystemExit("the native pieces are not built here (or MCPEEKER_PURE_PYTHON is set): run `make venv`")
    print(f"native: {native.summary()}")
    print(f"{'piece (per call, µs)':<44}{'python':>10}{'native':>10}{'speed-up':>10}")
    tables = [
        ("zeek CONN on a conn.log record", zeek.CONN, _first_record(LOGS / "json" / "http_bro.org" / "conn.log")),
        ("zeek HTTP on an http.log record", zeek.HTTP, _first_record(LOGS / "json" / "http_bro.org" / "http.log")),
        ("suricata COMMON on an eve http event", suricata.COMMON, EVE_HTTP),
        ("suricata HTTP on its http object", suricata.HTTP, EVE_HTTP["http"]),
    ]
    for name, table, record in tables:
        python, compiled = common.compile_table_python(table), common.compile_table_native(table)
        _row(name, _per_call(lambda: python({"event": {}}, record)), _per_call(lambda: compiled({"event": {}}, record)))

    path = LOGS / "tsv" / "http_bro.org" / "http.log"
    parser = ZeekParser(str(path))
    lines = path.read_bytes().splitlines()
    for raw in lines:
        if raw.startswith(b"#"):
            parser.header(raw)
    values = next(raw for raw in lines if not raw.startswith(b"#")).decode().split(parser.sep)
    parser._compile()
    reference = TsvParser(parser.fields or [], parser.converters or [], parser.unset)
    _row(
        f"Zeek TSV http header parser ({len(values)} fields)",
        _per_call(lambda: reference(values)),
        _per_call(lambda: parser.fast(values)),
    )  # type: ignore[misc]

    ts = 1730145026.0228002
    _row("epoch -> ISO", _per_call(lambda: common.epoch_to_iso_python(ts)), _per_call(lambda: common.epoch_to_iso(ts)))
    text = EVE_HTTP["timestamp"]
    _row(
        "Suricata timestamp",
        _per_call(lambda: common._fast_suricata_time_python(text)),
        _per_call(lambda: common._fast_suricata_time(text)),
    )


if __name__ == "__main__":
    main()
