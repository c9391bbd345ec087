"""Run Suricata 7 over pcaps with MCPeeker rules and return the eve.json it wrote.

Used by the tests, `mcpeeker replay` and bench/. Offline pcap replay only:
checksums are ignored (`-k none`) because the test pcaps are rewritten.
"""

from __future__ import annotations

import gzip
import os
import re
import shutil
import subprocess
import tempfile
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import orjson

from mcpeeker import resources
from mcpeeker.errors import MCPeekerError

DEFAULT_CONFIG = resources.path("suricata/suricata-test.yaml")
DEFAULT_RULES = resources.path("suricata/mcp.rules")
# Public remote MCP services (issue 18): the dataset rules over DNS, TLS SNI and CONNECT (suricata/mcp-remote.rules).
REMOTE_RULES = resources.path("suricata/mcp-remote.rules")
DATASET_LOAD = re.compile(r"\bload\s+([A-Za-z0-9_.-]+)\s*[;,]")
# SID block reserved for MCPeeker rules (see suricata/README.md).
SID_MIN, SID_MAX = 9_400_000, 9_400_999
MIN_MAJOR = 7

_PCAP_SUFFIXES = (".pcap", ".pcapng", ".cap", ".pcap.gz", ".pcapng.gz")


class SuricataError(MCPeekerError):
    """Suricata is missing, too old, or failed on the given input."""


def find_suricata(binary: str | os.PathLike[str] | None = None) -> Path:
    """Locate the suricata binary: explicit path, $MCPEEKER_SURICATA, then PATH."""
    candidate = binary or os.environ.get("MCPEEKER_SURICATA") or shutil.which("suricata")
    if not candidate:
        raise SuricataError(
            "suricata binary not found on PATH (set MCPEEKER_SURICATA or run "
            "scripts/install-suricata.sh to install Suricata 7 from bookworm-backports)"
        )
    path = Path(candidate)
    if not path.is_file() or not os.access(path, os.X_OK):
        raise SuricataError(f"suricata binary {path} does not exist or is not executable")
    return path


def suricata_version(binary: Path) -> tuple[int, ...]:
    """Return the version tuple printed by `suricata -V`."""
    out = subprocess.run([str(binary), "-V"], capture_output=True, text=True, check=False)
    match = re.search(r"version (\d+(?:\.\d+)*)", out.stdout + out.stderr)
    if not match:
        raise SuricataError(f"cannot read the version of {binary}: {out.stdout or out.stderr!r}")
    return tuple(int(p) for p in match.group(1).split("."))


def _require_v7(binary: Path) -> None:
    version = suricata_version(binary)
    if version[0] < MIN_MAJOR:
        raise SuricataError(f"{binary} is Suricata {'.'.join(map(str, version))}; MCPeeker rules need >= 7.0")


def _is_pcap_name(path: Path) -> bool:
    return path.name.lower().endswith(_PCAP_SUFFIXES)


def _iter_pcaps(pcaps: Path | Sequence[Path]) -> Iterator[Path]:
    items = [pcaps] if isinstance(pcaps, (str, os.PathLike)) else list(pcaps)
    for item in map(Path, items):
        if item.is_dir():
            yield from sorted(p for p in item.rglob("*") if p.is_file() and _is_pcap_name(p))
        elif item.is_file():
            yield item
        else:
            raise SuricataError(f"pcap {item} does not exist")


def _stage_pcaps(pcaps: Iterable[Path], stage: Path) -> int:
    """Link (or gunzip) every pcap into one flat directory for a single `-r <dir>` run."""
    count = 0
    for index, pcap in enumerate(pcaps):
        # Index prefix keeps names unique when two directories hold the same file name.
        if pcap.name.lower().endswith(".gz"):
            target = stage / f"{index:05d}_{pcap.name[:-3]}"
            with gzip.open(pcap, "rb") as src, target.open("wb") as dst:
                shutil.copyfileobj(src, dst)
        else:
            # Suricata's directory reader skips symlinks, and a hard link would share the original's mtime.
            target = stage / f"{index:05d}_{pcap.name}"
            shutil.copyfile(pcap, target)
        # Suricata reads a directory in modification-time order: make that the order we were given.
        os.utime(target, (1_000_000_000 + index, 1_000_000_000 + index))
        count += 1
    return count


