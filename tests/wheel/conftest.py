"""Fixtures of the packaging tests: the wheel built once per session, and venvs outside the checkout."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

import pytest

from paths import REPO_ROOT


def clean_env(**extra: str) -> dict[str, str]:
    """os.environ without the checkout's venv, PYTHONPATH or any MCPEEKER_* setting: what a new user has."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("MCPEEKER_") and k not in {"PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME"}
    }
    env.update(extra)
    return env


def run(
    cmd: list[str], cwd: Path, env: dict[str, str], timeout: float = 600, check: bool = True
) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([str(c) for c in cmd], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    if check and proc.returncode != 0:
        pytest.fail(
            f"{' '.join(map(str, cmd))} exited {proc.returncode}\nstdout: {proc.stdout[-3000:]}\n"
            f"stderr: {proc.stderr[-3000:]}",
            pytrace=False,
        )
    return proc


def source_copy(dest: Path) -> Path:
    """The checkout's files as a clone has them (tracked and new, not ignored): no build/ left over from an earlier
    in-tree build, no compiled modules, no .venv. Working-tree edits are included."""
    listed = (
        subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=REPO_ROOT,
            capture_output=True,
            check=True,
        )
        .stdout.decode()
        .split("\0")
    )
    for name in filter(None, listed):
        source = REPO_ROOT / name
        if source.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / name)
    return dest


@pytest.fixture(scope="session")
def wheel_source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return source_copy(tmp_path_factory.mktemp("source"))


@pytest.fixture(scope="session")
def built_wheel(tmp_path_factory: pytest.TempPathFactory, wheel_source: Path) -> Path:
    """`pip wheel --no-deps` of a clean copy of the checkout: the artefact a site installs (compiles the ingest hot
    path)."""
    out = tmp_path_factory.mktemp("wheelhouse")
    source = wheel_source
    run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", out, source],
        cwd=out,
        env=clean_env(),
        timeout=1200,
    )
    wheels = sorted(out.glob("mcpeeker-*.whl"))
    assert len(wheels) == 1, wheels
    return wheels[0]


def make_venv(path: Path) -> Path:
    """A fresh venv (pip included, no system site-packages); returns its bin directory."""
    venv.EnvBuilder(with_pip=True, clear=True).create(path)
    return path / "bin"
