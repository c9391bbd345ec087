#!/usr/bin/env python3
"""Cost of idempotent ids across rollovers (mcpeeker.lifecycle.Router): ingest documents/s into the write alias
with one evidence index (no lookup), after a rollover with fresh lines (one `ids` query per bulk request, nothing
found) and re-ingesting the first file (every document found and sent back to its rolled-over index), next to
re-ingesting it before the rollover (overwrites cost more than new documents, with or without the lookup).

Lines are real Zeek conn.log records (tests/data/zeek-logs) replayed at distinct times, as tests/ingest/test_rollover.py.

    .venv/bin/python bench/rollover_lookup.py [--lines 100000] [--url http://127.0.0.1:9250]
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import time
import uuid
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "ingest_python"))

from mcpeeker import indices, lifecycle  # noqa: E402
from mcpeeker.client import make_client  # noqa: E402
from mcpeeker.ingest.run import IngestOptions, run_ingest  # noqa: E402
from mcpeeker.settings import Settings  # noqa: E402


def write_lines(path: Path, start: float, n: int) -> None:
    records = [
        orjson.loads(line)
        for log in sorted((ROOT / "tests" / "data" / "zeek-logs" / "json").glob("*/conn.log"))
        for line in log.read_bytes().splitlines()
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as fh:
        for i in range(n):
            fh.write(orjson.dumps({**records[i % len(records)], "ts": start + i * 0.001}) + b"\n")


def ingest(settings: Settings, path: Path, spool: Path) -> tuple[int, float]:
    options = IngestOptions(source="zeek", paths=(str(path),), dead_letter=None, spool_dir=spool, setup=False)
    started = time.monotonic()
    result = run_ingest(settings, options)
    return result.indexed, time.monotonic() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lines", type=int, default=100_000)
    parser.add_argument("--url", default="http://127.0.0.1:9250")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    prefix = f"bench-roll-{uuid.uuid4().hex[:6]}-"
    settings = Settings(url=args.url, index_prefix=prefix, site_key="b" * 32)
    client = make_client(settings)
    indices.install(settings, client)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            first, fresh = Path(tmp) / "a" / "conn.log", Path(tmp) / "b" / "conn.log"
            now = time.time()
            write_lines(first, now - 7200, args.lines)
            write_lines(fresh, now - 3600, args.lines)
            rows = [("one index (no lookup)", *ingest(settings, first, Path(tmp) / "spool"))]
            rows.append(("one index, same lines again (overwrites)", *ingest(settings, first, Path(tmp) / "s")))
            lifecycle.rollover(client, settings, force=True)
            rows.append(("after rollover, new lines (lookup, none found)", *ingest(settings, fresh, Path(tmp) / "s")))
            rows.append(("after rollover, same lines (all rerouted)", *ingest(settings, first, Path(tmp) / "s")))
            client.indices.refresh(index=lifecycle.events_pattern(settings))
            stored = client.count(index=lifecycle.events_pattern(settings))["count"]
        for name, docs, seconds in rows:
            print(f"{name:50s} {docs:>9,} docs {seconds:7.2f} s {docs / seconds:>10,.0f} docs/s")
        print(
            f"stored {stored:,} documents for {2 * args.lines:,} distinct lines (duplicates: {stored - 2 * args.lines})"
        )
    finally:
        client.indices.delete(index=f"{prefix}*", expand_wildcards="all")
        for name in indices.load_templates(prefix):
            client.indices.delete_index_template(name=f"{prefix}{name}", ignore=[404])


if __name__ == "__main__":
    main()
