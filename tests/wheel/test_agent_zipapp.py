"""The MDM artefact: the agent zipapp (scripts/build-agent-zipapp.py) runs on the system Python alone, and the
Linux/macOS wrapper (agent/deploy/unix) ships its report through a real collector into the real node."""

from __future__ import annotations

import json
import secrets
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import jsonschema
import pytest
import yaml

from paths import REPO_ROOT

from .conftest import clean_env, run

pytestmark = [pytest.mark.slow]

SYSTEM_PYTHON = Path("/usr/bin/python3")
BUILD = REPO_ROOT / "scripts" / "build-agent-zipapp.py"
WRAPPER = REPO_ROOT / "agent" / "deploy" / "unix" / "mcpeeker-agent-scan.sh"
SCHEMA = json.loads((REPO_ROOT / "schemas" / "agent-event.schema.json").read_text())


def _system_python() -> Path:
    if not SYSTEM_PYTHON.is_file():
        pytest.skip(f"{SYSTEM_PYTHON} not present: the artefact test needs the distribution's own Python")
    proc = subprocess.run(
        [SYSTEM_PYTHON, "-c", "import sys; print(sys.version_info >= (3, 11))"], capture_output=True, text=True
    )
    if proc.stdout.strip() != "True":
        pytest.skip(f"{SYSTEM_PYTHON} is older than 3.11, the agent's minimum")
    return SYSTEM_PYTHON


