"""Both sensors on the remote-MCP-service pcaps (tests/pcaps/remote/, made by tests/pcaps/generate.py with dnsmasq,
Squid and the MCP Python SDK over verified TLS): suricata/mcp-remote.rules and zeek/scripts/mcp/remote.zeek raise
exactly what the labels say, nothing on the negatives or the benign corpus (Zeek: tests/sensors/test_zeek.py), and a
site extends the Suricata datasets or the Zeek table without editing a rule.
"""

from __future__ import annotations

import base64
import shutil
import subprocess
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import suricata.update.rule as surule
from paths import SHARED, require_shared, require_zeek
from remote.sensors import (
    MCP_RULES,
    REMOTE_PCAPS,
    REMOTE_RULES,
    REMOTE_SIDS,
    SURICATA_CONFIG,
    ZEEK_ONLY_SEEN,
    labels,
    remote_counts,
    sid_counts,
    suricata,
    zeek,
)

from mcpeeker import remote_endpoints as remote

LABELS = labels()
POSITIVE = [e for e in LABELS if not e["benign"]]
BENIGN = [e for e in LABELS if e["benign"]]
BENIGN_CORPUS = SHARED / "benign-pcaps"
SEEN_BY_SID = {9_400_300: "dns", 9_400_301: "tls_sni", 9_400_302: "http_host", 9_400_303: "url"}
TLS_VERSIONS = {"1.2": "TLSv12", "1.3": "TLSv13"}


@pytest.fixture(scope="module")
def suricata_bin() -> str:
    exe = shutil.which("suricata")
    if exe is None:
        pytest.skip("suricata not installed (make test installs Suricata 7)")
    return exe


def _rules() -> list[Any]:
    return list(surule.parse_file(str(REMOTE_RULES)))


def _meta(rule: Any) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for item in rule["metadata"]:
        key, _, value = item.partition(" ")
        out.setdefault(key, []).append(value)
    return out


def test_labels_cover_the_issue() -> None:
    on_disk = {p.name for p in REMOTE_PCAPS.glob("*.pcap")}
    assert on_disk == {e["file"] for e in LABELS}
    seen = {way for e in POSITIVE for ways in e["remote_services"].values() for way in ways}
    assert seen == {"dns", "tls_sni", "certificate", "http_host", "url"}
    cat = remote.load(REMOTE_PCAPS.parents[2] / "detections" / "remote" / "endpoints.yaml")
    by_service = {e.service: e for e in cat.endpoints}
    for e in POSITIVE:  # every positive names catalogue services, resolved (or certified) under their catalogue host
        assert e["server"]["host"] in {by_service[s].host for s in e["remote_services"]}, e["file"]
        assert {by_service[s].host for s in e["remote_services"]} <= set(e["dns_names"] + e["tls_names"]), e["file"]
    # The certificate sighting on its own: TLS 1.2 (certificate in clear), no SNI, no DNS lookup.
    assert any(
        e["tls_version"] == "1.2"
        and e["sni"] is False
        and not e["dns_names"]
        and set(e["remote_services"])
        and all(ways == ["certificate"] for ways in e["remote_services"].values())
        for e in POSITIVE
    )
    # ... and its negative: a multi-name certificate that also names an MCP host, for a client that asked for
    # another name.
    assert any(
        e["tls_version"] == "1.2" and e["sni"] and set(e["tls_names"]) & {d.host for d in cat.dedicated()}
        for e in BENIGN
    )
    # A dedicated and a shared host, a proxy, and negatives for ordinary vendor sites and shared hosts.
    assert any(e["proxy"] == "squid" for e in POSITIVE)
    assert any(not by_service[s].dedicated for e in POSITIVE for s in e["remote_services"])
    assert {"www.notion.so", "linear.app", "sentry.io"} <= {n for e in BENIGN for n in e["dns_names"]}
    assert {"api.githubcopilot.com", "hf.co"} <= {n for e in BENIGN for n in e["tls_names"]}


