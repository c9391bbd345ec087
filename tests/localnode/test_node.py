"""The embedded OpenSearch node, the settings object and `mcpeeker setup`, against the real node."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from mcpeeker import indices
from mcpeeker.errors import ConfigError, MCPeekerError
from mcpeeker.localnode import LocalNode, mcpeeker_home
from mcpeeker.settings import Settings, resolve


def _get(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.loads(response.read())


def test_node_reports_opensearch_2_4_1_and_green(os_url: str) -> None:
    info = _get(os_url)
    assert info["version"]["number"] == "2.4.1"
    assert info["version"]["lucene_version"] == "9.4.2"
    assert _get(os_url + "/_cluster/health")["status"] in {"green", "yellow"}


def test_cli_status_tells_the_truth(os_url: str) -> None:
    port = os_url.rsplit(":", 1)[1]
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "mcpeeker.cli",
            "opensearch",
            "status",
            "--name",
            f"test-{port}",
            "--port",
            port,
            "--json",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    status = json.loads(out.stdout)
    assert status["running"] is True and status["version"] == "2.4.1" and status["pid"] > 0
    assert Path(f"/proc/{status['pid']}").exists()


def test_second_start_reuses_running_node(os_url: str) -> None:
    port = int(os_url.rsplit(":", 1)[1])
    node = LocalNode(name=f"test-{port}", http_port=port)
    before = node.status().pid
    assert node.start(timeout=60).pid == before


def test_stale_pid_file_and_taken_port(tmp_path: Path) -> None:
    # A node instance whose pid file names a dead process reports it as stale, not as running.
    node = LocalNode(name="stale-check", http_port=9391, base=tmp_path)
    node.home.mkdir(parents=True)
    node.pid_file.write_text("999999\n")
    status = node.status()
    assert not status.running and "stale pid file" in status.detail
    # A taken port is a clear error before any Java process is started.
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 9391))
        blocker.listen()
        with pytest.raises(MCPeekerError, match="port 9391 on 127.0.0.1 is taken"):
            node.start(timeout=5)
    assert not node.pid_file.exists()


def test_stop_leaves_no_process_and_restart_keeps_data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A second instance (own home and port) so the session node keeps serving the other tests.
    node = LocalNode(name="lifecycle", http_port=9281, base=mcpeeker_home() / "test-instances")
    status = node.start(timeout=240)
    assert status.running and status.health == "green"
    request = urllib.request.Request(
        status.url + "/keep/_doc/1?refresh=true",
        data=b'{"a":1}',
        headers={"Content-Type": "application/json"},
        method="PUT",
    )
    urllib.request.urlopen(request, timeout=10).read()
    pid = status.pid
    assert node.stop() is True
    assert not Path(f"/proc/{pid}/cmdline").exists() or Path(f"/proc/{pid}/cmdline").read_bytes() == b""
    assert not node.status().running
    restarted = node.start(timeout=240)
    try:
        assert _get(restarted.url + "/keep/_count")["count"] == 1
        # Another handle on the same node whose base is relative to the working directory (a script's
        # bench/out/...) stops it too, instead of taking the node for a stranger and dropping its pid file.
        monkeypatch.chdir(mcpeeker_home())
        assert LocalNode(name="lifecycle", http_port=9281, base=Path("test-instances")).stop() is True
        assert not node.status().running
    finally:
        node.stop()


def test_setup_installs_every_template_and_is_idempotent(os_settings: Settings, os_client) -> None:
    # os_settings already ran setup once; a second run must change nothing.
    again = indices.install(os_settings, os_client)
    assert again.installed == [] and again.created_indices == []
    names = {
        t["name"] for t in os_client.indices.get_index_template(name=f"{os_settings.index_prefix}*")["index_templates"]
    }
    assert names == {
        f"{os_settings.index_prefix}{n}"
        for n in (
            "mcp-events",
            "mcp-findings",
            "mcp-registry",
            "mcp-feedback",
            "mcp-audit",
            "mcp-state",
            "mcp-suppressions",
        )
    }
    # A daily events index picks up the template's mapping.
    os_client.index(
        index=os_settings.index("mcp-events-2026.11.23"),
        body={"@timestamp": "2026-11-23T10:00:00Z", "destination": {"ip": "10.20.0.5"}},
    )
    mapping = os_client.indices.get_mapping(index=os_settings.index("mcp-events-2026.11.23"))
    props = next(iter(mapping.values()))["mappings"]["properties"]
    assert props["destination"]["properties"]["ip"]["type"] == "ip"
    assert props["mcp"]["properties"]["method"]["properties"]["name"]["type"] == "keyword"


def test_setup_upgrades_a_changed_template(os_settings: Settings, os_client) -> None:
    name = os_settings.index("mcp-state")
    body = indices.load_templates(os_settings.index_prefix)["mcp-state"]
    body["_meta"]["content_hash"] = "outdated"
    os_client.indices.put_index_template(name=name, body=body)
    result = indices.install(os_settings, os_client)
    assert result.installed == [name]


def test_settings_precedence_flags_env_config(tmp_path: Path) -> None:
    config = tmp_path / "mcpeeker.yaml"
    config.write_text("connection:\n  url: https://siem.example:9200\n  index_prefix: cfg-\n  username: from-config\n")
    args = type(
        "Args", (), {"config_file": config, "url": None, "index_prefix": "flag-", "username": None, "verify_tls": None}
    )()
    settings = resolve(args, env={"MCPEEKER_USERNAME": "from-env"})
    assert settings.url == "https://siem.example:9200"
    assert settings.index_prefix == "flag-"
    assert settings.username == "from-env"
    assert settings.verify_tls is True  # TLS verification is on unless explicitly turned off


def test_bad_config_names_file_and_field(tmp_path: Path) -> None:
    config = tmp_path / "mcpeeker.yaml"
    config.write_text("connection:\n  url: ftp://nope\n  verify_tls: maybe\n")
    args = type("Args", (), {"config_file": config})()
    with pytest.raises(ConfigError) as excinfo:
        resolve(args, env={})
    message = str(excinfo.value)
    assert str(config) in message and "connection.url" in message and "connection.verify_tls" in message


def test_yaml_syntax_error_names_line(tmp_path: Path) -> None:
    config = tmp_path / "mcpeeker.yaml"
    config.write_text("connection:\n  url: [unclosed\n")
    with pytest.raises(ConfigError, match=rf"{config}:\d+:\d+: not valid YAML"):
        resolve(type("Args", (), {"config_file": config})(), env={})


def test_every_shipped_config_validates() -> None:
    from mcpeeker.config import CONFIG_DIR, SCHEMA_DIR, load_yaml

    configs = sorted(CONFIG_DIR.glob("*.yaml"))
    assert configs, "no configs shipped"
    for path in configs:
        schema = SCHEMA_DIR / f"{path.stem}.schema.json"
        assert schema.exists(), f"{path} has no schema {schema}"
        load_yaml(path, path.stem)
