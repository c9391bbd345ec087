#!/usr/bin/env python3
"""Build the endpoint agent as one self-contained file for MDM (Intune, Jamf, Ansible): a shiv zipapp per platform.

    python scripts/build-agent-zipapp.py [--platform linux-x86_64 ...] [--out-dir dist]   (or: make agent-zipapp)

Each dist/mcpeeker-agent-<platform>.pyz holds mcpeeker_agent, mcpeeker.model and its dependencies (REQUIREMENTS)
as the platform's wheels from the package index, for CPython 3.11, 3.12 and 3.13 side by side (an extension
module's file name carries its Python version, so one file serves all three). It needs only a system Python
>= 3.11: no venv, no pip, nothing installed. dist/mcpeeker-agent.pyz is the build for this machine's platform.
agent/deploy/ has the wrappers that run it from an MDM and ship to the collector.

On first run shiv unpacks the archive once into $SHIV_ROOT (default ~/.shiv; the wrappers point it at a
root-owned directory) and reuses it while the archive is unchanged.
"""

from __future__ import annotations

import argparse
import platform
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
AGENT = REPO / "agent" / "mcpeeker_agent"
# The agent's one import from the SIEM package: mcpeeker.model (instance keys), standard library only. The package
# __init__ is import-light, so the zipapp carries these two and nothing else of mcpeeker (no opensearch-py).
MCPEEKER = REPO / "ingest_python" / "mcpeeker"
# What mcpeeker_agent imports beyond the standard library (tests/wheel/test_agent_zipapp.py runs the result
# on a Python that has neither).
# json-five, tomlkit and ruamel.yaml: `tap install` rewrites JSONC, TOML and YAML configs keeping their comments.
REQUIREMENTS = ("psutil>=5.9", "pyyaml>=6", "json-five>=1.1", "tomlkit>=0.12", "ruamel.yaml>=0.18")
PYTHONS = ("3.11", "3.12", "3.13")
# Platform name -> the wheel platform tag pip selects with (pip also accepts the older tags these imply).
PLATFORMS = {
    "linux-x86_64": "manylinux2014_x86_64",
    "linux-aarch64": "manylinux2014_aarch64",
    "macos-arm64": "macosx_11_0_arm64",
    "macos-x86_64": "macosx_10_13_x86_64",
    "windows-amd64": "win_amd64",
}
# Runs inside the zipapp before the agent: a clear message instead of an ImportError on an old Python.
PREAMBLE = """\
import sys
if sys.version_info < (3, 11):
    sys.exit("mcpeeker-agent needs Python >= 3.11 (this is %s at %s)" % (sys.version.split()[0], sys.executable))
"""


def host_platform() -> str:
    machine = platform.machine().lower()
    arch = {"amd64": "x86_64", "x86_64": "x86_64", "arm64": "arm64", "aarch64": "aarch64"}.get(machine, machine)
    if sys.platform.startswith("linux"):
        return f"linux-{'aarch64' if arch == 'arm64' else arch}"
    if sys.platform == "darwin":
        return f"macos-{'arm64' if arch == 'aarch64' else arch}"
    if sys.platform == "win32":
        return "windows-amd64"
    raise SystemExit(f"no agent zipapp platform for {sysconfig.get_platform()}")


def _pip(*args: str | Path) -> None:
    subprocess.run([sys.executable, "-m", "pip", *map(str, args)], check=True)


def site_packages(name: str, work: Path) -> Path:
    """mcpeeker_agent plus its dependencies' wheels for `name`, for every Python in PYTHONS, in one directory."""
    site = work / "site-packages"
    for version in PYTHONS:
        target = work / f"py{version}"
        _pip(
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "--no-compile",
            "--target",
            target,
            "--only-binary=:all:",
            "--implementation",
            "cp",
            "--python-version",
            version,
            "--platform",
            PLATFORMS[name],
            *REQUIREMENTS,
        )
        # The pure-Python files are the same for every version; the extension modules differ by file name.
        shutil.copytree(target, site, dirs_exist_ok=True, ignore=shutil.ignore_patterns("__pycache__", "bin"))
    shutil.copytree(AGENT, site / "mcpeeker_agent", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    (site / "mcpeeker").mkdir()
    shutil.copyfile(MCPEEKER / "__init__.py", site / "mcpeeker" / "__init__.py")
    shutil.copytree(
        MCPEEKER / "model", site / "mcpeeker" / "model", ignore=shutil.ignore_patterns("__pycache__", "*.pyc")
    )
    return site


def build(name: str, out_dir: Path) -> Path:
    try:
        import shiv  # noqa: F401 - only to say how to get it
    except ImportError:
        raise SystemExit("building the agent zipapp needs shiv: pip install 'mcpeeker[dev]' (or pip install shiv)")
    out = out_dir / f"mcpeeker-agent-{name}.pyz"
    with tempfile.TemporaryDirectory(prefix="mcpeeker-zipapp-") as tmp:
        work = Path(tmp)
        site = site_packages(name, work)
        preamble = work / "preamble.py"
        preamble.write_text(PREAMBLE)
        out_dir.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [
                sys.executable,
                "-m",
                "shiv",
                "--site-packages",
                site,
                "--entry-point",
                "mcpeeker_agent.cli:main",
                "--output-file",
                out,
                "--python",
                "/usr/bin/env python3",
                "--preamble",
                preamble,
                "--reproducible",
                "--compressed",
            ],
            check=True,
            stdout=subprocess.DEVNULL,
        )
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--platform",
        action="append",
        choices=sorted(PLATFORMS),
        help="platform(s) to build (repeatable; default: every one)",
    )
    parser.add_argument("--out-dir", type=Path, default=REPO / "dist")
    args = parser.parse_args(argv)
    host = host_platform()
    for name in args.platform or sorted(PLATFORMS):
        started = time.monotonic()
        out = build(name, args.out_dir)
        print(f"{out}: {out.stat().st_size / 1e6:.2f} MB in {time.monotonic() - started:.0f} s")
        if name == host:
            mine = args.out_dir / "mcpeeker-agent.pyz"
            shutil.copyfile(out, mine)
            mine.chmod(0o755)
            print(f"{mine}: the {name} build (this machine's platform)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
