"""Hypothesis feeds random and mutated lines (from real sensor output) to every reader and normaliser.

For every line: no exception escapes, and the line either became documents, was skipped as a record type we
do not ingest (reported once per file and type in the dead-letter file), was a header/blank line, or has its
own `<file>:<line>: <reason>` entry in the dead-letter file.
"""

from __future__ import annotations

import json
from pathlib import Path

import orjson
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from mcpeeker.ingest.deadletter import DeadLetter, parse_entry
from mcpeeker.ingest.normalise import Context
from mcpeeker.ingest.pipeline import Pipeline
from mcpeeker.ingest.readers import read_file

from paths import SITE_KEY

CTX = Context(index_prefix="fuzz-", site_key=SITE_KEY.encode())


class ListSink:
    def __init__(self) -> None:
        self.lines: list[int] = []

    def add(self, action: bytes, file: str, line: int, epoch: float) -> None:
        meta, body, _ = action.split(b"\n")
        orjson.loads(meta), orjson.loads(body)  # what the cluster will receive is valid NDJSON
        self.lines.append(line)


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=8,
)


@st.composite
def mutated(draw: st.DrawFn, line: bytes) -> bytes:
    kind = draw(st.sampled_from(["keep", "truncate", "flip", "badutf8", "retype", "drop", "random", "tsvfield"]))
    if kind == "truncate":
        return line[: draw(st.integers(0, max(0, len(line) - 1)))]
    if kind == "flip" and line:
        i = draw(st.integers(0, len(line) - 1))
        return line[:i] + bytes([draw(st.integers(0, 255))]) + line[i + 1 :]
    if kind == "badutf8":
        i = draw(st.integers(0, len(line)))
        return line[:i] + b"\xff\xfe\xc3" + line[i:]
    if kind in ("retype", "drop") and line.startswith(b"{"):
        data = orjson.loads(line)
        if data:
            key = draw(st.sampled_from(sorted(data)))
            if kind == "drop":
                del data[key]
            else:
                data[key] = draw(json_values)
            return json.dumps(data).encode()  # stdlib: also writes integers orjson refuses
    if kind == "tsvfield" and b"\t" in line:
        parts = line.split(b"\t")
        i = draw(st.integers(0, len(parts) - 1))
        parts[i] = draw(st.binary(max_size=12))
        return b"\t".join(parts)
    if kind == "random":
        return draw(st.binary(max_size=200))
    return line


def _clean(line: bytes) -> bytes:
    # One generated line must stay one line of the file.
    return line.replace(b"\n", b" ").replace(b"\r", b" ")


def _run(source: str, path: Path, lines: list[bytes], dead: Path) -> None:
    path.write_bytes(b"".join(_clean(line) + b"\n" for line in lines))
    deadletter = DeadLetter(dead)
    sink = ListSink()
    pipeline = Pipeline(CTX, sink, deadletter)
    outcome: dict[int, str] = {}
    for item in read_file(source, str(path)):  # nothing may raise
        before = (len(sink.lines), pipeline.stats.bad, pipeline.stats.skipped)
        pipeline.feed(item)
        after = (len(sink.lines), pipeline.stats.bad, pipeline.stats.skipped)
        changed = [name for name, a, b in zip(("docs", "bad", "skipped"), before, after) if a != b]
        assert len(changed) == 1, (item, changed)
        assert item.line not in outcome
        outcome[item.line] = changed[0]
    deadletter.close()
    entries = [parse_entry(e) for e in dead.read_text().splitlines()] if dead.exists() else []
    dead_lines = {
        line for file, line, reason, _ in entries if "lines of this type in this file are skipped" not in reason
    }
    assert all(file == str(path) for file, *_ in entries)
    bad_lines = {line for line, what in outcome.items() if what == "bad"}
    assert bad_lines == dead_lines
    for n, raw in enumerate(lines, 1):
        raw = _clean(raw)
        ignorable = not raw.strip() or (source == "zeek" and raw.startswith(b"#"))
        assert (n in outcome) != ignorable, (n, raw[:80])
    skipped_reported = sum(1 for *_, reason, _ in entries if "lines of this type in this file are skipped" in reason)
    assert (skipped_reported > 0) == any(w == "skipped" for w in outcome.values())
    dead.unlink(missing_ok=True)