def test_rule_conventions() -> None:
    """ET style as suricata/mcp.rules: MCPEEKER msg, reference, classtype, rev, sorted metadata, the SID block."""
    rules = _rules()
    assert [r["sid"] for r in rules] == sorted(SEEN_BY_SID)
    problems = []
    for r in rules:
        meta, where = _meta(r), f"sid {r['sid']}"
        if not r["msg"].startswith("MCPEEKER Remote MCP service: "):
            problems.append(f"{where}: msg")
        if not (r["references"] and r["classtype"] and r["rev"] >= 1 and r["sid"] in REMOTE_SIDS):
            problems.append(f"{where}: reference/classtype/rev/sid block")
        keys = [item.partition(" ")[0] for item in r["metadata"]]
        if keys != sorted(keys):
            problems.append(f"{where}: metadata keys not sorted: {keys}")
        if meta.get("mcpeeker_evidence") != ["network"] or meta.get("mcpeeker_detection") != ["remote_mcp_service"]:
            problems.append(f"{where}: mcpeeker_evidence/detection")
        if meta.get("mcpeeker_seen") != [SEEN_BY_SID[r["sid"]]]:
            problems.append(f"{where}: mcpeeker_seen {meta.get('mcpeeker_seen')}")
        # Host names only ever come from a dataset the catalogue generates, never from the rule text.
        datasets = [o for o in r["raw"].split("; ") if o.startswith("dataset:")]
        dedicated = r["sid"] != 9_400_303
        name = remote.DATASET_DEDICATED if dedicated else remote.DATASET_SHARED
        file = remote.DATASET_FILES[name]
        if datasets != [f"dataset:isset,{name},type string,load {file}"]:
            problems.append(f"{where}: dataset {datasets}")
        if "content:" in r["raw"]:
            problems.append(f"{where}: a literal host or path in the rule")
    shared = next(r for r in rules if r["sid"] == 9_400_303)
    assert f'pcre:"{remote.SHARED_PATH_PCRE}"' in shared["raw"]
    assert not problems, "\n".join(problems)


