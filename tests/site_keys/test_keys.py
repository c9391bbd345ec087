"""Secure by default: no built-in key, `mcpeeker init`, key ids on hashes and key rotation (site and audit),
on the real local OpenSearch node."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import stat
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from mcpeeker import audit
from mcpeeker.client import make_client
from mcpeeker.errors import ConfigError
from mcpeeker.ingest.normalise.common import Context
from mcpeeker.roles import Actor
from mcpeeker.settings import Settings, resolve
from mcpeeker.site import keys
from mcpeeker.site.keys import MissingKeyError
from mcpeeker_agent.privacy import Hasher

from paths import PCAP_DIR, REPO_ROOT
from cluster import drop_prefix

PACKAGED_SETTINGS = REPO_ROOT / "configs" / "mcpeeker.yaml"


def _env(**extra: str) -> dict[str, str]:
    """The environment of a fresh shell: no MCPEEKER_* (the session's test keys included)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MCPEEKER_")}
    env.update(COLUMNS="250", **extra)
    return env


def _mcpeeker(*args: str, env: dict[str, str], cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "mcpeeker.cli", *args], capture_output=True, text=True, env=env, cwd=cwd, timeout=300
    )


def _agent(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "mcpeeker_agent.cli", *args], capture_output=True, text=True, env=env, timeout=300
    )


