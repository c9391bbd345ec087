"""Suricata rules (suricata/mcp.rules) against real Suricata 7 and real SDK pcaps.

Needs the suricata binary (scripts/install-suricata.sh installs 7.x from bookworm-backports);
Suricata is installable in CI, so a missing binary fails these tests instead of skipping them.
The rule linter runs without it.
"""

from __future__ import annotations

import base64
import json
import re
import subprocess
import sys
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import suricata.update.rule as surule

from mcpeeker.sensors import suricata as sur

from paths import LABELS, PCAP_DIR, REPO_ROOT, SHARED, require_shared

RULES = REPO_ROOT / "suricata" / "mcp.rules"
README = REPO_ROOT / "suricata" / "README.md"
INDEX = REPO_ROOT / "suricata" / "index.yaml"
BENIGN_CORPUS = SHARED / "benign-pcaps"

# labels.json "expected" tags that Suricata is responsible for (rug_pull is Zeek's: it needs
# per-server state across sessions). Each maps to rules by their mcpeeker_detection metadata.
SURICATA_TAGS = {
    "mcp_server",
    "tool_poisoning",
    "sensitive_file",
    "command_injection",
    "unauthenticated",
    "oauth_discovery",
}
EVIDENCE_BY_RANGE = {range(9_400_001, 9_400_100): "network", range(9_400_100, 9_400_200): "attack"}
STICKY_BUFFERS = {
    "http.method",
    "http.uri",
    "http.header",
    "http.header_names",
    "http.request_body",
    "http.response_body",
    "file.data",
    "http.content_type",
    "http.stat_code",
    "http.accept",
}


def _labels() -> list[dict[str, Any]]:
    return json.loads(LABELS.read_text())["pcaps"]


def _rules() -> list[surule.Rule]:
    return surule.parse_file(str(RULES))


def _meta(rule: surule.Rule) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for item in rule["metadata"]:
        key, _, value = item.partition(" ")
        out.setdefault(key, []).append(value)
    return out


def _detection_by_sid() -> dict[int, str]:
    return {r["sid"]: _meta(r)["mcpeeker_detection"][0] for r in _rules()}


def _era_by_sid() -> dict[int, str]:
    return {r["sid"]: _meta(r)["mcp_era"][0] for r in _rules()}


POSITIVE = [e for e in _labels() if not e["benign"]]
BENIGN = [e for e in _labels() if e["benign"]]


@pytest.fixture(scope="session")
def suricata_bin() -> Path:
    try:
        exe = sur.find_suricata()
        version = sur.suricata_version(exe)
    except sur.SuricataError as exc:
        pytest.fail(f"{exc}", pytrace=False)
    if version[0] < 7:
        pytest.fail(f"Suricata {version} found, >= 7.0 needed: run scripts/install-suricata.sh")
    return exe


@pytest.fixture(scope="session")
def label_results(suricata_bin: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Counter[int]]:
    """One Suricata run per labelled pcap (flows of different captures must not mix)."""
    base = tmp_path_factory.mktemp("suricata-labels")

    def run(entry: dict[str, Any]) -> tuple[str, Counter[int]]:
        eve = sur.run_suricata(PCAP_DIR / entry["file"], RULES, base / entry["scenario"], binary=suricata_bin)
        return entry["file"], sur.alert_sid_counts(eve)

    with ThreadPoolExecutor(max_workers=2) as pool:
        return dict(pool.map(run, _labels()))


# --- rule file linter (no Suricata needed) ---------------------------------------------------


def test_rule_file_parses_completely() -> None:
    rule_lines = [ln for ln in RULES.read_text().splitlines() if ln.strip() and not ln.startswith("#")]
    assert len(_rules()) == len(rule_lines), "a non-comment line did not parse as a rule"


