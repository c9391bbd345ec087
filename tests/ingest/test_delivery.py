"""`mcpeeker ingest` against the real local OpenSearch node: idempotence, cluster rejections, bad input exit
codes, stdin, crash and restart in follow mode, rotation, an outage of the cluster (own node), metrics."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any, Callable

import orjson
import pytest

from mcpeeker.cli import main as cli_main
from mcpeeker.client import make_client
from mcpeeker.ingest.deadletter import parse_entry
from mcpeeker.ingest.normalise import Context, Unsupported, normalise
from mcpeeker.ingest.readers import Record, expand_paths, read_file
from mcpeeker.sensors.zeek import find_zeek, zeek_version
from mcpeeker.settings import Settings

from paths import PCAP_DIR, SITE_KEY

pytestmark = pytest.mark.opensearch


def _conn(settings: Settings) -> list[str]:
    return ["--url", settings.url, "--index-prefix", settings.index_prefix]


def _count(client: Any, settings: Settings, query: dict | None = None) -> int:
    pattern = f"{settings.index_prefix}mcp-events-*"
    # The ingestor may have just created a daily index: count once its shards are active, not mid-creation (503).
    client.cluster.health(index=pattern, wait_for_status="yellow")  # the server waits up to 30 s
    client.indices.refresh(index=pattern, ignore_unavailable=True, allow_no_indices=True)
    body = {"query": query} if query else None
    return client.count(index=pattern, body=body, ignore_unavailable=True, allow_no_indices=True)["count"]


def _expected_ids(source: str, paths: list[str], settings: Settings) -> set[str]:
    """Distinct document ids a correct ingest must produce, computed with the normalisers alone."""
    ctx = Context(settings.index_prefix, settings.site_key_bytes())
    files, _ = expand_paths(source, paths)
    ids: set[str] = set()
    for f in files:
        for item in read_file(source, f):
            if isinstance(item, Record):
                try:
                    ids.update(doc_id for _, doc_id, _, _ in normalise(item, ctx))
                except Unsupported:
                    pass
    return ids


def _ingest(args: list[str], tmp_path: Path) -> int:
    return cli_main(["ingest", *args, "--spool-dir", str(tmp_path / "spool"), "--no-progress"])


def test_ingesting_twice_creates_no_duplicates(
    os_settings: Settings,
    os_client: Any,
    zeek_logs: Path,
    eve_files: dict[str, Path],
    agent_report: Path,
    tmp_path: Path,
) -> None:
    eve_dir = tmp_path / "eve"
    eve_dir.mkdir()
    for name, eve in eve_files.items():
        shutil.copy(eve, eve_dir / f"eve-{Path(name).stem}.json")
    runs = [("zeek", [str(zeek_logs)]), ("suricata", [str(eve_dir)]), ("agent", [str(agent_report)])]
    expected = set()
    for source, paths in runs:
        expected |= _expected_ids(source, paths, os_settings)
    dead = tmp_path / "dead.log"
    for _ in range(2):
        for source, paths in runs:
            assert _ingest([source, *paths, *_conn(os_settings), "--dead-letter", str(dead)], tmp_path) == 0
        assert _count(os_client, os_settings) == len(expected)
    # Only the notes about record types we do not ingest (Zeek files/x509 logs ...), no rejected line.
    assert all(
        "lines of this type in this file are skipped" in parse_entry(e)[2] for e in dead.read_text().splitlines()
    )
    # Evidence weighs as the data model says: our alerts are network/attack with instance keys.
    attack = _count(os_client, os_settings, {"term": {"mcpeeker.evidence.type": "attack"}})
    keyed = _count(os_client, os_settings, {"prefix": {"mcpeeker.instance.key": "net:"}})
    assert attack > 0 and keyed > attack


def test_one_shot_ingest_returns_with_its_documents_searchable(
    os_settings: Settings, os_client: Any, agent_report: Path, tmp_path: Path
) -> None:
    """`mcpeeker ingest …` then `mcpeeker correlate --once` (the demo, CI replays) must not race the refresh."""
    reports = [orjson.loads(line) for line in agent_report.read_bytes().splitlines()]
    pattern = f"{os_settings.index_prefix}mcp-events-*"
    args = ["agent", str(agent_report), *_conn(os_settings), "--dead-letter", str(tmp_path / "dead.log")]
    assert _ingest(args, tmp_path) == 0
    # The same write index again, empty and with scheduled refreshes off: only the ingest's refresh shows the docs.
    alias = {os_settings.index("mcp-events"): {"is_write_index": True}}
    for index in os_client.indices.get(index=pattern):
        os_client.indices.delete(index=index)
        os_client.indices.create(
            index=index, body={"settings": {"index": {"refresh_interval": "-1"}}, "aliases": alias}
        )
    assert _ingest(args, tmp_path) == 0
    assert os_client.count(index=pattern)["count"] == sum(len(r["evidence"]) + 1 for r in reports)


def test_bad_lines_are_dead_lettered_and_the_rest_flows(
    os_settings: Settings, os_client: Any, zeek_logs: Path, tmp_path: Path
) -> None:
    good = (zeek_logs / "json" / "http_bro.org" / "http.log").read_bytes().splitlines()
    path = tmp_path / "http.log"
    lines = [
        good[0],
        b'{"ts": 1.0, "uid": "Cx", "id.orig_h": "1.2.3.4"',
        good[1],
        b"\xff\xfe garbage",
        good[2],
        good[3].replace(b'"id.orig_p":', b'"id.orig_p":"not-a-port","x":'),
        b"[1,2,3]",
        good[4],
    ]
    path.write_bytes(b"\n".join(lines) + b"\n")
    dead = tmp_path / "dead.log"
    assert _ingest(["zeek", str(path), *_conn(os_settings), "--dead-letter", str(dead)], tmp_path) == 1
    assert _count(os_client, os_settings) == 4
    entries = [parse_entry(e) for e in dead.read_text().splitlines()]
    assert [(f, n) for f, n, _, _ in entries] == [(str(path), 2), (str(path), 4), (str(path), 6), (str(path), 7)]
    reasons = [r for _, _, r, _ in entries]
    assert "truncated JSON" in reasons[0] and "not a Zeek record" in reasons[1]
    assert "id.orig_p" in reasons[2] and "not a Zeek record" in reasons[3]
    assert entries[0][3]["raw"].startswith('{"ts": 1.0')  # enough to replay


def test_document_refused_by_the_cluster_goes_to_dead_letter(
    os_settings: Settings, os_client: Any, agent_report: Path, tmp_path: Path
) -> None:
    report = orjson.loads(agent_report.read_bytes().splitlines()[0])
    report["evidence"][0]["file"]["mtime"] = "last tuesday"  # a string to the agent schema, not a date to the mapping
    path = tmp_path / "report.ndjson"
    path.write_bytes(orjson.dumps(report) + b"\n")
    dead = tmp_path / "dead.log"
    assert _ingest(["agent", str(path), *_conn(os_settings), "--dead-letter", str(dead)], tmp_path) == 1
    assert _count(os_client, os_settings) == len(report["evidence"])  # the others of the same report + summary
    (entry,) = [parse_entry(e) for e in dead.read_text().splitlines()]
    assert entry[0] == str(path) and entry[1] == 1
    assert "refused by the cluster (400" in entry[2] and "mtime" in entry[2]
    assert entry[3]["doc"]["file"]["mtime"] == "last tuesday" and entry[3]["index"].startswith(os_settings.index_prefix)


def test_agent_reads_standard_input(os_settings: Settings, os_client: Any, agent_report: Path, tmp_path: Path) -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "mcpeeker.cli",
            "ingest",
            "agent",
            "-",
            *_conn(os_settings),
            "--spool-dir",
            str(tmp_path / "spool"),
            "--dead-letter",
            str(tmp_path / "dead.log"),
        ],
        input=agent_report.read_bytes(),
        capture_output=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr.decode()
    reports = [orjson.loads(line) for line in agent_report.read_bytes().splitlines()]
    assert _count(os_client, os_settings) == sum(len(r["evidence"]) + 1 for r in reports)
    assert b"read 2" in proc.stderr and b"rejected 0" in proc.stderr
    assert b"runs interpreted" not in proc.stderr  # the hot path is compiled in CI (tests/ingest/test_native.py)


def test_ingest_says_when_the_hot_path_runs_interpreted(
    os_settings: Settings, agent_report: Path, tmp_path: Path
) -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "mcpeeker.cli",
            "ingest",
            "agent",
            str(agent_report),
            *_conn(os_settings),
            "--spool-dir",
            str(tmp_path / "spool"),
            "--dead-letter",
            str(tmp_path / "dead.log"),
        ],
        capture_output=True,
        timeout=120,
        env={**os.environ, "MCPEEKER_PURE_PYTHON": "1"},
    )
    assert proc.returncode == 0, proc.stderr.decode()
    said = " ".join(proc.stderr.decode().split())  # the console wraps long lines
    assert "the ingest hot path runs interpreted here (_tables: MCPEEKER_PURE_PYTHON is set), about 20 % slower" in said


# ----------------------------------------------------------------------------------- follow mode


def _conn_lines(template: bytes, start: int, n: int) -> bytes:
    """n distinct conn.log lines (distinct uid and ts) built from a real Zeek line."""
    base = orjson.loads(template)
    out = []
    for i in range(start, start + n):
        base["uid"] = f"C{i:017d}"
        base["ts"] = 1_700_000_000.0 + i / 1000
        out.append(orjson.dumps(base))
    return b"\n".join(out) + b"\n"


@pytest.fixture(scope="module")
def conn_template(zeek_logs: Path) -> bytes:
    return (zeek_logs / "json" / "http_get" / "conn.log").read_bytes().splitlines()[0]


def _follow(settings: Settings, path: Path, work: Path, *extra: str) -> subprocess.Popen:
    cmd = [
        sys.executable,
        "-m",
        "mcpeeker.cli",
        "ingest",
        "zeek",
        str(path),
        "--follow",
        *_conn(settings),
        "--checkpoint",
        str(work / "checkpoint.json"),
        "--spool-dir",
        str(work / "spool"),
        "--dead-letter",
        str(work / "dead.log"),
        "--poll-interval",
        "0.05",
        *extra,
    ]
    # stdout to a file, not a pipe nobody reads: a full pipe would block the ingestor mid-test.
    return subprocess.Popen(cmd, stdout=open(work / "stdout.log", "ab"), stderr=open(work / "stderr.log", "ab"))


def _wait(predicate: Callable[[], bool], timeout: float, what: str, proc: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"ingestor exited ({proc.returncode}) while waiting for {what}")
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def _stop(proc: subprocess.Popen) -> int:
    proc.send_signal(signal.SIGTERM)
    return proc.wait(timeout=60)


def test_sigkill_mid_file_then_restart_indexes_every_line_once(
    os_settings: Settings, os_client: Any, conn_template: bytes, tmp_path: Path
) -> None:
    n = 120_000
    log = tmp_path / "conn.log"
    log.write_bytes(_conn_lines(conn_template, 0, n))
    proc = _follow(os_settings, log, tmp_path, "--batch-size", "200")
    try:
        _wait(
            lambda: _count(os_client, os_settings) >= 2_000 and (tmp_path / "checkpoint.json").exists(),
            120,
            "the first documents and checkpoint",
            proc,
        )
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    at_kill = _count(os_client, os_settings)
    assert at_kill < n, "ingest finished before the kill; the file is too small for this machine"
    checkpoint = orjson.loads((tmp_path / "checkpoint.json").read_bytes())["files"][str(log)]
    assert 0 < checkpoint["offset"] < log.stat().st_size
    proc = _follow(os_settings, log, tmp_path, "--batch-size", "200")
    try:
        _wait(lambda: _count(os_client, os_settings) >= n, 300, "all lines after the restart", proc)
        time.sleep(1.0)
        assert _count(os_client, os_settings) == n
    finally:
        assert _stop(proc) == 0
    final = orjson.loads((tmp_path / "checkpoint.json").read_bytes())["files"][str(log)]
    assert final["offset"] == log.stat().st_size and final["line"] == n
    assert not (tmp_path / "dead.log").exists()


def test_follow_survives_rotation_and_exports_metrics(
    os_settings: Settings, os_client: Any, conn_template: bytes, tmp_path: Path, free_port: int
) -> None:
    log = tmp_path / "conn.log"
    log.write_bytes(_conn_lines(conn_template, 0, 500))
    proc = _follow(os_settings, log, tmp_path, "--metrics-port", str(free_port))
    try:
        _wait(lambda: _count(os_client, os_settings) == 500, 60, "the first 500", proc)
        # Rotation as Zeek does it: the current file is renamed, written to a little longer, a new file appears.
        rotated = tmp_path / "conn.2026-01-01-00-00-00.log"
        os.rename(log, rotated)
        with open(rotated, "ab") as fh:
            fh.write(_conn_lines(conn_template, 500, 100))
        log.write_bytes(_conn_lines(conn_template, 600, 300))
        _wait(lambda: _count(os_client, os_settings) == 900, 60, "lines of both files", proc)
        # A partial line is held back until its newline arrives.
        with open(log, "ab") as fh:
            line = _conn_lines(conn_template, 900, 1)
            fh.write(line[:40])
            fh.flush()
            time.sleep(1.0)
            fh.write(line[40:])
        _wait(lambda: _count(os_client, os_settings) == 901, 60, "the completed line", proc)
        metrics = urllib.request.urlopen(f"http://127.0.0.1:{free_port}/metrics", timeout=5).read().decode()
        values = {
            line.split(" ")[0]: float(line.split(" ")[1])
            for line in metrics.splitlines()
            if line.startswith("mcpeeker_ingest_") and " " in line
        }
        assert values['mcpeeker_ingest_events_in_total{source="zeek"}'] == 901
        assert values['mcpeeker_ingest_indexed_total{source="zeek"}'] == 901
        assert values['mcpeeker_ingest_rejected_total{source="zeek"}'] == 0
        assert 'mcpeeker_ingest_lag_seconds{source="zeek"}' in values
        assert 'mcpeeker_ingest_spooled_total{source="zeek"}' in values
        assert 'mcpeeker_ingest_retried_total{source="zeek"}' in values
    finally:
        assert _stop(proc) == 0
    assert _count(os_client, os_settings) == 901


@pytest.fixture
def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# ----------------------------------------------------------------------------------- outage

OUTAGE_PORT = int(os.environ.get("MCPEEKER_TEST_OUTAGE_PORT", "9270"))


@pytest.fixture(scope="module")
def outage_node():
    """A second local node of our own, so stopping it does not disturb the shared test node."""
    from mcpeeker.localnode import LocalNode

    node = LocalNode(name="test-ingest-outage", http_port=OUTAGE_PORT)
    node.start(timeout=240)
    yield node
    node.stop()


def test_cluster_outage_during_follow_loses_and_duplicates_nothing(
    outage_node: Any, conn_template: bytes, tmp_path: Path, free_port: int
) -> None:
    from mcpeeker import indices

    settings = Settings(
        url=outage_node.url,
        index_prefix=f"t-outage-{os.getpid()}-{int(time.time())}-",
        site_key=SITE_KEY,
    )
    client = make_client(settings)
    indices.install(settings, client)
    log = tmp_path / "conn.log"
    log.write_bytes(_conn_lines(conn_template, 0, 2_000))
    proc = _follow(
        settings,
        log,
        tmp_path,
        "--retry-base",
        "0.05",
        "--max-retries",
        "2",
        "--metrics-port",
        str(free_port),
        "--batch-size",
        "250",
    )
    try:
        _wait(lambda: _count(client, settings) == 2_000, 60, "the lines before the outage", proc)
        outage_node.stop()
        with open(log, "ab") as fh:
            for chunk in range(5):  # the sensor keeps writing while the cluster is down
                fh.write(_conn_lines(conn_template, 2_000 + chunk * 600, 600))
                fh.flush()
                time.sleep(0.3)
        spool = tmp_path / "spool"
        _wait(lambda: any(spool.glob("*.ndjson")), 60, "batches in the spool", proc)
        _wait(
            lambda: orjson.loads((tmp_path / "checkpoint.json").read_bytes())["files"][str(log)]["line"] == 5_000,
            60,
            "everything read and spooled",
            proc,
        )
        metrics = urllib.request.urlopen(f"http://127.0.0.1:{free_port}/metrics", timeout=5).read().decode()
        assert 'mcpeeker_ingest_spooled_total{source="zeek"} 0.0' not in metrics
        outage_node.start(timeout=240)
        _wait(lambda: _count(client, settings) >= 5_000, 120, "the spool to drain", proc)
        time.sleep(1.0)
        assert _count(client, settings) == 5_000
        _wait(lambda: not any(spool.glob("*.ndjson")), 30, "an empty spool", proc)
    finally:
        code = _stop(proc)
        if outage_node.status().running:
            client.indices.delete(index=f"{settings.index_prefix}*", ignore_unavailable=True)
            client.indices.delete_index_template(name=f"{settings.index_prefix}*", ignore=[404])
    assert code == 0
    assert not (tmp_path / "dead.log").exists()


# ----------------------------------------------------------------------------------- replay


def test_replay_runs_the_sensors_ingests_and_lists_the_servers(
    os_settings: Settings, os_client: Any, labels: dict, tmp_path: Path
) -> None:
    if shutil.which("suricata") is None:
        pytest.fail("suricata is not installed: run scripts/install-suricata.sh")
    pcaps = [PCAP_DIR / entry["file"] for entry in labels["pcaps"]]
    keep = tmp_path / "out"
    proc = subprocess.run(
        [sys.executable, "-m", "mcpeeker.cli", "replay", *map(str, pcaps), "--keep", str(keep), *_conn(os_settings)],
        capture_output=True,
        timeout=600,
        env={**os.environ, "COLUMNS": "250", "MCPEEKER_STATE_DIR": str(tmp_path / "state")},
    )
    assert proc.returncode == 0, proc.stderr.decode()
    out = proc.stdout.decode()
    for entry in labels["pcaps"]:
        key = f"net:{entry['server']['ip']}:{entry['server']['port']}"
        assert (key in out) != entry["benign"], (entry["file"], key)
    err = proc.stderr.decode()
    # The same lookup as replay's: zeek on PATH, $MCPEEKER_ZEEK or /opt/zeek/bin/zeek.
    zeek = find_zeek()
    if zeek is None:
        assert "sensors: suricata 7." in err and "zeek: not installed" in err and "zeek.org" in err, err
    else:
        assert "sensors: suricata 7." in err and f"zeek {zeek_version(zeek)}" in err, err
    eves = sorted(keep.glob("suricata/*/eve.json"))
    assert len(eves) == len(pcaps)
    zeek_logs = sorted(keep.glob("zeek/*/*.log"))
    assert bool(zeek_logs) == (zeek is not None)
    expected = set()
    for eve in eves:
        expected |= _expected_ids("suricata", [str(eve)], os_settings)
    for log in zeek_logs:
        expected |= _expected_ids("zeek", [str(log)], os_settings)
    assert _count(os_client, os_settings) == len(expected) > 0


def test_rotation_while_stopped_finishes_the_old_file_after_restart(
    os_settings: Settings, os_client: Any, conn_template: bytes, tmp_path: Path
) -> None:
    log = tmp_path / "conn.log"
    log.write_bytes(_conn_lines(conn_template, 0, 300))
    proc = _follow(os_settings, log, tmp_path)
    try:
        _wait(lambda: _count(os_client, os_settings) == 300, 60, "the first 300", proc)
    finally:
        assert _stop(proc) == 0
    # While the ingestor is down the writer adds lines, rotates, and starts a new file.
    with open(log, "ab") as fh:
        fh.write(_conn_lines(conn_template, 300, 200))
    os.rename(log, tmp_path / "conn.2026-01-01-01-00-00.log")
    log.write_bytes(_conn_lines(conn_template, 500, 100))
    proc = _follow(os_settings, log, tmp_path)
    try:
        _wait(lambda: _count(os_client, os_settings) == 600, 60, "old tail and new file", proc)
        time.sleep(1.0)
        assert _count(os_client, os_settings) == 600
    finally:
        assert _stop(proc) == 0
