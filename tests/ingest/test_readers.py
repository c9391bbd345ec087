"""Readers on real Zeek 7 output (JSON and TSV of the same traces), rotated/gzip names, and framing edge cases."""

from __future__ import annotations

import gzip
import io
import shutil
import subprocess
from pathlib import Path

import orjson
import pytest

from mcpeeker.ingest.readers import (
    MAX_LINE,
    BadLine,
    LineReader,
    Record,
    ZeekParser,
    expand_paths,
    read_file,
    zeek_log_type_from_name,
)
from paths import require_zeek

# Zeek draws connection and file ids at random per run; every other field must be identical.
RANDOM_FIELDS = ("uid", "fuid", "uids", "fuids", "conn_uids", "orig_fuids", "resp_fuids", "parent_fuid", "id")


def _comparable(data: dict) -> dict:
    out = {}
    for key, value in data.items():
        if key in RANDOM_FIELDS or key.endswith("fuids"):
            continue
        if isinstance(value, float):
            value = round(value, 6)
        elif isinstance(value, list):
            value = [round(v, 6) if isinstance(v, float) else v for v in value]
        out[key] = value
    return out


def _records(path: Path) -> list[Record]:
    items = list(read_file("zeek", str(path)))
    bad = [i for i in items if isinstance(i, BadLine)]
    assert not bad, f"real Zeek log produced bad lines: {bad[:3]}"
    return items  # type: ignore[return-value]


def test_every_real_zeek_log_reads_without_bad_lines_in_both_formats(zeek_logs: Path) -> None:
    logs = sorted((zeek_logs / "json").glob("*/*.log")) + sorted((zeek_logs / "tsv").glob("*/*.log"))
    assert len(logs) >= 80
    total = sum(len(_records(p)) for p in logs)
    assert total > 300


def test_json_and_tsv_give_the_same_records(zeek_logs: Path) -> None:
    compared = 0
    for json_log in sorted((zeek_logs / "json").glob("*/*.log")):
        tsv_log = zeek_logs / "tsv" / json_log.parent.name / json_log.name
        j, t = _records(json_log), _records(tsv_log)
        assert len(j) == len(t), json_log
        assert {r.rtype for r in j} == {r.rtype for r in t} == {json_log.stem}
        # Zeek may write a log's lines in a different order from run to run: compare as sorted lists.
        key = lambda d: orjson.dumps(d, option=orjson.OPT_SORT_KEYS)  # noqa: E731
        a = sorted((_comparable(r.data) for r in j), key=key)
        b = sorted((_comparable(r.data) for r in t), key=key)
        assert a == b, f"{json_log} vs {tsv_log}"
        compared += len(a)
    assert compared > 150


def test_tsv_types_are_converted(zeek_logs: Path) -> None:
    rec = _records(zeek_logs / "tsv" / "http_get" / "http.log")[0]
    assert isinstance(rec.data["ts"], float)
    assert isinstance(rec.data["id.orig_p"], int) and isinstance(rec.data["status_code"], int)
    assert rec.data["tags"] == []  # (empty) set
    assert rec.data["resp_mime_types"] == ["text/plain"]  # vector[string]
    assert "referrer" not in rec.data  # '-' is unset, like a field JSON leaves out
    conn = _records(zeek_logs / "tsv" / "http_get" / "conn.log")[0]
    assert conn.data["local_orig"] is False


def test_tsv_backslash_escape_matches_json(zeek_logs: Path) -> None:
    trace = "http_http-non-printable-characters"
    t = _records(zeek_logs / "tsv" / trace / "http.log")
    j = _records(zeek_logs / "json" / trace / "http.log")
    uris_t = [r.data["uri"] for r in t]
    assert uris_t == [r.data["uri"] for r in j]
    assert any("\\x07" in u for u in uris_t)


ESCAPES_SCRIPT = r"""
module EscapeProbe;
export { redef enum Log::ID += { LOG }; type Info: record { s: string &log; v: vector of string &log; }; }
event zeek_init() {
  Log::create_stream(LOG, [$columns=Info, $path="escapes"]);
  local s = "a\x00b\x01c\x07d\x08e\x09f\x0ag\x0bh\x0ci\x0dj\x1bk\x1fl\x7fm\\n\x80o\xc3\xa9p\\x0aq";
  Log::write(LOG, [$s=s, $v=vector(s, "x\x0ay")]);
}
"""


@pytest.mark.zeek
def test_every_control_byte_reads_the_same_from_tsv_and_json(tmp_path: Path) -> None:
    """Zeek's TSV writes every non-printable byte as \\xNN, its JSON writer five of them as JSON escapes
    (a newline in a notice's sub): the readers give the same strings for both, whichever byte it is."""
    zeek = require_zeek()
    (tmp_path / "probe.zeek").write_text(ESCAPES_SCRIPT)
    logs = {}
    for writer, extra in (("tsv", []), ("json", ["LogAscii::use_json=T"])):
        run = tmp_path / writer
        run.mkdir()
        subprocess.run([str(zeek), "-b", str(tmp_path / "probe.zeek"), *extra], cwd=run, check=True, timeout=60)
        logs[writer] = _records(run / "escapes.log")
    (t,), (j,) = logs["tsv"], logs["json"]
    assert t.data == j.data
    assert "\n" in t.data["s"] and "\\x07" in t.data["s"] and "\\x0aq" in t.data["s"], t.data