def test_rule_conventions() -> None:
    rules = _rules()
    sids = [r["sid"] for r in rules]
    assert len(sids) == len(set(sids)), f"duplicate sids: {[s for s, n in Counter(sids).items() if n > 1]}"
    problems: list[str] = []
    for r in rules:
        sid, meta = r["sid"], _meta(r)
        where = f"sid {sid}"
        if not sur.SID_MIN <= sid <= sur.SID_MAX:
            problems.append(f"{where}: outside the SID block")
        if not r["msg"].startswith("MCPEEKER "):
            problems.append(f"{where}: msg must start with 'MCPEEKER '")
        if not r["rev"] or r["rev"] < 1:
            problems.append(f"{where}: rev missing")
        if not r["classtype"]:
            problems.append(f"{where}: classtype missing")
        if not r["references"]:
            problems.append(f"{where}: reference missing (the catalogue entry's first reference)")
        keys = [item.partition(" ")[0] for item in r["metadata"]]
        if keys != sorted(keys):
            problems.append(f"{where}: metadata keys not sorted (ET style): {keys}")
        flow = (r.get("flow") or "").split(",")
        if "established" not in flow or sum(d in flow for d in ("to_server", "to_client")) != 1:
            problems.append(f"{where}: flow must be established,to_server|to_client")
        if "fast_pattern" not in r.keys():
            problems.append(f"{where}: no fast_pattern")
        if not STICKY_BUFFERS & set(r.keys()):
            problems.append(f"{where}: no HTTP sticky buffer")
        if meta.get("mcpeeker_evidence", [""])[0] not in ("network", "attack"):
            problems.append(f"{where}: metadata mcpeeker_evidence network|attack missing")
        if meta.get("mcpeeker_detection", [""])[0] not in SURICATA_TAGS:
            problems.append(f"{where}: metadata mcpeeker_detection not one of {sorted(SURICATA_TAGS)}")
        if meta.get("mcp_era", [""])[0] not in ("2024", "2025", "2026", "any"):
            problems.append(f"{where}: metadata mcp_era missing")
        if meta.get("confidence", [""])[0] not in ("High", "Medium", "Low"):
            problems.append(f"{where}: metadata confidence High|Medium|Low missing")
        for block, evidence in EVIDENCE_BY_RANGE.items():
            if sid in block and meta.get("mcpeeker_evidence") != [evidence]:
                problems.append(f"{where}: sids {block.start}-{block.stop - 1} are {evidence} evidence")
        helper = 9_400_900 <= sid <= 9_400_999
        if helper != bool(r["noalert"]):
            problems.append(f"{where}: only 9400900-9400999 (flowbit helpers) may be noalert, and they must be")
    assert not problems, "\n".join(problems)


# Prefilter policy (suricata/README.md, "Cost"): every response body is scanned for the file.data
# fast patterns, so only the MCP result tokens may live there; no rule may prefilter on http.header
# (that builds the normalised header block of every transaction).
PREFILTER_BUFFERS = {
    "http.request_body",
    "http.header_names",
    "http.uri",
    "http.stat_code",
    "http.content_type",
    "file.data",
}
BODY_FAST_PATTERNS = {"serverInfo|22|", "|22|inputSchema|22|", "|22|supportedVersions|22|"}


def _fast_pattern(raw: str) -> tuple[str, str]:
    """(sticky buffer, content) that carries the rule's fast_pattern."""
    before = raw.split("fast_pattern;", 1)[0]
    buffer = re.findall(r"\b(http\.[a-z_]+|file\.data);", before)[-1]
    content = re.findall(r'content:"([^"]*)";', before)[-1]
    return buffer, content


def test_prefilter_policy() -> None:
    problems = []
    for r in _rules():
        buffer, content = _fast_pattern(r["raw"])
        if buffer not in PREFILTER_BUFFERS:
            problems.append(f"sid {r['sid']}: fast_pattern in {buffer}")
        if buffer == "file.data" and content not in BODY_FAST_PATTERNS:
            problems.append(
                f"sid {r['sid']}: response-body fast_pattern {content!r} (allowed: {sorted(BODY_FAST_PATTERNS)})"
            )
    assert not problems, "\n".join(problems)


def test_flowbits_are_set_before_checked() -> None:
    set_bits, checked = set(), set()
    for r in _rules():
        for fb in r["flowbits"]:
            cmd, _, name = fb.partition(",")
            if cmd == "set":
                set_bits.add(name)
            elif cmd in ("isset", "isnotset"):
                checked.add(name)
    assert checked <= set_bits, f"flowbits checked but never set: {checked - set_bits}"


def test_readme_table_lists_every_rule() -> None:
    table_sids = {int(m) for m in re.findall(r"^\|\s*(94\d{5})\s*\|", README.read_text(), re.M)}
    rule_sids = {r["sid"] for r in _rules()}
    assert rule_sids - table_sids == set(), f"rules missing from README table: {sorted(rule_sids - table_sids)}"
    assert table_sids - rule_sids == set(), f"README lists unknown sids: {sorted(table_sids - rule_sids)}"