def _sample_lines(paths: list[Path], limit: int = 60) -> list[bytes]:
    out: list[bytes] = []
    for p in paths:
        out.extend(line for line in p.read_bytes().splitlines() if line and not line.startswith(b"#"))
    return out[:: max(1, len(out) // limit)][:limit]


@pytest.fixture(scope="module")
def zeek_json_lines(zeek_logs: Path) -> list[bytes]:
    return _sample_lines(
        sorted((zeek_logs / "json").glob("*/http.log")) + sorted((zeek_logs / "json").glob("*/conn.log"))
    )


@pytest.fixture(scope="module")
def zeek_tsv(zeek_logs: Path) -> tuple[list[bytes], list[bytes]]:
    text = (zeek_logs / "tsv" / "http_bro.org" / "http.log").read_bytes().splitlines()
    header = [line for line in text if line.startswith(b"#") and not line.startswith(b"#close")]
    return header, [line for line in text if not line.startswith(b"#")]


@pytest.fixture(scope="module")
def eve_lines(eve_files: dict[str, Path]) -> list[bytes]:
    return _sample_lines(sorted(eve_files.values()), limit=120)


@pytest.fixture(scope="module")
def agent_lines(agent_report: Path) -> list[bytes]:
    return agent_report.read_bytes().splitlines()


FUZZ = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)


@FUZZ
@given(data=st.data())
def test_zeek_json_lines(data: st.DataObject, zeek_json_lines: list[bytes], tmp_path: Path) -> None:
    picks = data.draw(st.lists(st.sampled_from(zeek_json_lines), min_size=1, max_size=12))
    lines = [data.draw(mutated(line)) for line in picks]
    name = data.draw(st.sampled_from(["http.log", "conn.log", "weird.log", "conn.2024-01-01-00-00-00.log", "x.y"]))
    _run("zeek", tmp_path / name, lines, tmp_path / "dead.log")


@FUZZ
@given(data=st.data())
def test_zeek_tsv_lines(data: st.DataObject, zeek_tsv: tuple[list[bytes], list[bytes]], tmp_path: Path) -> None:
    header, records = zeek_tsv
    header = [data.draw(mutated(h)) if data.draw(st.booleans()) and i > 4 else h for i, h in enumerate(header)]
    picks = data.draw(st.lists(st.sampled_from(records), min_size=1, max_size=12))
    lines = header + [data.draw(mutated(line)) for line in picks] + [b"#close\t2026-01-01-00-00-00"]
    _run("zeek", tmp_path / "http.log", lines, tmp_path / "dead.log")


@FUZZ
@given(data=st.data())
def test_eve_lines(data: st.DataObject, eve_lines: list[bytes], tmp_path: Path) -> None:
    picks = data.draw(st.lists(st.sampled_from(eve_lines), min_size=1, max_size=12))
    lines = [data.draw(mutated(line)) for line in picks]
    _run("suricata", tmp_path / "eve.json", lines, tmp_path / "dead.log")


@st.composite
def mutated_report(draw: st.DrawFn, line: bytes) -> bytes:
    """Deep mutation of an agent report: replace a value somewhere inside the nested evidence."""
    data = orjson.loads(line)
    node = data
    for _ in range(draw(st.integers(0, 4))):
        if isinstance(node, dict) and node:
            key = draw(st.sampled_from(sorted(node)))
            if isinstance(node[key], (dict, list)) and node[key]:
                node = node[key]
                continue
            node[key] = draw(json_values)
            break
        if isinstance(node, list) and node:
            node = node[draw(st.integers(0, len(node) - 1))]
    return json.dumps(data).encode()


@FUZZ
@given(data=st.data())
def test_agent_lines(data: st.DataObject, agent_lines: list[bytes], tmp_path: Path) -> None:
    picks = data.draw(st.lists(st.sampled_from(agent_lines), min_size=1, max_size=6))
    lines = [data.draw(st.one_of(mutated(line), mutated_report(line))) for line in picks]
    _run("agent", tmp_path / "report.ndjson", lines, tmp_path / "dead.log")


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(blob=st.binary(max_size=2000), source=st.sampled_from(["zeek", "suricata", "agent"]))
def test_random_bytes_files(blob: bytes, source: str, tmp_path: Path) -> None:
    lines = blob.split(b"\n")
    _run(source, tmp_path / ("conn.log" if source == "zeek" else "in.json"), lines, tmp_path / "dead.log")