def _scan(tmp: Path, machine_id: str, out: Path, env: dict[str, str]) -> dict:
    home = tmp / "home" / "alice"
    home.mkdir(parents=True, exist_ok=True)
    result = _agent(
        "scan",
        "--home",
        str(home),
        "--root",
        str(tmp),
        "--no-processes",
        "--no-listeners",
        "--no-state",
        "--machine-id",
        machine_id,
        "-o",
        str(out),
        env=env,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(out.read_text().splitlines()[-1])


def _ring_secret(path: Path) -> bytes:
    return [ln for ln in path.read_text().splitlines() if ln and not ln.startswith("#")][-1].encode()


# ------------------------------------------------------------------------------------------ mcpeeker init


def test_init_writes_private_keys_and_a_working_config(tmp_path: Path) -> None:
    site = tmp_path / "etc-mcpeeker"
    result = _mcpeeker("init", str(site), env=_env(), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    site_key, audit_key = site / "keys" / "site.key", site / "keys" / "audit.key"
    for path in (site_key, audit_key):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
        assert f"wrote {path} (mode 0600)" in result.stdout
    assert stat.S_IMODE((site / "keys").stat().st_mode) == 0o700
    assert _ring_secret(site_key) != _ring_secret(audit_key)
    assert len(_ring_secret(site_key)) == 64
    # The editable set: the settings a site edits, plus the packaged defaults of the other configs.
    for name in ("mcpeeker.yaml", "roles.yaml", "scoring.yaml"):
        assert (site / name).is_file() and f"wrote {site / name}" in result.stdout
    assert (site / "roles.yaml").read_text() == (REPO_ROOT / "configs" / "roles.yaml").read_text()
    # ... and the hardened systemd units with their example environment files (docs/deploy.md installs them).
    shipped = sorted(p.name for p in (REPO_ROOT / "configs" / "systemd").iterdir())
    assert "mcpeeker-collect.service" in shipped and "mcpeeker-agent.timer" in shipped
    assert sorted(p.name for p in (site / "systemd").iterdir()) == shipped
    assert all(f"wrote {site / 'systemd' / name}" in result.stdout for name in shipped)
    text = (site / "mcpeeker.yaml").read_text()
    assert "site_key_file: keys/site.key" in text and "key_file: keys/audit.key" in text
    assert _ring_secret(site_key).decode() not in text  # key files, not keys in YAML

    # The written settings work: they name the keys (relative to the settings file, from any directory).
    env = _env(MCPEEKER_CONFIG=str(site / "mcpeeker.yaml"))
    listed = _mcpeeker("keys", "list", env=env, cwd=Path("/"))
    assert listed.returncode == 0, listed.stderr
    site_id, audit_id = keys.key_id(_ring_secret(site_key)), keys.key_id(_ring_secret(audit_key))
    assert f"site: {site_key}: {site_id} (current)" in listed.stdout
    assert f"audit: {audit_key}: {audit_id} (current)" in listed.stdout
    # ... and the agent hashes with the same key, found through the same settings file.
    report = _scan(tmp_path, "machine-42", tmp_path / "r.ndjson", env)
    assert report["key_id"] == site_id
    assert report["host_id"] == hmac.new(_ring_secret(site_key), b"machine-42", hashlib.sha256).hexdigest()

    # A second init refuses to replace the keys and changes nothing.
    before = site_key.read_bytes(), audit_key.read_bytes()
    again = _mcpeeker("init", str(site), env=_env())
    assert again.returncode == 2
    assert "already exist" in again.stderr and "mcpeeker keys rotate" in again.stderr and "--force" in again.stderr
    assert (site_key.read_bytes(), audit_key.read_bytes()) == before
    forced = _mcpeeker("init", str(site), "--force", env=_env())
    assert forced.returncode == 0, forced.stderr
    assert _ring_secret(site_key) != before[0].splitlines()[-1]
    assert stat.S_IMODE(site_key.stat().st_mode) == 0o600


def test_a_key_file_others_can_read_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "site.key"
    keys.create_ring(path, "site")
    path.chmod(0o644)
    with pytest.raises(ConfigError, match=r"readable or writable by others \(mode 0644\).*chmod 600"):
        keys.read_ring(path)
    result = _agent(
        "scan",
        "--site-key-file",
        str(path),
        "--no-processes",
        "--no-listeners",
        "--no-state",
        "--home",
        str(tmp_path),
        env=_env(),
    )
    assert result.returncode == 2 and "chmod 600" in result.stderr


# ------------------------------------------------------------------------------------------ no built-in key

NO_SITE_KEY = ("privacy.site_key_file", "MCPEEKER_SITE_KEY_FILE", "mcpeeker init")
NO_AUDIT_KEY = ("audit.key_file", "MCPEEKER_AUDIT_KEY_FILE", "mcpeeker init")


def test_commands_without_a_key_stop_and_name_the_setting(tmp_path: Path, os_url: str) -> None:
    env = _env(MCPEEKER_CONFIG=str(PACKAGED_SETTINGS))  # the packaged settings: no key named
    prefix = f"nokey-{uuid.uuid4().hex[:8]}-"
    report = tmp_path / "report.ndjson"
    report.write_text(
        json.dumps(
            {
                "schema": "mcpeeker.agent/1",
                "host_id": "0" * 64,
                "timestamp": "2026-12-01T00:00:00Z",
                "evidence": [],
                "local_score": 0,
            }
        )
        + "\n"
    )
    runs = {
        "ingest": _mcpeeker(
            "ingest",
            "agent",
            str(report),
            "--no-progress",
            "--url",
            os_url,
            "--index-prefix",
            prefix,
            "--dead-letter",
            str(tmp_path / "dead.log"),
            env=env,
        ),
        "replay": _mcpeeker(
            "replay",
            str(PCAP_DIR / "attack_command_injection_py2026.pcap"),
            "--no-index",
            "--keep",
            str(tmp_path / "replay"),
            env=env,
        ),
        "audit": _mcpeeker("audit", "verify", "--url", os_url, "--index-prefix", prefix, env=env),
    }
    for name in ("ingest", "replay"):
        assert runs[name].returncode == 2, (name, runs[name].stderr)
        assert all(word in runs[name].stderr for word in NO_SITE_KEY), (name, runs[name].stderr)
    assert runs["audit"].returncode == 2 and all(w in runs["audit"].stderr for w in NO_AUDIT_KEY), runs["audit"].stderr
    # Stopped before doing anything: no sensor output, no index, no dead letter.
    assert not (tmp_path / "replay").exists() or not any((tmp_path / "replay").iterdir())
    assert not (tmp_path / "dead.log").exists()
    client = make_client(Settings(url=os_url))
    assert client.indices.get(index=f"{prefix}*", expand_wildcards="all") == {}

    agent = _agent("scan", "--home", str(tmp_path), "--no-processes", "--no-listeners", "--no-state", env=env)
    assert agent.returncode == 2, agent.stderr
    assert all(
        w in agent.stderr for w in ("--site-key-file", "MCPEEKER_SITE_KEY_FILE", "site_key_file", "mcpeeker init")
    )
    assert agent.stdout == ""


def test_registry_change_without_an_audit_key_is_refused_before_it_is_made(os_settings: Settings) -> None:
    from dataclasses import replace

    from mcpeeker.registry.store import Registry

    unsigned = replace(os_settings, audit_key=None, audit_key_file=None)
    registry = Registry(unsigned, make_client(unsigned), Actor("admin", "admin"))
    with pytest.raises(MissingKeyError, match="audit.key_file.*MCPEEKER_AUDIT_KEY_FILE"):
        registry.add(
            {
                "owner": "alice",
                "team": "docs",
                "purpose": "notes",
                "host": {"id": "a" * 64},
                "server": {"name": "notes", "port": 8000},
            }
        )
    client = make_client(os_settings)
    client.indices.refresh(index=os_settings.index("mcp-registry"))
    assert client.count(index=os_settings.index("mcp-registry"))["count"] == 0


def test_nothing_hashes_without_a_key() -> None:
    """Every hashing entry point refuses a missing key instead of falling back to one."""
    with pytest.raises(MissingKeyError, match="privacy.site_key_file"):
        Context("t-")
    with pytest.raises(MissingKeyError, match="privacy.site_key_file"):
        Settings().site_key_bytes()
    with pytest.raises(MissingKeyError, match="audit.key_file"):
        audit.signing_key(Settings())
    with pytest.raises(ValueError):
        Hasher(b"")


def test_two_sites_hash_the_same_machine_differently(tmp_path: Path) -> None:
    """No shared key anywhere: two fresh sites give the same machine unrelated host ids, each its own HMAC."""
    ids = []
    for name in ("a", "b"):
        assert _mcpeeker("init", str(tmp_path / name), env=_env()).returncode == 0
        env = _env(MCPEEKER_CONFIG=str(tmp_path / name / "mcpeeker.yaml"))
        report = _scan(tmp_path / f"scan-{name}", "same-machine", tmp_path / f"{name}.ndjson", env)
        secret = _ring_secret(tmp_path / name / "keys" / "site.key")
        assert report["host_id"] == hmac.new(secret, b"same-machine", hashlib.sha256).hexdigest()
        ids.append(report["host_id"])
    assert ids[0] != ids[1]


# ------------------------------------------------------------------------------------------ rotation


def _docs(client, settings: Settings, query: dict) -> list[dict]:
    client.indices.refresh(index=settings.index("mcp-events-*"))
    hits = client.search(index=settings.index("mcp-events-*"), body={"size": 100, "query": query})["hits"]["hits"]
    return [h["_source"] for h in hits]


def test_rotation_keeps_old_hashes_joinable_and_the_audit_chain_verifiable(tmp_path: Path, os_url: str) -> None:
    site = tmp_path / "site"
    prefix = f"rot-{uuid.uuid4().hex[:8]}-"
    assert _mcpeeker("init", str(site), "--url", os_url, "--index-prefix", prefix, env=_env()).returncode == 0
    env = _env(MCPEEKER_CONFIG=str(site / "mcpeeker.yaml"))
    settings = resolve(None, env=env)
    assert settings.url == os_url and settings.index_prefix == prefix
    client = make_client(settings)
    try:
        assert _mcpeeker("setup", env=env).returncode == 0
        audit.append(settings, client, Actor("admin", "admin"), "registry.add", "registry_entry", "before", {"n": 1})

        # Scan and ingest with key 1, rotate the site key, scan and ingest the same machine with key 2.
        first = _scan(tmp_path / "s1", "laptop-7", tmp_path / "first.ndjson", env)
        assert _mcpeeker("ingest", "agent", str(tmp_path / "first.ndjson"), "--no-progress", env=env).returncode == 0
        rotated = _mcpeeker("keys", "rotate", env={**env, "MCPEEKER_IDENTITY": "admin"})
        assert rotated.returncode == 0, rotated.stderr
        ring = resolve(None, env=env).site_keys()
        assert len(ring.keys) == 2 and ring.keys[0].id == first["key_id"]
        assert stat.S_IMODE((site / "keys" / "site.key").stat().st_mode) == 0o600
        second = _scan(tmp_path / "s2", "laptop-7", tmp_path / "second.ndjson", env)
        assert _mcpeeker("ingest", "agent", str(tmp_path / "second.ndjson"), "--no-progress", env=env).returncode == 0
        assert second["key_id"] == ring.current.id != first["key_id"]
        assert second["host_id"] != first["host_id"]  # a new key, a new hash ...

        # ... and both are found through the key ids: the value's hash under every key of the ring.
        lookup = _mcpeeker("keys", "lookup", "laptop-7", env=env)
        assert lookup.returncode == 0
        assert f"{first['key_id']}" in lookup.stdout and first["host_id"] in lookup.stdout
        assert f"{second['key_id']} (current)" in lookup.stdout and second["host_id"] in lookup.stdout
        query = {
            "bool": {
                "should": [
                    {"bool": {"filter": [{"term": {"mcpeeker.key_id": kid}}, {"term": {"host.id": h}}]}}
                    for kid, h in ring.hashes("laptop-7").items()
                ],
                "minimum_should_match": 1,
            }
        }
        found = _docs(client, settings, query)
        assert {(d["mcpeeker"]["key_id"], d["host"]["id"]) for d in found} == {
            (first["key_id"], first["host_id"]),
            (second["key_id"], second["host_id"]),
        }
        assert {d["mcpeeker"]["scan"]["id"] for d in found if "scan" in d["mcpeeker"]} == {
            first["scan_id"],
            second["scan_id"],
        }

        # Rotate the audit key too; records before and after verify, each with its own key.
        old_audit = resolve(None, env=env).audit_keys().current
        assert _mcpeeker("keys", "rotate", "--audit", env={**env, "MCPEEKER_IDENTITY": "admin"}).returncode == 0
        settings = resolve(None, env=env)
        new_audit = settings.audit_keys().current
        assert new_audit.id != old_audit.id
        audit.append(settings, client, Actor("admin", "admin"), "registry.add", "registry_entry", "after", {"n": 2})
        verify = _mcpeeker("audit", "verify", env=env)
        assert verify.returncode == 0, verify.stdout + verify.stderr
        assert "audit chain intact: 4 records verified" in verify.stdout
        client.indices.refresh(index=settings.index("mcp-audit"))
        records = [
            h["_source"]
            for h in client.search(index=settings.index("mcp-audit"), body={"size": 10, "sort": [{"seq": "asc"}]})[
                "hits"
            ]["hits"]
        ]
        assert [r["action"] for r in records] == ["registry.add", "keys.rotate", "keys.rotate", "registry.add"]
        assert [r["object"]["id"] for r in records[1:3]] == ["site", "audit"]
        assert json.loads(records[1]["content_json"]) == {"old_key_id": first["key_id"], "new_key_id": second["key_id"]}
        assert json.loads(records[2]["content_json"]) == {"old_key_id": old_audit.id, "new_key_id": new_audit.id}
        assert [r["key_id"] for r in records] == [old_audit.id, old_audit.id, old_audit.id, new_audit.id]

        # Tampering still shows across the rotation: an edit of the rotation record ...
        edited = dict(records[2], content_json=json.dumps({"old_key_id": old_audit.id, "new_key_id": "kdeadbeef"}))
        client.index(index=settings.index("mcp-audit"), id="3", body=edited, refresh=True)
        count, problems = audit.verify(settings, client)
        assert [(p.seq, p.reason) for p in problems] == [(3, "MAC does not match the content: edited")]
        client.index(index=settings.index("mcp-audit"), id="3", body=records[2], refresh=True)
        assert audit.verify(settings, client)[1] == []

        # ... and a record forged with the retired audit key (say it leaked) after the rotation.
        forged = {
            "seq": 5,
            "@timestamp": records[3]["@timestamp"],
            "actor": {"name": "admin", "role": "admin"},
            "action": "registry.approve",
            "object": {"type": "registry_entry", "id": "x"},
            "content_json": "{}",
            "prev_mac": records[3]["mac"],
            "key_id": old_audit.id,
        }
        forged["mac"] = hmac.new(old_audit.secret, audit._canonical(forged), hashlib.sha256).hexdigest()
        client.index(index=settings.index("mcp-audit"), id="5", body=forged, refresh=True)
        broken = _mcpeeker("audit", "verify", env=env)
        assert broken.returncode == 1
        assert (
            "seq 5" in broken.stdout
            and f"signed with key {old_audit.id} but the chain uses {new_audit.id}" in broken.stdout
        )

        # A whole chain rewritten with the retired key (rotation records dropped, head moved along) still shows.
        client.delete_by_query(index=settings.index("mcp-audit"), body={"query": {"match_all": {}}}, refresh=True)
        prev = audit.GENESIS_MAC
        for seq in (1, 2):
            record = {
                "seq": seq,
                "@timestamp": records[0]["@timestamp"],
                "actor": {"name": "admin", "role": "admin"},
                "action": "registry.add",
                "object": {"type": "registry_entry", "id": f"r{seq}"},
                "content_json": "{}",
                "prev_mac": prev,
                "key_id": old_audit.id,
            }
            record["mac"] = prev = hmac.new(old_audit.secret, audit._canonical(record), hashlib.sha256).hexdigest()
            client.index(index=settings.index("mcp-audit"), id=str(seq), body=record, refresh=True)
        client.index(
            index=settings.index("mcp-state"),
            id=audit.HEAD_ID,
            refresh=True,
            body={"name": audit.HEAD_ID, "value": {"seq": 2, "mac": prev}},
        )
        problems = audit.verify(settings, client)[1]
        assert [p.reason for p in problems] == [
            f"the chain ends signed with key {old_audit.id}, not the current audit key "
            f"{new_audit.id}: rewritten with a retired key, or a rotation not recorded"
        ]
    finally:
        drop_prefix(client, prefix)


def test_the_init_directory_configs_are_the_ones_read(tmp_path: Path) -> None:
    """roles.yaml (and the other copies) in the init'ed directory replace the packaged defaults."""
    site = tmp_path / "site"
    assert _mcpeeker("init", str(site), env=_env()).returncode == 0
    env = _env(MCPEEKER_CONFIG=str(site / "mcpeeker.yaml"))
    roles = (site / "roles.yaml").read_text()
    assert "    - audit.verify\n" in roles
    (site / "roles.yaml").write_text(roles.replace("    - audit.verify\n", ""))
    denied = _mcpeeker("audit", "verify", "--url", "http://127.0.0.1:9", env=env)
    assert denied.returncode == 2
    assert "identity 'analyst' (role analyst) may not audit.verify" in denied.stderr


def test_a_key_written_into_the_settings_file_is_refused_with_the_way_out(tmp_path: Path) -> None:
    config = tmp_path / "mcpeeker.yaml"
    config.write_text("privacy:\n  site_key: an-old-inline-site-key\n")
    with pytest.raises(
        ConfigError,
        match=r"privacy\.site_key: keys no longer live in the settings file.*mcpeeker init.*privacy\.site_key_file",
    ):
        resolve(None, env={"MCPEEKER_CONFIG": str(config)})
    config.write_text("audit:\n  key: an-old-inline-audit-key\n")
    with pytest.raises(ConfigError, match=r"audit\.key: .*audit\.key_file"):
        resolve(None, env={"MCPEEKER_CONFIG": str(config)})