def test_index_yaml_is_an_intel_index_entry() -> None:
    import yaml

    doc = yaml.safe_load(INDEX.read_text())
    assert doc["version"] == 1
    entry = doc["sources"]["mcpeeker/mcp"]
    for key in ("summary", "vendor", "license", "url", "min-version"):
        assert entry.get(key), f"index.yaml: sources.mcpeeker/mcp.{key} missing"
    assert str(entry["min-version"]).startswith("7.")


# --- real Suricata --------------------------------------------------------------------------


@pytest.mark.suricata
def test_rules_load_without_errors_or_warnings(suricata_bin: Path, tmp_path: Path) -> None:
    rc, log = sur.check_rules(RULES, tmp_path, binary=suricata_bin)
    assert rc == 0, log
    bad = [ln for ln in log.splitlines() if re.search(r"\b(Warning|Error)\b:|^[WE]: ", ln)]
    assert not bad, "suricata -T reported:\n" + "\n".join(bad)
    loaded = re.search(r"(\d+) rules successfully loaded, (\d+) rules failed", log)
    assert loaded, log
    assert (int(loaded.group(1)), int(loaded.group(2))) == (len(_rules()), 0)


def test_labels_carry_suricata_sids() -> None:
    missing = [e["file"] for e in _labels() if "suricata_sids" not in e]
    assert not missing, f"labels.json entries without suricata_sids (check the pcap, then add them): {missing}"
    absent = [e["file"] for e in _labels() if not (PCAP_DIR / e["file"]).is_file()]
    assert not absent, f"labels.json names missing pcaps: {absent}"


@pytest.mark.suricata
@pytest.mark.parametrize("entry", POSITIVE, ids=[e["file"] for e in POSITIVE])
def test_positive_pcap_raises_expected_sids(entry: dict[str, Any], label_results: dict[str, Counter[int]]) -> None:
    raised = label_results[entry["file"]]
    expected = {int(sid): n for sid, n in entry.get("suricata_sids", {}).items()}
    assert dict(raised) == expected, f"{entry['file']}: raised {dict(sorted(raised.items()))}"


@pytest.mark.suricata
@pytest.mark.parametrize("entry", POSITIVE, ids=[e["file"] for e in POSITIVE])
def test_positive_pcap_detections_match_semantic_labels(
    entry: dict[str, Any], label_results: dict[str, Counter[int]]
) -> None:
    """The labels' semantic tags (written by the pcap generator) agree with the rules' metadata."""
    raised = label_results[entry["file"]]
    detection, era = _detection_by_sid(), _era_by_sid()
    tags = set(entry["expected"])
    assert {detection[s] for s in raised} == tags & SURICATA_TAGS, entry["file"]
    assert ("mcp_2026" in tags) == any(era[s] == "2026" for s in raised), entry["file"]
    assert ("mcp_legacy_sse" in tags) == (9_400_007 in raised), entry["file"]
    assert ("mcp_initialize" in tags) == (9_400_001 in raised), entry["file"]
    fingerprints = {9_400_012, 9_400_013, 9_400_014}
    assert ("mcp_error_fingerprint" in tags) == bool(fingerprints & set(raised)), entry["file"]


@pytest.mark.suricata
@pytest.mark.parametrize("entry", BENIGN, ids=[e["file"] for e in BENIGN])
def test_benign_pcap_raises_nothing(entry: dict[str, Any], label_results: dict[str, Counter[int]]) -> None:
    assert label_results[entry["file"]] == Counter(), entry["file"]
    assert entry.get("suricata_sids", {}) == {}


@pytest.mark.suricata
def test_benign_corpus_raises_none_of_our_sids(suricata_bin: Path, tmp_path: Path) -> None:
    require_shared(BENIGN_CORPUS, "benign pcap corpus")
    pcaps = [p for p in BENIGN_CORPUS.rglob("*") if p.is_file() and sur._is_pcap_name(p)]
    eve = sur.run_suricata(BENIGN_CORPUS, RULES, tmp_path, binary=suricata_bin)
    log = (tmp_path / "suricata.log").read_text()
    read = re.search(r"read (\d+) files?, (\d+) packets", log)
    assert read, log[-2000:]
    # A few corpus files use link types Suricata cannot decode (802.11, NFLOG ...): skipped, not errors.
    assert int(read.group(1)) >= 0.9 * len(pcaps), f"Suricata read only {read.group(1)} of {len(pcaps)} pcaps"
    http = sum(1 for _ in sur.read_eve(eve, "http"))
    assert http > 500, f"only {http} HTTP transactions seen: corpus not really inspected"
    ours: dict[str, Counter[int]] = {}
    for alert in sur.read_eve(eve, "alert"):
        sid = alert["alert"]["signature_id"]
        if sur.SID_MIN <= sid <= sur.SID_MAX:
            ours.setdefault(alert.get("pcap_filename", "?"), Counter())[sid] += 1
    assert not ours, f"MCPEEKER rules fired on the benign corpus: {ours}"