def _rules_file(rules: Path | Sequence[Path] | None, outdir: Path) -> Path:
    """Suricata takes one -S file; concatenate several, or use an empty file for None."""
    if rules is None:
        empty = outdir / "empty.rules"
        empty.write_text("")
        return empty
    if isinstance(rules, (str, os.PathLike)):
        path = Path(rules)
        if not path.is_file():
            raise SuricataError(f"rule file {path} does not exist")
        return path.resolve()
    merged = outdir / "merged.rules"
    with merged.open("w") as out:
        for rule_path in map(Path, rules):
            if not rule_path.is_file():
                raise SuricataError(f"rule file {rule_path} does not exist")
            text = rule_path.read_text()
            out.write(text)
            out.write("\n")
            # Suricata reads a dataset's relative `load` file beside the rule file: the merged file's directory.
            for name in sorted(set(DATASET_LOAD.findall(text))):
                source = rule_path.parent / name
                if not source.is_file():
                    raise SuricataError(f"{rule_path}: dataset file {name} not found beside the rule file")
                shutil.copyfile(source, outdir / name)
    return merged


def _log_tail(outdir: Path, lines: int = 15) -> str:
    log = outdir / "suricata.log"
    if not log.exists():
        return ""
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])


def run_suricata(
    pcaps: Path | Sequence[Path],
    rules: Path | Sequence[Path] | None,
    outdir: Path,
    *,
    config: Path | None = None,
    runmode: str = "single",
    binary: str | os.PathLike[str] | None = None,
    extra_args: Sequence[str] = (),
) -> Path:
    """Run Suricata over `pcaps` (a file, a directory or a list) and return eve.json.

    A single pcap file is read directly; anything else is staged into one
    directory so one Suricata process handles all of it (`-r <dir>`).
    """
    exe = find_suricata(binary)
    _require_v7(exe)
    cfg = Path(config) if config else DEFAULT_CONFIG
    if not cfg.is_file():
        raise SuricataError(f"suricata config {cfg} does not exist")
    if runmode not in ("single", "autofp"):
        raise SuricataError(f"runmode must be 'single' or 'autofp', not {runmode!r}")
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    for stale in ("eve.json", "suricata.log"):
        (outdir / stale).unlink(missing_ok=True)
    rule_file = _rules_file(rules, outdir)

    with tempfile.TemporaryDirectory(prefix="mcpeeker-pcaps-") as tmp:
        single = Path(pcaps) if isinstance(pcaps, (str, os.PathLike)) else None
        if single is not None and single.is_file() and not str(pcaps).lower().endswith(".gz"):
            source = single.resolve()
        else:
            source = Path(tmp)
            if _stage_pcaps(_iter_pcaps(pcaps), source) == 0:
                raise SuricataError(f"no pcap files found in {pcaps}")
        cmd = [
            str(exe),
            "-c",
            str(cfg),
            "-S",
            str(rule_file),
            "-r",
            str(source),
            "-l",
            str(outdir),
            "-k",
            "none",
            "--runmode",
            runmode,
            # Keep the host's suricata.yaml rule/threshold settings out of the run.
            "--set",
            "threshold-file=/dev/null",
            *extra_args,
        ]
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise SuricataError(
            f"suricata failed (exit {proc.returncode}) on {pcaps}: {proc.stderr.strip()[-2000:]}\n{_log_tail(outdir)}"
        )
    eve = outdir / "eve.json"
    if not eve.exists():
        raise SuricataError(f"suricata wrote no eve.json in {outdir}: {_log_tail(outdir)}")
    return eve


def check_rules(
    rules: Path,
    outdir: Path,
    *,
    config: Path | None = None,
    binary: str | os.PathLike[str] | None = None,
) -> tuple[int, str]:
    """Load `rules` with `suricata -T`; return (exit code, suricata.log text)."""
    exe = find_suricata(binary)
    cfg = Path(config) if config else DEFAULT_CONFIG
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    (outdir / "suricata.log").unlink(missing_ok=True)
    proc = subprocess.run(
        [
            str(exe),
            "-T",
            "-c",
            str(cfg),
            "-S",
            str(rules),
            "-l",
            str(outdir),
            "-k",
            "none",
            "--set",
            "threshold-file=/dev/null",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    log = (outdir / "suricata.log").read_text(errors="replace") if (outdir / "suricata.log").exists() else ""
    return proc.returncode, log + proc.stderr


def read_eve(eve: Path, event_type: str | None = None) -> Iterator[dict[str, Any]]:
    """Yield eve.json records (optionally only one event_type); a bad line names file and line."""
    with Path(eve).open("rb") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                record = orjson.loads(line)
            except orjson.JSONDecodeError as exc:
                raise SuricataError(f"{eve}:{lineno}: invalid JSON in eve.json: {exc}") from exc
            if event_type is None or record.get("event_type") == event_type:
                yield record


def alert_sid_counts(eve: Path, sid_min: int = SID_MIN, sid_max: int = SID_MAX) -> Counter[int]:
    """Count alerts per signature id inside the MCPeeker SID block."""
    counts: Counter[int] = Counter()
    for record in read_eve(eve, "alert"):
        sid = int(record["alert"]["signature_id"])
        if sid_min <= sid <= sid_max:
            counts[sid] += 1
    return counts
