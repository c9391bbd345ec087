"""Find Zeek and run it with the MCPeeker package (zeek/scripts) over a pcap.

Used by `mcpeeker replay`, `make demo` and the tests. Offline pcap replay only: `-C` ignores checksums because
the test pcaps are rewritten.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

from mcpeeker import resources
from mcpeeker.errors import MCPeekerError

ZEEK_SCRIPTS = resources.path("zeek/scripts")
# Where the Zeek project's binary (OBS) packages and ../shared/zeek/install.sh put Zeek.
DEFAULT_LOCATION = Path("/opt/zeek/bin/zeek")
# Only a source checkout has ../shared beside it.
_CHECKOUT = resources.checkout()
SHARED_INSTALL = _CHECKOUT.parent / "shared" / "zeek" / "install.sh" if _CHECKOUT else None
# MCPEEKER_ZEEK=none runs without Zeek even where it is installed.
DISABLED = ("none", "off", "no", "0", "false")


class ZeekError(MCPeekerError):
    """Zeek failed on the given input."""


def how_to_get() -> str:
    """One sentence on how to install Zeek here (names ../shared/zeek/install.sh where it exists)."""
    text = (
        "install Zeek >= 6.0 from the Zeek project's binary packages (zeek.org/get-zeek; the OBS packages for "
        "Debian, Ubuntu and Fedora install into /opt/zeek)"
    )
    if SHARED_INSTALL is not None and SHARED_INSTALL.is_file():
        text += ", or here: `bash ../shared/zeek/install.sh` from the repository root"
    return text + "; then put its bin directory on PATH (or set MCPEEKER_ZEEK to the zeek binary)"


def find_zeek() -> Path | None:
    """The zeek binary: $MCPEEKER_ZEEK (a path, or `none` for no Zeek), then PATH, then /opt/zeek/bin/zeek."""
    chosen = os.environ.get("MCPEEKER_ZEEK", "").strip()
    if chosen.lower() in DISABLED:
        return None
    for candidate in (chosen, shutil.which("zeek"), DEFAULT_LOCATION):
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return Path(candidate).absolute()
    return None


def zeek_version(binary: Path) -> str:
    """The version `zeek --version` prints, e.g. 7.0.11."""
    out = subprocess.run([str(binary), "--version"], capture_output=True, text=True, check=False, timeout=60)
    match = re.search(r"version (\S+)", out.stdout + out.stderr)
    if not match:
        raise ZeekError(f"cannot read the version of {binary}: {(out.stdout or out.stderr).strip()!r}")
    return match.group(1)


def run_zeek(
    pcap: Path,
    workdir: Path,
    *,
    binary: Path | None = None,
    json: bool = True,
    scripts: Path = ZEEK_SCRIPTS,
    options: Sequence[str] = (),
    timeout: int = 600,
) -> list[Path]:
    """Run `zeek -C -r PCAP zeek/scripts` in `workdir` (JSON logs unless json=False); return the logs written.

    `options` go before the pcap, e.g. ("-D",) for connection uids that are the same on every run."""
    zeek = binary or find_zeek()
    if zeek is None:
        raise ZeekError(f"zeek not found: {how_to_get()}")
    workdir.mkdir(parents=True, exist_ok=True)
    cmd = [str(zeek), *options, "-C", "-r", str(Path(pcap).resolve()), str(scripts)]
    if json:
        cmd.append("LogAscii::use_json=T")
    proc = subprocess.run(cmd, cwd=workdir, capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        raise ZeekError(f"zeek failed on {pcap} (exit {proc.returncode}): {proc.stderr.strip()[-1500:]}")
    return sorted(workdir.glob("*.log"))
