#!/usr/bin/env python3
"""Instructions per ingested line under callgrind: a count that stays the same run after run, for comparing two
versions of the ingest hot path on a machine too busy for timings to agree.

Runs the pipeline (read + parse + normalise + serialise, no cluster) over the first --lines lines of every file of
a corpus (a --workdir kept by ingest_throughput.py, and the shared Zeek logs), under valgrind's callgrind, once
with --lines and once with one line per file, and prints the difference: the instructions of the lines alone,
start-up taken out. It also prints a digest of every bulk action, so two versions can be shown to make the same
documents.

    .venv/bin/python bench/ingest_throughput.py --events 200000 --skip-e2e --workdir bench/out/ingest
    .venv/bin/python bench/ingest_instructions.py bench/out/ingest [--lines 2000]
"""

from __future__ import annotations

import argparse
import hashlib
import re
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "zeek-logs"


def files(corpus: Path) -> list[tuple[str, Path]]:
    found = [("zeek", p) for p in sorted(corpus.glob("zeek-*/*.log"))]
    found += [("suricata", p) for p in sorted(corpus.glob("suricata/eve.json"))]
    found += [("agent", p) for p in sorted(corpus.glob("agent/*.ndjson"))]
    return found + [("zeek", p) for p in sorted(SHARED.glob("*/*/*.log"))]


def run(corpus: Path, lines: int) -> None:
    sys.path.insert(0, str(REPO / "ingest_python"))
    from mcpeeker.ingest.deadletter import DeadLetter
    from mcpeeker.ingest.normalise import Context
    from mcpeeker.ingest.pipeline import Pipeline
    from mcpeeker.ingest.readers import read_file

    class Sink:
        def __init__(self) -> None:
            self.digest, self.docs = hashlib.sha256(), 0

        def add(self, action: bytes, file: str, line: int, epoch: float) -> None:
            self.digest.update(action)
            self.docs += 1

    sink = Sink()
    pipeline = Pipeline(Context("bench-", b"bench-key"), sink, DeadLetter(None))
    for source, path in files(corpus):
        for n, item in enumerate(read_file(source, str(path))):
            if n >= lines:
                break
            pipeline.feed(item)
    print(
        f"documents {sink.docs} bad {pipeline.stats.bad} skipped {pipeline.stats.skipped} "
        f"digest {sink.digest.hexdigest()[:16]}"
    )


def instructions(corpus: Path, lines: int) -> tuple[int, str]:
    with tempfile.TemporaryDirectory() as tmp:
        out = subprocess.run(
            [
                "valgrind",
                "--tool=callgrind",
                f"--callgrind-out-file={tmp}/out",
                sys.executable,
                __file__,
                str(corpus),
                "--lines",
                str(lines),
                "--run",
            ],
            capture_output=True,
            text=True,
            check=True,
        )
    collected = re.search(r"Collected : (\d+)", out.stderr)
    if collected is None:
        raise SystemExit(f"no instruction count from callgrind:\n{out.stderr[-2000:]}")
    return int(collected.group(1)), out.stdout.strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("corpus", type=Path, help="a --workdir of ingest_throughput.py")
    parser.add_argument("--lines", type=int, default=2000, help="lines per file")
    parser.add_argument("--run", action="store_true", help=argparse.SUPPRESS)  # the process callgrind measures
    args = parser.parse_args()
    if args.run:
        run(args.corpus, args.lines)
        return
    full, summary = instructions(args.corpus, args.lines)
    start, _ = instructions(args.corpus, 1)
    print(summary)
    print(f"instructions: {full - start:,} for the lines ({full:,} - {start:,} of start-up and one line per file)")
    docs = int(summary.split()[1])
    print(f"per document: {(full - start) / docs:,.0f}")


if __name__ == "__main__":
    main()
