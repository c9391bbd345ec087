#!/usr/bin/env python3
"""Sizes of what a site installs, and the agent artefact's scan time on the system Python.

    .venv/bin/python bench/artefacts.py [--runs 10] [--no-wheel]

Builds the wheel (`pip wheel --no-deps .`, with the compiled ingest hot path) and this machine's agent zipapp
(scripts/build-agent-zipapp.py) into a temporary directory, prints their sizes, the wheel's package-data share,
then runs `/usr/bin/python3 mcpeeker-agent.pyz scan` (no venv): the first run (shiv unpacks the archive) and
the median and max of --runs later runs, wall time of the whole process, plus the scan's own duration_ms and
cpu_ms from the report. The scan covers this machine as an MDM run would: every home (--all-users), processes
and listening sockets, no state file.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SYSTEM_PYTHON = "/usr/bin/python3"


def _build_module():
    spec = importlib.util.spec_from_file_location("build_agent_zipapp", REPO / "scripts" / "build-agent-zipapp.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def source_copy(dest: Path) -> Path:
    """The files a clone has (tracked and new, not ignored): no build/ of an earlier in-tree build, as in
    tests/wheel/conftest.py."""
    listed = (
        subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=REPO,
            capture_output=True,
            check=True,
        )
        .stdout.decode()
        .split("\0")
    )
    for name in filter(None, listed):
        if (REPO / name).is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, dest / name)
    return dest


def wheel(out: Path) -> None:
    source = source_copy(out.parent / "source")
    started = time.monotonic()
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(out), str(source)], check=True
    )
    built = next(out.glob("mcpeeker-*.whl"))
    with zipfile.ZipFile(built) as whl:
        infos = whl.infolist()
    data = [i for i in infos if i.filename.startswith("mcpeeker/_data/")]
    native = [i for i in infos if i.filename.endswith(".so")]
    print(
        f"wheel {built.name}: {built.stat().st_size / 1e6:.2f} MB, {len(infos)} files "
        f"(built in {time.monotonic() - started:.0f} s)"
    )
    print(
        f"  package data mcpeeker/_data: {len(data)} files, {sum(i.compress_size for i in data) / 1e3:.0f} kB compressed, "
        f"{sum(i.file_size for i in data) / 1e3:.0f} kB unpacked"
    )
    print(f"  compiled modules: {len(native)} files, {sum(i.compress_size for i in native) / 1e6:.2f} MB compressed")


def agent(out: Path, runs: int) -> None:
    build = _build_module()
    started = time.monotonic()
    subprocess.run(
        [
            sys.executable,
            str(REPO / "scripts" / "build-agent-zipapp.py"),
            "--platform",
            build.host_platform(),
            "--out-dir",
            str(out),
        ],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    pyz = out / "mcpeeker-agent.pyz"
    print(
        f"agent zipapp {build.host_platform()}: {pyz.stat().st_size / 1e6:.2f} MB "
        f"(built in {time.monotonic() - started:.0f} s)"
    )
    key = out / "site.key"
    key.write_text(secrets.token_hex(32) + "\n")
    key.chmod(0o600)
    env = {"PATH": "/usr/bin:/bin", "SHIV_ROOT": str(out / "shiv"), "HOME": str(Path.home())}
    helptext = subprocess.run(
        [SYSTEM_PYTHON, str(pyz), "scan", "--help"], capture_output=True, text=True, env=env
    ).stdout
    key_args = (
        ["--site-key-file", str(key)] if "--site-key-file" in helptext else ["--site-key", key.read_text().strip()]
    )
    cmd = [SYSTEM_PYTHON, str(pyz), "scan", "--all-users", "--no-state", *key_args]
    # The help run above unpacked the archive: remove it, so the first timed run pays for unpacking.
    shutil.rmtree(out / "shiv")
    walls, durations, cpus = [], [], []
    for i in range(runs + 1):
        t0 = time.monotonic()
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, check=True)
        wall = time.monotonic() - t0
        report = json.loads(proc.stdout)
        if i == 0:
            print(
                f"  first run (unpacks into SHIV_ROOT): {wall * 1000:.0f} ms wall, scan {report['duration_ms']:.0f} ms, "
                f"{len(report['evidence'])} evidence"
            )
            continue
        walls.append(wall * 1000)
        durations.append(report["duration_ms"])
        cpus.append(report["cpu_ms"])
    print(
        f"  later runs (n={runs}): wall median {statistics.median(walls):.0f} ms, max {max(walls):.0f} ms; "
        f"scan duration_ms median {statistics.median(durations):.0f}, cpu_ms median {statistics.median(cpus):.0f}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--no-wheel", action="store_true", help="skip the wheel build (about a minute)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="mcpeeker-artefacts-") as tmp:
        if not args.no_wheel:
            wheel(Path(tmp) / "wheel")
        agent(Path(tmp) / "agent", args.runs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
