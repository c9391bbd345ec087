"""The compiled ingest hot path against its Python reference.

setup.py compiles the hot-path modules with Cython and builds `mcpeeker.ingest._tables` (native mapping tables,
Zeek TSV header parsers, timestamp formatting and parsing). Each native piece has a pure-Python form that
stays in the code as the fallback; here each is held to it, on real sensor output and on hypothesis-generated
input: the same documents, values and errors. Each converter's declared fast path is held to the converter. The last test runs the whole pipeline
from a copy of the sources with nothing compiled, in a subprocess, and compares every bulk action byte for byte.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any, Callable

import jsonschema
import jsonschema_rs
import orjson
import pytest
from hypothesis import HealthCheck, assume, example, given, settings, strategies as st

from mcpeeker.config import load_schema
from mcpeeker.ingest import native, readers
from mcpeeker.ingest.normalise import Context, agent, common, suricata, zeek
from mcpeeker.ingest.memo import Memo
from mcpeeker.ingest.readers import TsvParser, ZeekParser, read_file, tsv_element

from paths import REPO_ROOT, SITE_KEY

EXAMPLES = settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)


def _native() -> Any:
    module = native.tables_module()
    if module is None:
        pytest.fail("mcpeeker.ingest._tables is not built (or MCPEEKER_PURE_PYTHON is set): run `make venv`")
    return module


def test_hot_path_is_compiled_and_current() -> None:
    status = native.status()
    missing = [name for name, compiled in status.items() if not compiled]
    assert not missing, f"not compiled: {missing} (setup.py builds them; a C compiler is needed: `make venv`)"
    assert native.stale() == [], "compiled modules older than their sources: rebuild with `make venv`"


# ------------------------------------------------------------------------------------------ mapping tables


def _tables() -> list[tuple[str, common.Table]]:
    found = []
    for module in (zeek, suricata, agent):
        for name, value in vars(module).items():
            if (
                isinstance(value, tuple)
                and value
                and all(isinstance(row, tuple) and len(row) == 3 for row in value)
                and all(isinstance(row[0], str) and isinstance(row[1], tuple) for row in value)
            ):
                found.append((f"{module.__name__.rsplit('.', 1)[1]}.{name}", value))
    return found


TABLES = _tables()


def _outcome(fn: Callable[[dict, dict], None], data: dict) -> tuple[str, Any]:
    doc: dict = {"event": {"kind": "event"}, "mcpeeker": {"evidence": {"type": "context"}}}
    try:
        fn(doc, data)
    except Exception as exc:  # the comparison is the point: any exception, same type and message
        return type(exc).__name__, str(exc)
    return "ok", orjson.dumps(doc)


def _same_table_outcome(table: common.Table, data: dict) -> None:
    python, compiled = common.compile_table_python(table), common.compile_table_native(table)
    first = (_outcome(python, data), _outcome(compiled, data))
    # The URL and address memos are shared: compare once from empty memos with the native applier first.
    common._IPS.clear()
    common._URLS.clear()
    second = (_outcome(compiled, data), _outcome(python, data))
    assert first[0] == first[1], (data, first)
    assert second[0] == second[1], (data, second)
    assert first[0] == second[0]


def test_every_table_is_found() -> None:
    names = {name for name, _ in TABLES}
    assert {"zeek.CONN", "zeek.HTTP", "zeek.MCP", "suricata.COMMON", "suricata.ALERT", "agent.CONFIG"} <= names


def _dicts(value: Any) -> list[dict]:
    """A record and every object inside it: the tables apply to sub-objects too (eve `http`, agent items)."""
    found = []
    if isinstance(value, dict):
        found.append(value)
        for child in value.values():
            found += _dicts(child)
    elif isinstance(value, list):
        for child in value:
            found += _dicts(child)
    return found


def test_tables_on_real_records(zeek_logs: Path, eve_files: dict[str, Path], agent_report: Path) -> None:
    _native()
    records: list[dict] = []
    for path in sorted(zeek_logs.glob("*/*/*.log")):
        records += [item.data for item in read_file("zeek", str(path)) if hasattr(item, "data")][:200]
    for path in eve_files.values():
        records += [item.data for item in read_file("suricata", str(path)) if hasattr(item, "data")]
    records += [item.data for item in read_file("agent", str(agent_report)) if hasattr(item, "data")]
    objects = [obj for record in records for obj in _dicts(record)]
    assert len(objects) > 2000
    for _, table in TABLES:
        python, compiled = common.compile_table_python(table), common.compile_table_native(table)
        for obj in objects:
            assert _outcome(python, obj) == _outcome(compiled, obj)


_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=20)
    | st.sampled_from(
        [
            "10.0.0.1",
            "fe80::1%eth0",
            "::1",
            "999.1.1.1",
            "/mcp?token=abc",
            "HTTP/1.1",
            "T",
            "F",
            "-1",
            "65536",
            "9223372036854775808",
            "3.5",
            "(empty)",
        ]
    ),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=5,
) | st.lists(st.text(max_size=5), min_size=2, max_size=3)  # Zeek sets and vectors: the common list shape


@settings(EXAMPLES, max_examples=120)
@given(data=st.data())
def test_tables_on_generated_records(data: st.DataObject) -> None:
    _native()
    for name, table in TABLES:  # every table in every example: each converter meets every kind of value
        fields = sorted({src for src, _, _ in table})
        record = data.draw(st.dictionaries(st.sampled_from(fields), _values, max_size=len(fields)), label=name)
        _same_table_outcome(table, record)


@EXAMPLES
@example(convert=common.as_int, value=2**63)
@example(convert=common.as_port, value=65536)
@example(convert=common.as_port, value=-1)
@example(convert=common.id_str, value=True)
@example(convert=common.as_ip, value="fe80::1%eth0")
@example(convert=common.redacted_url, value="/mcp?token=abc&x=1")
@given(convert=st.sampled_from(sorted(common.FAST, key=lambda f: f.__name__)), value=_values)
def test_fast_paths_give_what_their_converter_gives(convert: Callable[[Any], Any], value: Any) -> None:
    """A converter's declared fast path (common.fast) is what both appliers take instead of calling it: applied to
    one field, each gives the converter's own value or its error, named after the field (a None field is skipped
    before any conversion)."""
    _native()
    assume(value is not None)
    try:
        result = convert(value)
    except (ValueError, TypeError, OverflowError) as exc:
        expected: tuple[str, Any] = ("NormaliseError", f"field 'x': {exc}")
    except Exception as exc:  # noqa: BLE001 - anything else must reach the caller alike
        expected = (type(exc).__name__, str(exc))
    else:
        expected = ("ok", repr({"y": result} if result is not None else {}))
    table: common.Table = (("x", ("y",), convert),)
    for applier in (common.compile_table_python(table), common.compile_table_native(table)):
        doc: dict = {}
        try:
            applier(doc, {"x": value})
            outcome: tuple[str, Any] = ("ok", repr(doc))
        except Exception as exc:  # noqa: BLE001 - the comparison is the point
            outcome = (type(exc).__name__, str(exc))
        assert outcome == expected, (applier, value)


def test_memo_stays_bounded_and_keeps_no_error() -> None:
    calls: list[str] = []

    def upper(text: str) -> str:
        calls.append(text)
        if text == "bad":
            raise ValueError("bad text")
        return text.upper()

    memo: Memo[str, str] = Memo(upper, 3, max_len=5)
    assert [memo["a"], memo["a"], memo["b"]] == ["A", "A", "B"] and calls == ["a", "b"]
    assert memo["longer than five"] == "LONGER THAN FIVE" and "longer than five" not in memo
    with pytest.raises(ValueError, match="bad text"):
        memo["bad"]
    assert "bad" not in memo
    for key in "cdefg":
        memo[key]
        assert len(memo) <= 3
    assert memo["g"] == "G" and calls[-1] == "g"


def test_document_ids_follow_the_documented_formula(
    zeek_logs: Path, eve_files: dict[str, Path], agent_report: Path, ctx: Context
) -> None:
    """The _id is SHA-256(source NUL type NUL raw line [NUL part]), first 32 hex digits (docs/data-model.md): the
    hot path computes it inline, and an upgrade must keep it, or a re-ingested file would index twice."""
    from mcpeeker.ingest.normalise import normalise

    inputs = [("zeek", p) for p in sorted(zeek_logs.glob("*/*/*.log"))]
    inputs += [("suricata", p) for p in sorted(eve_files.values())] + [("agent", agent_report)]
    checked = 0
    for source, path in inputs:
        for item in read_file(source, str(path)):
            if not hasattr(item, "data"):
                continue
            try:
                outputs = normalise(item, ctx)
            except Exception:  # noqa: BLE001 - records we skip have no id to check
                continue
            parts = [""] if len(outputs) == 1 else [str(i) for i in range(len(outputs) - 1)] + ["scan"]
            for (_, doc_id, doc, _), part in zip(outputs, parts):
                hashed = f"{source}\0{item.rtype}\0".encode() + item.raw + (b"\0" + part.encode() if part else b"")
                assert doc_id == doc["event"]["id"] == hashlib.sha256(hashed).hexdigest()[:32]
                checked += 1
    assert checked > 1000


# ------------------------------------------------------------------------------------------ Zeek TSV


def _tsv_outcome(parse: Callable[[list[str]], dict], values: list[str]) -> tuple[str, str]:
    try:
        return "ok", repr(parse(values))  # repr: a NaN equals itself there
    except Exception as exc:  # noqa: BLE001 - the comparison is the point
        message = str(exc)
        # Cython's float() names the text without repr()'s escaping of backslashes (`'.\'` for `'.\\'`):
        # the same value and error, quoted differently.
        if message.startswith("could not convert string to float: "):
            message = "could not convert string to float"
        return type(exc).__name__, message


def test_tsv_headers_on_real_logs(zeek_logs: Path) -> None:
    _native()
    checked = 0
    for path in sorted((zeek_logs / "tsv").glob("*/*.log")):
        parser = ZeekParser(str(path))
        for raw in path.read_bytes().splitlines():
            if raw.startswith(b"#"):
                parser.header(raw)
                continue
            assert parser.fields is not None
            parser._compile()
            reference = TsvParser(parser.fields, parser.converters or [], parser.unset)
            values = raw.decode("utf-8", "replace").split(parser.sep)
            if len(values) != len(parser.fields):
                continue
            assert type(parser.fast).__name__ == "NativeTsv"
            assert _tsv_outcome(parser.fast, values) == _tsv_outcome(reference, values)
            checked += 1
    assert checked > 150  # every data line of the shared Zeek 7 TSV logs


ZEEK_TYPES = [
    "time",
    "interval",
    "double",
    "count",
    "int",
    "port",
    "addr",
    "subnet",
    "enum",
    "string",
    "bool",
    "pattern",
    "func",
    "file",
    "set[string]",
    "set[enum]",
    "vector[string]",
    "vector[count]",
    "set[addr]",
    "vector[interval]",
    "table[string]",
    "set[bool]",
    "vector[record]",
    "record",
]
_cells = st.one_of(
    st.sampled_from(
        [
            "-",
            "(empty)",
            "T",
            "F",
            "0",
            "-1",
            "1.5",
            "1e3",
            "nan",
            "inf",
            "1_000",
            " 7",
            "a,b",
            "1,2,x",
            "\\\\x41",
            "a\\\\\\\\b",
            "10.0.0.1",
            "",
        ]
    ),
    st.text(alphabet="0123456789.,-eE\\abT( )", max_size=12),
    st.text(max_size=8),
)


@EXAMPLES
@given(data=st.data())
def test_tsv_headers_on_generated_lines(data: st.DataObject) -> None:
    native_module = _native()
    types = data.draw(st.lists(st.sampled_from(ZEEK_TYPES), min_size=1, max_size=8), label="types")
    fields = [f"f{i}" for i in range(len(types))]
    unset, empty, set_sep = data.draw(st.sampled_from([("-", "(empty)", ","), ("?", "<none>", "|")]), label="seps")
    parser = ZeekParser("x.log")
    parser.unset, parser.empty, parser.set_sep = unset, empty, set_sep
    parser.fields, parser.types = fields, types
    converters = parser._build_converters()
    values = data.draw(
        st.lists(_cells | st.sampled_from([unset, empty, set_sep]), min_size=len(types), max_size=len(types)),
        label="values",
    )
    compiled = native_module.NativeTsv(
        fields, [tsv_element(t) for t in types], converters, unset, empty, set_sep, readers._unescape
    )
    reference = TsvParser(fields, converters, unset)
    assert _tsv_outcome(compiled, values) == _tsv_outcome(reference, values)


# ------------------------------------------------------------------------------------------ timestamps


def _call(fn: Callable[[Any], Any], value: Any) -> tuple[str, Any]:
    try:
        return "ok", repr(fn(value))
    except Exception as exc:  # noqa: BLE001 - the comparison is the point
        return type(exc).__name__, str(exc)


@EXAMPLES
@example(ts=1730145026.9999997)  # rounds up into the next second
@example(ts=0.0000005)  # half a microsecond: rounds half to even
@given(
    ts=st.floats(allow_nan=True, allow_infinity=True)
    | st.floats(min_value=0, max_value=1e10)
    | st.floats(min_value=1.6e9, max_value=1.9e9)
    | st.integers(min_value=-(10**12), max_value=10**12)
    | st.builds(lambda s, us: s + us / 1e6, st.integers(0, 4 * 10**9), st.integers(0, 10**6))
)
def test_epoch_to_iso(ts: float) -> None:
    _native()
    assert type(common.epoch_to_iso).__name__ == "NativeIso"
    assert _call(common.epoch_to_iso, ts) == _call(common.epoch_to_iso_python, ts)


SURICATA_TIME = "2026-11-23T16:39:37.809609+0000"


@st.composite
def _suricata_times(draw: st.DrawFn) -> str:
    if draw(st.booleans()):
        return (
            f"{draw(st.integers(1, 9999)):04d}-{draw(st.integers(0, 13)):02d}-{draw(st.integers(0, 32)):02d}"
            f"T{draw(st.integers(0, 25)):02d}:{draw(st.integers(0, 61)):02d}:{draw(st.integers(0, 61)):02d}"
            f".{draw(st.integers(0, 999999)):06d}+0000"
        )
    text = list(SURICATA_TIME)
    for _ in range(draw(st.integers(0, 3))):
        text[draw(st.integers(0, len(text) - 1))] = draw(st.sampled_from(list("0123456789 +-.:TZx\u0660")))
    return "".join(text)


@EXAMPLES
@given(text=_suricata_times())
@example(text="2026-11-23T16:39:60.000000+0000")
@example(text="2026-11-23T16:39:59.999999+0000")
@example(text="2026-11-23T16:59:59.999999+0000")
@example(text="2026-11-23T24:00:00.000000+0000")
def test_suricata_time(text: str) -> None:
    _native()
    assert type(common._fast_suricata_time).__name__ == "NativeSuricataTime"
    assert _call(common._fast_suricata_time, text) == _call(common._fast_suricata_time_python, text)


# ------------------------------------------------------------------------------------------ agent reports


@pytest.fixture(scope="module")
def agent_reports(agent_report: Path) -> list[dict]:
    return [orjson.loads(line) for line in agent_report.read_bytes().splitlines()]


def _paths(value: Any, prefix: tuple = ()) -> list[tuple]:
    found = [prefix]
    if isinstance(value, dict):
        for key, child in value.items():
            found += _paths(child, prefix + (key,))
    elif isinstance(value, list):
        for i, child in enumerate(value):
            found += _paths(child, prefix + (i,))
    return found


@EXAMPLES
@given(data=st.data())
def test_agent_fast_validation_agrees_with_jsonschema(data: st.DataObject, agent_reports: list[dict]) -> None:
    report = json.loads(json.dumps(data.draw(st.sampled_from(agent_reports), label="report")))
    for _ in range(data.draw(st.integers(0, 3), label="edits")):
        path = data.draw(st.sampled_from(_paths(report)[1:]), label="path")
        parent = report
        for key in path[:-1]:
            parent = parent[key]
        if data.draw(st.booleans(), label="delete") and isinstance(parent, dict):
            del parent[path[-1]]
        else:
            parent[path[-1]] = data.draw(_values, label="value")
    schema = load_schema("agent-event")
    reference_valid = not list(jsonschema.Draft202012Validator(schema).iter_errors(report))
    assert jsonschema_rs.validator_for(schema).is_valid(report) == reference_valid, report


# ------------------------------------------------------------------------------------------ whole pipeline

PIPELINE_SCRIPT = """
import hashlib, json, sys
from mcpeeker.ingest import native, readers
from mcpeeker.ingest.deadletter import DeadLetter
from mcpeeker.ingest.normalise import Context
from mcpeeker.ingest import pipeline as pipeline_module
from mcpeeker.ingest.pipeline import Pipeline
from mcpeeker.ingest.readers import read_file