@pytest.mark.parametrize(
    "name",
    ["conn.2026-11-23-16-00-00.log.gz", "conn.16:00:00-17:00:00.log.gz", "conn.log.gz", "conn.2026-11-23-16-00-00.log"],
)
def test_rotated_and_gzip_names_read_like_the_original(zeek_logs: Path, tmp_path: Path, name: str) -> None:
    original = zeek_logs / "tsv" / "http_bro.org" / "conn.log"
    target = tmp_path / name
    if name.endswith(".gz"):
        with open(original, "rb") as src, gzip.open(target, "wb") as dst:
            shutil.copyfileobj(src, dst)
    else:
        shutil.copy(original, target)
    assert zeek_log_type_from_name(str(target)) == "conn"
    a, b = _records(original), _records(target)
    assert [r.data for r in a] == [r.data for r in b]
    assert [r.raw for r in a] == [r.raw for r in b]


def test_json_log_type_from_path_field_wins_over_file_name(tmp_path: Path, zeek_logs: Path) -> None:
    line = (zeek_logs / "json" / "dns53" / "dns.log").read_bytes().splitlines()[0]
    streamed = tmp_path / "zeek-stream.json"
    streamed.write_bytes(line[:-1] + b',"_path":"dns"}\n')
    (rec,) = _records(streamed)
    assert rec.rtype == "dns" and "_path" not in rec.data


def test_truncated_gzip_reports_a_bad_line_and_keeps_what_was_read(zeek_logs: Path, tmp_path: Path) -> None:
    data = (zeek_logs / "json" / "http_bro.org" / "http.log").read_bytes()
    gz = gzip.compress(data)
    target = tmp_path / "http.log.gz"
    target.write_bytes(gz[: len(gz) // 2])
    items = list(read_file("zeek", str(target)))
    assert isinstance(items[-1], BadLine) and "cannot read further" in items[-1].reason
    assert 0 < sum(isinstance(i, Record) for i in items) < data.count(b"\n")


def test_overlong_line_is_reported_and_the_next_line_still_read(tmp_path: Path, zeek_logs: Path) -> None:
    good = (zeek_logs / "json" / "dns53" / "dns.log").read_bytes().splitlines()[0]
    path = tmp_path / "dns.log"
    path.write_bytes(good + b"\n" + b'{"x":"' + b"a" * (MAX_LINE + 10) + b'"}\n' + good + b"\n")
    items = list(read_file("zeek", str(path)))
    assert [type(i).__name__ for i in items] == ["Record", "BadLine", "Record"]
    assert items[1].line == 2 and "longer than" in items[1].reason
    assert items[2].line == 3


def test_follow_reader_leaves_an_incomplete_line_for_later() -> None:
    buf = io.BytesIO(b'{"a":1}\n{"b":')
    reader = LineReader(buf)
    assert [raw for _, _, raw in reader.lines(final=False)] == [b'{"a":1}']
    assert reader.offset == 8
    buf.seek(0, io.SEEK_END)
    buf.write(b"2}\n")
    buf.seek(reader.offset)
    assert [raw for _, _, raw in reader.lines(final=False)] == [b'{"b":2}']
    assert reader.line == 2 and reader.offset == len(buf.getvalue())


def test_one_shot_reads_a_final_line_without_newline(tmp_path: Path) -> None:
    path = tmp_path / "eve.json"
    path.write_bytes(b'{"event_type":"flow","timestamp":"2024-01-01T00:00:00+0000"}\n{"event_type":"fl')
    items = list(read_file("suricata", str(path)))
    assert isinstance(items[0], Record)
    assert isinstance(items[1], BadLine) and "truncated" in items[1].reason and items[1].line == 2


def test_empty_file_yields_nothing(tmp_path: Path) -> None:
    for source in ("zeek", "suricata", "agent"):
        path = tmp_path / f"{source}.log"
        path.write_bytes(b"")
        assert list(read_file(source, str(path))) == []


def test_tsv_record_before_fields_header_is_bad() -> None:
    parser = ZeekParser("conn.log")
    bad = parser.parse(b"1.0\tCabc\t1.2.3.4", 1, 10)
    assert isinstance(bad, BadLine) and "#fields" in bad.reason


def test_directory_of_mixed_files_picks_the_right_ones(tmp_path: Path, zeek_logs: Path) -> None:
    shutil.copy(zeek_logs / "json" / "http_get" / "http.log", tmp_path / "http.log")
    (tmp_path / "sub").mkdir()
    shutil.copy(zeek_logs / "tsv" / "http_get" / "conn.log", tmp_path / "sub" / "conn.2026-01-01-00-00-00.log")
    (tmp_path / "notes.txt").write_text("hello")
    (tmp_path / "eve.json").write_text("{}\n")
    files, skipped = expand_paths("zeek", [str(tmp_path)])
    assert sorted(Path(f).name for f in files) == ["conn.2026-01-01-00-00-00.log", "http.log"]
    assert sorted(Path(f).name for f in skipped) == ["eve.json", "notes.txt"]
    files, _ = expand_paths("suricata", [str(tmp_path)])
    assert [Path(f).name for f in files] == ["eve.json"]