@pytest.fixture(scope="module")
def zipapp(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The artefact for this machine, built as `make agent-zipapp` builds it."""
    sys.path.insert(0, str(BUILD.parent))
    try:
        import importlib

        host = importlib.import_module("build-agent-zipapp").host_platform()
    finally:
        sys.path.remove(str(BUILD.parent))
    out = tmp_path_factory.mktemp("dist")
    run([sys.executable, BUILD, "--platform", host, "--out-dir", out], out, clean_env(), timeout=900)
    return out / "mcpeeker-agent.pyz"


def _home(tmp: Path) -> Path:
    config = tmp / "home" / "alice" / ".config" / "Claude" / "claude_desktop_config.json"
    config.parent.mkdir(parents=True)
    config.write_text(
        json.dumps(
            {
                "mcpServers": {
                    "files": {"command": "npx", "args": ["-y", "@modelcontextprotocol/server-filesystem", "/srv"]}
                }
            }
        )
    )
    return tmp


def _key_file(path: Path, secret: str | None = None) -> Path:
    path.write_text((secret or secrets.token_hex(32)) + "\n")
    path.chmod(0o600)
    return path


def _key_args(python: Path, pyz: Path, env: dict[str, str], key: Path, cwd: Path) -> list[str]:
    helptext = run([python, pyz, "scan", "--help"], cwd, env).stdout
    return ["--site-key-file", str(key)] if "--site-key-file" in helptext else ["--site-key", key.read_text().strip()]


def test_zipapp_scans_with_only_the_system_python(zipapp: Path, tmp_path: Path) -> None:
    python = _system_python()
    env = clean_env(SHIV_ROOT=str(tmp_path / "shiv"), HOME=str(tmp_path))
    # -I -S: no user or distribution site-packages, so psutil and PyYAML can only come from the artefact.
    probe = subprocess.run([python, "-I", "-S", "-c", "import psutil"], capture_output=True, env=env)
    assert probe.returncode != 0, "the system Python has psutil without site-packages: the test would prove nothing"
    root = _home(tmp_path / "fixture")
    key = _key_file(tmp_path / "site.key")
    proc = run(
        [
            python,
            "-I",
            "-S",
            zipapp,
            "scan",
            "--root",
            root,
            "--all-users",
            "--os",
            "linux",
            "--no-state",
            *_key_args(python, zipapp, env, key, tmp_path),
        ],
        tmp_path,
        env,
    )
    report = json.loads(proc.stdout)
    jsonschema.Draft202012Validator(SCHEMA, format_checker=jsonschema.FormatChecker()).validate(report)
    assert report["host"]["os"] == "linux"
    assert {(e["config"]["client"], e["config"]["server_name"]) for e in report["evidence"] if e["type"] == "file"} == {
        ("claude_desktop", "files")
    }, report["evidence"]
    # The process and listener scans ran through the bundled psutil (the import would fail without it).
    assert isinstance(report["host"]["listening_ports"], list) and report["cpu_ms"] > 0, report["host"]


def test_zipapp_taps_jsonc_toml_and_yaml_configs(zipapp: Path, tmp_path: Path) -> None:
    """`tap install` keeps comments through json-five, tomlkit and ruamel.yaml: the artefact must carry them."""
    python = _system_python()
    env = clean_env(SHIV_ROOT=str(tmp_path / "shiv"), HOME=str(tmp_path))
    home = tmp_path / "home" / "alice"
    files = {
        home / ".cursor" / "mcp.json": '{\n  // mine\n  "mcpServers": {"a": {"command": "npx", "args": ["x"],},},\n}\n',
        home / ".codex" / "config.toml": '[mcp_servers.b]  # mine\ncommand = "b-mcp"\n',
        home / ".config" / "goose" / "config.yaml": "extensions:\n  c:  # mine\n    cmd: c-mcp\n    args: []\n",
    }
    for path, text in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    proc = run(
        [python, "-I", "-S", zipapp, "tap", "install", "--all", "--home", home, "--root", tmp_path, "--os", "linux"],
        tmp_path,
        env,
    )
    assert {line.split("\t")[0] for line in proc.stdout.splitlines() if "\twrapped\t" in line} == {
        "cursor",
        "codex",
        "goose",
    }, proc.stdout
    for path in files:
        assert "mine" in path.read_text() and "tap" in path.read_text()
    # The wrapped command must start this artefact, not `python -m mcpeeker_agent.cli` (not importable outside the
    # archive): run the Goose entry's tap prefix, as the client would, around a program of our own.
    goose = (home / ".config" / "goose" / "config.yaml").read_text()
    entry = yaml.safe_load(goose)["extensions"]["c"]
    argv = [entry["cmd"], *entry["args"]]
    assert argv[:2] == [str(python), str(zipapp)] and argv[-1] == "c-mcp", argv
    prefix = argv[: argv.index("--") + 1]
    relayed = subprocess.run([*prefix, "/bin/echo", "relayed"], capture_output=True, text=True, env=env, timeout=60)
    assert relayed.returncode == 0 and relayed.stdout == "relayed\n", relayed
    run(
        [python, "-I", "-S", zipapp, "tap", "uninstall", "--all", "--home", home, "--root", tmp_path, "--os", "linux"],
        tmp_path,
        env,
    )
    assert {path: path.read_text() for path in files} == files


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.opensearch
def test_unix_wrapper_ships_through_the_collector(zipapp: Path, tmp_path: Path, os_settings, os_client) -> None:
    """agent/deploy/unix/mcpeeker-agent-scan.sh as Ansible or Jamf runs it: the zipapp on the system Python,
    an enrollment token, the site key file, the collector's CA; the report lands in the cluster."""
    pytest.importorskip("mcpeeker.collect.server", reason="the collector (mcpeeker collect) is not in this checkout")
    from collect.pki import make_pki

    python = _system_python()
    pki = make_pki(tmp_path / "pki")
    mcpeeker = [sys.executable, "-m", "mcpeeker.cli"]
    tokens = tmp_path / "tokens.json"
    token_file = tmp_path / "token"
    run(
        [*mcpeeker, "collect", "token", "issue", "--agent", "wrapper-test", "--tokens", tokens, "--output", token_file],
        tmp_path,
        clean_env(),
    )
    port = _free_port()
    log = open(tmp_path / "collector.log", "w")
    collector = subprocess.Popen(
        [
            *mcpeeker,
            "collect",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--cert",
            pki.server_cert,
            "--key",
            pki.server_key,
            "--tokens",
            tokens,
            "--spool-dir",
            tmp_path / "collector-spool",
            "--dead-letter",
            tmp_path / "collector-dead.log",
            "--url",
            os_settings.url,
            "--index-prefix",
            os_settings.index_prefix,
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=clean_env(MCPEEKER_SITE_KEY=os_settings.site_key),
    )
    try:
        context = ssl.create_default_context(cafile=str(pki.ca))
        deadline = time.monotonic() + 60
        while True:
            assert collector.poll() is None, (tmp_path / "collector.log").read_text()
            try:
                with urllib.request.urlopen(f"https://127.0.0.1:{port}/healthz", timeout=5, context=context) as r:
                    if r.status == 200:
                        break
            except (OSError, urllib.error.URLError):
                assert time.monotonic() < deadline, (tmp_path / "collector.log").read_text()
                time.sleep(0.2)
        state = tmp_path / "state"
        env = clean_env(
            MCPEEKER_COLLECTOR_URL=f"https://127.0.0.1:{port}",
            MCPEEKER_TOKEN_FILE=str(token_file),
            MCPEEKER_SITE_KEY_FILE=str(_key_file(tmp_path / "site.key", os_settings.site_key)),
            MCPEEKER_CA_CERTS=str(pki.ca),
            MCPEEKER_AGENT_PYZ=str(zipapp),
            MCPEEKER_PYTHON=str(python),
            MCPEEKER_STATE_DIR=str(state),
            MCPEEKER_AGENT_ENV=str(tmp_path / "no-such.env"),
            HOME=str(tmp_path),
        )
        root = _home(tmp_path / "fixture")
        proc = run(
            ["/bin/sh", WRAPPER, "--root", root, "--os", "linux", "--no-processes", "--no-listeners"], tmp_path, env
        )
        assert not any((state / "outbox").glob("*.json")), f"reports left in the outbox: {proc.stderr}"
        assert (state / "shiv").is_dir(), "the wrapper must unpack the zipapp under its state directory"
        index = os_settings.index("mcp-events-*")
        deadline = time.monotonic() + 30
        while True:
            os_client.indices.refresh(index=index, ignore_unavailable=True)
            hits = os_client.search(
                index=index, body={"size": 100, "query": {"term": {"event.module": "agent"}}}, ignore_unavailable=True
            )["hits"]["hits"]
            if hits or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        assert any("files" in json.dumps(h["_source"]) for h in hits), (hits, (tmp_path / "collector.log").read_text())
    finally:
        collector.terminate()
        try:
            collector.wait(timeout=30)
        except subprocess.TimeoutExpired:
            collector.kill()
            collector.wait()
        log.close()


def test_wrapper_names_what_is_missing(tmp_path: Path) -> None:
    env = clean_env(MCPEEKER_AGENT_ENV=str(tmp_path / "no-such.env"), MCPEEKER_STATE_DIR=str(tmp_path / "state"))
    proc = run(["/bin/sh", WRAPPER], tmp_path, env, check=False)
    assert proc.returncode == 2 and "MCPEEKER_COLLECTOR_URL is not set" in proc.stderr, proc.stderr
    env["MCPEEKER_COLLECTOR_URL"] = "https://collector.invalid:8443"
    env["MCPEEKER_TOKEN_FILE"] = str(tmp_path / "absent-token")
    proc = run(["/bin/sh", WRAPPER], tmp_path, env, check=False)
    assert proc.returncode == 2 and "absent-token: enrollment token file missing" in proc.stderr, proc.stderr