def test_suricata_update_merges_the_source(tmp_path: Path) -> None:
    """The README's add-source line works: suricata-update takes the file as source mcpeeker/mcp."""
    update = Path(sys.executable).with_name("suricata-update")
    assert update.exists(), "suricata-update not installed in the venv (pip install -e '.[suricata]')"
    common = [
        str(update),
        "-D",
        str(tmp_path / "data"),
        "--suricata-conf",
        str(REPO_ROOT / "suricata" / "suricata-test.yaml"),
    ]
    subprocess.run([*common, "add-source", "mcpeeker/mcp", RULES.resolve().as_uri()], check=True, capture_output=True)
    out = tmp_path / "rules"
    subprocess.run([*common, "-o", str(out), "--no-test", "--no-reload"], check=True, capture_output=True)
    merged = {
        r["sid"]: r for r in surule.parse_file(str(out / "suricata.rules")) if sur.SID_MIN <= r["sid"] <= sur.SID_MAX
    }
    assert set(merged) == {r["sid"] for r in _rules()}
    assert all(r["enabled"] for r in merged.values())


@pytest.mark.suricata
def test_readme_dataset_pattern_tags_approved_servers(suricata_bin: Path, tmp_path: Path) -> None:
    """The registry-dataset rules shown in the README load and split approved from unapproved servers."""
    text = README.read_text()
    rules = [ln for ln in text.splitlines() if ln.startswith("alert ") and "dataset:" in ln]
    assert len(rules) == 2
    approved = next(e for e in POSITIVE if e["era"] == "2025" and e["transport"] == "streamable_http_sse")
    other = next(e for e in POSITIVE if e["server"]["ip"] != approved["server"]["ip"] and e["era"] == "2025")
    (tmp_path / "mcpeeker-approved-ip.lst").write_text(approved["server"]["ip"] + "\n")
    host = approved["server"].get("host", approved["server"]["ip"])
    authority = f"{host}:{approved['server']['port']}".encode()
    (tmp_path / "mcpeeker-approved.lst").write_text(base64.b64encode(authority).decode() + "\n")
    rule_file = tmp_path / "dataset.rules"
    rule_file.write_text("\n".join(r.replace("/etc/suricata/datasets/", f"{tmp_path}/") for r in rules) + "\n")

    def signatures(entry: dict[str, Any]) -> Counter[str]:
        eve = sur.run_suricata(PCAP_DIR / entry["file"], rule_file, tmp_path / entry["scenario"], binary=suricata_bin)
        return Counter(a["alert"]["signature"] for a in sur.read_eve(eve, "alert"))

    hits = signatures(approved)
    assert hits["LOCAL MCP handshake to an unregistered server"] == 0
    assert hits["LOCAL MCP traffic to an approved server"] > 0
    hits = signatures(other)
    assert hits["LOCAL MCP handshake to an unregistered server"] > 0
    assert hits["LOCAL MCP traffic to an approved server"] == 0


def test_suricata_check_findings_are_fixed_or_justified(tmp_path: Path) -> None:
    """suricata-check (all checkers) reports nothing above INFO, and every code left is justified in the README."""
    checker = Path(sys.executable).with_name("suricata-check")
    if not checker.exists():
        pytest.skip("suricata-check not installed in the venv (pip install 'suricata-check>=0.9')")
    subprocess.run([str(checker), "-r", str(RULES), "-o", str(tmp_path), "-a"], check=True, capture_output=True)
    findings = re.findall(
        r"^\[(\w+)\] \((\w+)\) Lines \d+-\d+, sid (\d+)", (tmp_path / "suricata-check-fast.log").read_text(), re.M
    )
    above_info = [f for f in findings if f[1] != "INFO"]
    assert not above_info, f"suricata-check findings above INFO: {above_info}"
    section = README.read_text().split("## suricata-check findings", 1)[1]
    justified = set(re.findall(r"^\|\s*(S\d+)", section, re.M)) | {
        code for pair in re.findall(r"^\|\s*(S\d+)\s*/\s*(S\d+)", section, re.M) for code in pair
    }
    unjustified = sorted({code for code, _, _ in findings} - justified)
    assert not unjustified, f"suricata-check codes neither fixed nor justified in README: {unjustified}"
