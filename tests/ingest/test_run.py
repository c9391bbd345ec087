"""`mcpeeker.ingest.run.run_ingest`, the library behind `mcpeeker ingest`, against the real test node: typed
options in, a typed result out that agrees with what the cluster holds and what was dead-lettered."""

from __future__ import annotations

import shutil
import threading
from pathlib import Path

import pytest

from mcpeeker.client import make_client
from mcpeeker.errors import MCPeekerError
from mcpeeker.ingest.run import IngestOptions, run_ingest
from mcpeeker.settings import Settings

from .conftest import ZEEK_LOGS


class Recorder:
    def __init__(self) -> None:
        self.starts: list[tuple[str, int]] = []
        self.updates: list[tuple[int, int]] = []

    def start(self, source: str, total_bytes: int) -> None:
        self.starts.append((source, total_bytes))

    def update(self, completed_bytes: int, records: int) -> None:
        self.updates.append((completed_bytes, records))


def test_one_shot_result_matches_the_cluster(os_settings: Settings, tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    shutil.copytree(ZEEK_LOGS / "json" / "http_get", logs)  # conn.log, http.log and a files.log we do not ingest
    with open(logs / "http.log", "ab") as fh:
        fh.write(b'{"ts": "yesterday", "uid": "Cbad"}\n')  # a bad line: dead-lettered, the rest indexed
    dead = tmp_path / "dead.log"
    progress = Recorder()
    options = IngestOptions(
        source="zeek", paths=(str(logs),), dead_letter=str(dead), spool_dir=tmp_path / "spool", setup=False
    )

    result = run_ingest(os_settings, options, progress=progress)

    lines = sum(1 for p in logs.glob("*.log") for line in p.read_bytes().splitlines() if line.strip())
    client = make_client(os_settings)
    indexed = client.count(index=os_settings.index("mcp-events-*"))["count"]  # searchable when run_ingest returns
    assert result.indexed == result.documents == indexed == lines - 1 - result.skipped
    assert result.read == lines and result.rejected == 1 and result.spooled_left == 0
    assert result.skipped_types == {"zeek.files": result.skipped} and result.skipped > 0
    assert result.dead_letter_path == dead and result.dead_lettered == 2  # the bad line and the skipped-type notice
    assert "field 'ts'" in dead.read_text()
    total = sum(p.stat().st_size for p in logs.glob("*.log"))
    assert progress.starts == [("zeek", total)] and progress.updates[-1] == (total, lines)


def test_options_are_checked_before_anything_is_touched(tmp_path: Path) -> None:
    settings = Settings(url="http://127.0.0.1:9", site_key="k" * 32)  # nothing listens: nothing may be contacted
    with pytest.raises(MCPeekerError, match="standard input"):
        run_ingest(settings, IngestOptions(source="zeek", paths=("-",)))
    with pytest.raises(MCPeekerError, match="--follow"):
        run_ingest(settings, IngestOptions(source="agent", paths=("-",), follow=True), stop=threading.Event())