pipeline_module._now = lambda: 1.8e9  # one clock for both runs: the time-skew flags and seconds compare too

class Sink:
    def __init__(self):
        self.digest, self.docs = hashlib.sha256(), 0
    def add(self, action, file, line, epoch):
        self.digest.update(action)
        self.docs += 1

out = {"compiled": native.status(), "files": {}}
for spec in sys.argv[2:]:
    source, path = spec.split(":", 1)
    sink = Sink()
    pipeline = Pipeline(Context("t-", sys.argv[1].encode()), sink, DeadLetter(None))
    for item in read_file(source, path):
        pipeline.feed(item)
    stats = pipeline.stats
    out["files"][path] = [sink.docs, stats.bad, stats.skipped, sink.digest.hexdigest()]
print(json.dumps(out))
"""


def _run_pipeline(python_path: Path, specs: list[str], env: dict[str, str]) -> dict:
    result = subprocess.run(
        [sys.executable, "-c", PIPELINE_SCRIPT, SITE_KEY, *specs],
        capture_output=True,
        text=True,
        timeout=600,
        env={**env, "PYTHONPATH": str(python_path)},
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout)


def test_compiled_pipeline_equals_pure_python(
    tmp_path: Path, zeek_logs: Path, eve_files: dict[str, Path], agent_report: Path
) -> None:
    _native()
    specs = [f"zeek:{p}" for p in sorted(zeek_logs.glob("*/*/*.log"))]
    specs += [f"suricata:{p}" for p in sorted(eve_files.values())] + [f"agent:{agent_report}"]
    # The sources alone, nothing compiled: what runs where no C compiler was at install time.
    pure = tmp_path / "pure"
    shutil.copytree(
        REPO_ROOT / "ingest_python",
        pure / "ingest_python",
        ignore=shutil.ignore_patterns("*.so", "*.c", "__pycache__", "*.egg-info"),
    )
    shutil.copytree(REPO_ROOT / "schemas", pure / "schemas")
    shutil.copytree(REPO_ROOT / "detections", pure / "detections")  # the catalogue the normalisers read
    env = {k: v for k, v in os.environ.items() if k != "MCPEEKER_PURE_PYTHON"}
    compiled = _run_pipeline(REPO_ROOT / "ingest_python", specs, env)
    reference = _run_pipeline(pure / "ingest_python", specs, env)
    assert all(compiled["compiled"].values()), compiled["compiled"]
    assert not any(reference["compiled"].values()), reference["compiled"]
    assert sum(docs for docs, *_ in compiled["files"].values()) > 1000
    assert compiled["files"].keys() == reference["files"].keys()
    for path, outcome in reference["files"].items():
        assert compiled["files"][path] == outcome, path