@pytest.mark.suricata
def test_rules_load_with_the_project_config(suricata_bin: str, tmp_path: Path) -> None:
    """suricata -T with suricata-test.yaml, both rule files together, from a directory that is not theirs."""
    proc = subprocess.run(
        [suricata_bin, "-T", "-c", str(SURICATA_CONFIG), "-S", str(REMOTE_RULES), "-l", str(tmp_path)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    missing = tmp_path / "gone"
    missing.mkdir()
    shutil.copy(REMOTE_RULES, missing / REMOTE_RULES.name)  # no datasets beside it: Suricata must refuse to load
    proc = subprocess.run(
        [suricata_bin, "-T", "-c", str(SURICATA_CONFIG), "-S", str(missing / REMOTE_RULES.name), "-l", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode != 0 or "mcp-remote-dedicated.lst" in proc.stderr + proc.stdout


@pytest.mark.suricata
@pytest.mark.parametrize("entry", LABELS, ids=[e["scenario"] for e in LABELS])
def test_suricata_raises_exactly_the_labels(entry: dict[str, Any], suricata_bin: str, tmp_path: Path) -> None:
    records = suricata(REMOTE_PCAPS / entry["file"], tmp_path, [MCP_RULES, REMOTE_RULES], suricata_bin)
    assert sid_counts(records) == entry["suricata_sids"], entry["file"]
    ways = {SEEN_BY_SID[int(s)] for s in entry["suricata_sids"]}
    assert ways == {w for ws in entry["remote_services"].values() for w in ws} - ZEEK_ONLY_SEEN, entry["file"]
    for alert in (r for r in records if r.get("event_type") == "alert" and r["alert"]["signature_id"] in REMOTE_SIDS):
        # Alerts name the client that used the service (target:src_ip).
        assert alert["alert"]["target"]["ip"] == entry["client"]["ip"], entry["file"]
    if entry["benign"]:
        # Neither rule file says anything about the negatives.
        assert [r for r in records if r.get("event_type") == "alert"] == [], entry["file"]
    # JA3/JA4 recorded as context of every TLS session (suricata-test.yaml), never part of a rule.
    for tls in (r["tls"] for r in records if r.get("event_type") == "tls" and r["tls"].get("sni")):
        assert tls["ja3"]["hash"] and tls["ja4"], entry["file"]


@pytest.mark.suricata
def test_a_site_extends_the_dataset_without_editing_rules(suricata_bin: str, tmp_path: Path) -> None:
    entry = next(e for e in LABELS if e["scenario"] == "remote_dedicated_tls_notion")
    pcap = REMOTE_PCAPS / entry["file"]
    # A site's copy of the rules with datasets that lack the host: silent.
    site = tmp_path / "site"
    site.mkdir()
    shutil.copy(REMOTE_RULES, site / REMOTE_RULES.name)
    lst = site / "mcp-remote-dedicated.lst"
    lst.write_text(base64.b64encode(b"mcp.example.com").decode() + "\n")
    (site / "mcp-remote-shared.lst").write_text("")
    assert sid_counts(suricata(pcap, tmp_path / "a", [site / REMOTE_RULES.name], suricata_bin, datasets=site)) == {}
    # The host appended to the dataset file (base64, Suricata's string format): the same rules fire.
    with lst.open("a") as fh:
        fh.write(base64.b64encode(b"mcp.notion.com").decode() + "\n")
    counts = sid_counts(suricata(pcap, tmp_path / "b", [site / REMOTE_RULES.name], suricata_bin, datasets=site))
    assert counts == entry["suricata_sids"]


@pytest.mark.zeek
@pytest.mark.parametrize("entry", LABELS, ids=[e["scenario"] for e in LABELS])
def test_zeek_logs_exactly_the_labels(entry: dict[str, Any], tmp_path: Path) -> None:
    logs = zeek(REMOTE_PCAPS / entry["file"], tmp_path, str(require_zeek()))
    assert remote_counts(logs) == entry["zeek_mcp_remote"], entry["file"]
    lines = logs.get("mcp_remote", [])
    assert {(r["service"], r["seen"]) for r in lines} == {
        (s, w) for s, ws in entry["remote_services"].items() for w in ws
    }, entry["file"]
    for r in lines:
        assert r["id.orig_h"] == entry["client"]["ip"] and r["uid"], entry["file"]
        assert r["dedicated"] == (r["seen"] != "url"), entry["file"]
    # Hits on the MCP catalogue stay out of intel.log (it is the SOC's threat intel).
    assert "intel" not in logs, entry["file"]
    if "url" not in {w for ws in entry["remote_services"].values() for w in ws}:
        # Encrypted or ordinary traffic: the cleartext MCP analysis (mcp.log, notices) has nothing to say.
        assert "mcp" not in logs and not any(n["note"].startswith("MCP::") for n in logs.get("notice", []))
    assert "reporter" not in logs or not any(r.get("level") == "Reporter::ERROR" for r in logs["reporter"])


TLS_LABELS = [e for e in LABELS if e["tls_version"]]


@pytest.mark.zeek
@pytest.mark.parametrize("entry", TLS_LABELS, ids=[e["scenario"] for e in TLS_LABELS])
def test_zeek_certificate_sightings_match_the_wire(entry: dict[str, Any], tmp_path: Path) -> None:
    """The labels' TLS facts hold in ssl.log (version, SNI or none) and a `certificate` line is a server certificate
    Zeek saw in clear (TLS 1.2; TLS 1.3 encrypts it): same connection, its indicator among the certificate's names."""
    logs = zeek(REMOTE_PCAPS / entry["file"], tmp_path, str(require_zeek()))
    ssl = logs["ssl"]
    assert {r["version"] for r in ssl} == {TLS_VERSIONS[entry["tls_version"]]}, entry["file"]
    assert all(r["established"] for r in ssl), entry["file"]
    if entry["sni"]:
        assert {r["server_name"] for r in ssl} <= set(entry["tls_names"]), entry["file"]
    else:
        assert not any("server_name" in r for r in ssl), entry["file"]
    certs = logs.get("x509", [])
    if entry["tls_version"] == "1.3":
        assert certs == [], entry["file"]
    else:
        assert {n for c in certs for n in c["san.dns"]} == set(entry["tls_names"]), entry["file"]
        assert {c["certificate.subject"] for c in certs} == {f"CN={entry['tls_names'][0]}"}, entry["file"]
    cert_lines = [r for r in logs.get("mcp_remote", []) if r["seen"] == "certificate"]
    ssl_uids = {r["uid"] for r in ssl}
    for r in cert_lines:
        assert r["where"] == "X509::IN_CERT" and r["uid"] in ssl_uids and r["dedicated"], entry["file"]
        assert r["indicator"] in entry["tls_names"], entry["file"]
    wanted = {s for s, ways in entry["remote_services"].items() if "certificate" in ways}
    assert {r["service"] for r in cert_lines} == wanted, entry["file"]
    if wanted:  # CN and SAN of every session's certificate
        assert len(cert_lines) == 2 * len(ssl), entry["file"]


@pytest.mark.zeek
def test_zeek_threat_intel_on_the_same_name_still_reaches_intel_log(tmp_path: Path) -> None:
    """An indicator a site's threat intel also lists is logged in both places: ours never hides theirs."""
    script = tmp_path / "site-intel.zeek"
    script.write_text(
        'event zeek_init() { Intel::insert([$indicator="mcp.notion.com", $indicator_type=Intel::DOMAIN, '
        '$meta=[$source="site-threat-feed"]]); }\n'
    )
    entry = next(e for e in LABELS if e["scenario"] == "remote_dedicated_tls_notion")
    logs = zeek(REMOTE_PCAPS / entry["file"], tmp_path / "out", str(require_zeek()), [str(script)])
    assert remote_counts(logs) == entry["zeek_mcp_remote"]
    assert {s for r in logs["intel"] for s in r["sources"]} == {"site-threat-feed", remote.INTEL_SOURCE}


@pytest.mark.zeek
def test_zeek_site_adds_an_endpoint_by_redef(tmp_path: Path) -> None:
    """The table is &redef: a site's own endpoint is matched like a catalogue one."""
    script = tmp_path / "site.zeek"
    script.write_text('redef MCP::remote_endpoints += { ["sentry.io"] = "corp-sentry dedicated /mcp" };\n')
    entry = next(e for e in LABELS if e["scenario"] == "benign_remote_vendor_sites")
    logs = zeek(REMOTE_PCAPS / entry["file"], tmp_path / "out", str(require_zeek()), [str(script)])
    assert set(remote_counts(logs)) == {"corp-sentry dns", "corp-sentry tls_sni"}


@pytest.mark.suricata
@pytest.mark.slow
def test_benign_corpus_raises_no_remote_sid(suricata_bin: str, tmp_path: Path) -> None:
    from mcpeeker.sensors import suricata as sur

    require_shared(BENIGN_CORPUS, "benign pcap corpus")
    # The rules beside their datasets (run_suricata reads a single rule file where it lies).
    eve = sur.run_suricata(BENIGN_CORPUS, REMOTE_RULES, tmp_path, binary=suricata_bin)
    raised = Counter(
        a["alert"]["signature_id"] for a in sur.read_eve(eve, "alert") if a["alert"]["signature_id"] in REMOTE_SIDS
    )
    dns_flows = sum(1 for f in sur.read_eve(eve, "flow") if f.get("app_proto") == "dns")
    tls_flows = sum(1 for f in sur.read_eve(eve, "flow") if f.get("app_proto") == "tls")
    assert dns_flows > 100 and tls_flows > 10, f"corpus not inspected: {dns_flows} DNS, {tls_flows} TLS flows"
    assert not raised, raised
