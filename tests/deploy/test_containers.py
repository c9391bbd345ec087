"""Build the container images in containers/ with a daemonless builder and run them.

buildah (Debian's package) builds with vfs storage and chroot isolation, so neither a daemon nor overlayfs nor user
namespaces are needed. The public registry is not reachable from the build machines, so the base image is a Debian 12
made here with debootstrap (from the host's own apt mirror), unless MCPEEKER_CONTAINER_BASE names one; the sensor's
Zeek comes from an image made of the Zeek 7.0 build in ../shared/zeek. The public defaults of the Dockerfiles'
BASE_IMAGE and ZEEK_IMAGE are therefore not exercised here.

Without buildah (or debootstrap, when no base is given) the tests skip with the reason; under CI they fail.
Slow: each image takes minutes (apt and pip inside the build). Run: pytest tests/deploy/test_containers.py
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import uuid
from collections import Counter
from pathlib import Path
from typing import Iterator

import pytest

from mcpeeker.client import make_client
from mcpeeker.settings import Settings
from paths import LABELS, PCAP_DIR, REPO_ROOT, SHARED, missing, require_shared
from cluster import drop_prefix

pytestmark = pytest.mark.slow

BASE_TAG = "localhost/mcpeeker-base:bookworm"
ZEEK_TAG = "localhost/mcpeeker-zeek:7.0"
CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")  # handed to pip as a build secret (TLS-inspecting proxies)


@pytest.fixture(scope="module")
def buildah() -> list[str]:
    tool = shutil.which("buildah")
    if tool is None:
        missing(
            "no daemonless container builder: `apt-get install buildah debootstrap` (Debian 12) to build "
            "containers/*/Dockerfile"
        )
    return [tool, "--storage-driver", "vfs"]


def _run(argv: list[str], timeout: float = 1800, **kw) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL, **kw)
    assert result.returncode == 0, (
        f"{' '.join(argv[:6])} … (rc {result.returncode}):\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    )
    return result


def _image_exists(buildah: list[str], tag: str) -> bool:
    return subprocess.run([*buildah, "inspect", "--type", "image", tag], capture_output=True).returncode == 0


def _debian_mirror() -> str:
    """The host's own bookworm mirror (as scripts/install-suricata.sh finds it), so none is written down here."""
    sources = Path("/etc/apt/sources.list.d/debian.sources")
    if sources.exists():
        for stanza in sources.read_text().split("\n\n"):
            if re.search(r"^Suites:.*\bbookworm\b(?!-)", stanza, re.M):
                uri = re.search(r"^URIs:\s*(\S+)", stanza, re.M)
                if uri:
                    return uri.group(1)
    legacy = Path("/etc/apt/sources.list")
    if legacy.exists():
        match = re.search(r"^deb\s+(\S+)\s+bookworm\s", legacy.read_text(), re.M)
        if match:
            return match.group(1)
    pytest.fail("no bookworm mirror in /etc/apt/sources.list.d/debian.sources or /etc/apt/sources.list")


@pytest.fixture(scope="module")
def base_image(buildah: list[str], tmp_path_factory: pytest.TempPathFactory) -> str:
    """MCPEEKER_CONTAINER_BASE, or a Debian 12 minbase made with debootstrap once and kept in local storage."""
    if os.environ.get("MCPEEKER_CONTAINER_BASE"):
        return os.environ["MCPEEKER_CONTAINER_BASE"]
    if _image_exists(buildah, BASE_TAG):
        return BASE_TAG
    debootstrap = shutil.which("debootstrap")
    if debootstrap is None:
        missing("debootstrap not found (`apt-get install debootstrap`): it makes the Debian 12 base image locally")
    rootfs = tmp_path_factory.mktemp("base") / "rootfs"
    _run([debootstrap, "--variant=minbase", "bookworm", str(rootfs), _debian_mirror()])
    container = _run([*buildah, "from", "scratch"]).stdout.strip()
    try:
        mount = _run([*buildah, "mount", container]).stdout.strip()
        _run(["cp", "-a", f"{rootfs}/.", mount])
        _run([*buildah, "commit", container, BASE_TAG])
    finally:
        subprocess.run([*buildah, "rm", container], capture_output=True)
        shutil.rmtree(rootfs, ignore_errors=True)
    return BASE_TAG


def _image_id(buildah: list[str], tag: str) -> str | None:
    result = subprocess.run(
        [*buildah, "inspect", "--type", "image", "--format", "{{.FromImageID}}", tag], capture_output=True, text=True
    )
    return result.stdout.strip() or None if result.returncode == 0 else None


def _build(buildah: list[str], tag: str, argv: list[str]) -> None:
    """buildah bud, then drop what a rebuild leaves behind: the image the tag named before, and the working
    containers of FROM ... AS stages (buildah 1.28 keeps those of stages used only by COPY --from)."""
    before = _image_id(buildah, tag)
    stages = set(_run([*buildah, "containers", "-q"]).stdout.split())
    try:
        _run([*buildah, "bud", "--isolation", "chroot", "--layers=false", "-t", tag, *argv])
    finally:
        for container in set(_run([*buildah, "containers", "-q"]).stdout.split()) - stages:
            subprocess.run([*buildah, "rm", container], capture_output=True)
    if before and before != _image_id(buildah, tag):
        subprocess.run([*buildah, "rmi", before], capture_output=True)  # fails harmlessly while still in use


def _bud(buildah: list[str], dockerfile: str, tag: str, *build_args: str) -> None:
    argv = ["-f", dockerfile]
    if CA_BUNDLE.exists():
        argv += ["--secret", f"id=ca-bundle,src={CA_BUNDLE}"]
    for arg in build_args:
        argv += ["--build-arg", arg]
    _build(buildah, tag, [*argv, str(REPO_ROOT)])


def _container(buildah: list[str], image: str) -> Iterator[str]:
    container = _run([*buildah, "from", image]).stdout.strip()
    try:
        yield container
    finally:
        subprocess.run([*buildah, "rm", container], capture_output=True)


def _in(buildah: list[str], container: str, *argv: str, volume: str | None = None) -> subprocess.CompletedProcess[str]:
    opts = ["--isolation", "chroot"] + (["--volume", volume] if volume else [])
    result = _run([*buildah, "run", *opts, container, "--", *argv], timeout=300)
    if not result.stdout and not result.stderr:
        # Seen once under load: buildah 1.28 (chroot) exited 0 and relayed no output of a short-lived process.
        result = _run([*buildah, "run", *opts, container, "--", *argv], timeout=300)
    return result


@pytest.fixture(scope="module")
def siem(buildah: list[str], base_image: str) -> Iterator[str]:
    tag = "localhost/mcpeeker-siem:test"
    _bud(buildah, "containers/siem/Dockerfile", tag, f"BASE_IMAGE={base_image}")
    yield from _container(buildah, tag)


@pytest.fixture(scope="module")
def sensor(buildah: list[str], base_image: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    tarball = next(iter(sorted(require_shared(SHARED / "zeek", "the Zeek 7.0 build").glob("zeek-*.tar.xz"))), None)
    assert tarball, f"no zeek-*.tar.xz in {SHARED / 'zeek'}"
    context = tmp_path_factory.mktemp("zeek")
    shutil.copyfile(tarball, context / "zeek.tar.xz")
    # The Zeek project's Debian 12 build lives in /opt/zeek; ADD unpacks the tarball at /.
    (context / "Containerfile").write_text(f"FROM {base_image}\nADD zeek.tar.xz /\n")
    _build(buildah, ZEEK_TAG, [str(context)])
    tag = "localhost/mcpeeker-sensor:test"
    _bud(
        buildah,
        "containers/sensor/Dockerfile",
        tag,
        f"BASE_IMAGE={base_image}",
        f"ZEEK_IMAGE={ZEEK_TAG}",
        "ZEEK_PREFIX=/opt/zeek",
    )
    yield from _container(buildah, tag)


def test_siem_image_runs_mcpeeker(buildah: list[str], siem: str) -> None:
    out = _in(buildah, siem, "mcpeeker", "--help").stdout
    assert "MCPeeker SIEM side" in out and "correlate" in out and "ingest" in out
    assert "mcpeeker-agent" in _in(buildah, siem, "mcpeeker-agent", "--help").stdout
    # It runs as the unprivileged user, and the wheel's hot path was compiled in the build stage.
    assert _in(buildah, siem, "id", "-un").stdout.strip() == "mcpeeker"
    native = _in(
        buildah,
        siem,
        "python3",
        "-c",
        "import mcpeeker.ingest.pipeline as p, mcpeeker.ingest._tables as t; print(p.__file__); print(t.__file__)",
    )
    assert all(line.endswith(".so") for line in native.stdout.split()), native.stdout
    # No compiler or headers are left in the runtime image.
    assert (
        subprocess.run(
            [*buildah, "run", "--isolation", "chroot", siem, "--", "sh", "-c", "command -v gcc"], capture_output=True
        ).returncode
        != 0
    )


PCAP = "attack_command_injection_py2026.pcap"  # labelled in tests/pcaps/labels.json


@pytest.fixture(scope="module")
def sensor_output(buildah: list[str], sensor: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Zeek (site policy, which loads the MCPeeker package) and Suricata (its configured rule files, mcp.rules
    among them) run inside the sensor image over a real SDK-generated pcap."""
    work = tmp_path_factory.mktemp("sensor")
    shutil.copyfile(PCAP_DIR / PCAP, work / "in.pcap")
    work.chmod(0o777)  # the SIEM image's unprivileged user writes its dead letter here later
    _in(
        buildah,
        sensor,
        "sh",
        "-c",
        "cd /work && zeek -C -r in.pcap local && suricata -r in.pcap -l /work -k none",
        volume=f"{work}:/work",
    )
    return work


def _label() -> dict:
    (label,) = [p for p in json.loads(LABELS.read_text())["pcaps"] if p["file"] == PCAP]
    return label


def test_sensor_image_runs_zeek_and_suricata(buildah: list[str], sensor: str) -> None:
    assert re.search(r"zeek version 7\.0\.", _in(buildah, sensor, "zeek", "--version").stdout)
    assert re.search(r"Suricata version 7\.", _in(buildah, sensor, "suricata", "-V").stdout)


def test_sensor_image_detects_with_mcpeeker_content(sensor_output: Path) -> None:
    label = _label()
    mcp_log = sensor_output / "mcp.log"
    assert mcp_log.exists(), f"no mcp.log: {sorted(p.name for p in sensor_output.iterdir())}"
    assert any(not line.startswith("#") for line in mcp_log.read_text().splitlines())
    notices = set(re.findall(r"MCP::[A-Za-z_]+", (sensor_output / "notice.log").read_text()))
    assert notices == set(label["zeek_notices"])
    sids: Counter[str] = Counter()
    for line in (sensor_output / "eve.json").read_text().splitlines():
        event = json.loads(line)
        if event.get("event_type") == "alert":
            sids[str(event["alert"]["signature_id"])] += 1
    assert dict(sids) == label["suricata_sids"]


def test_siem_image_ingests_the_sensor_output(buildah: list[str], siem: str, sensor_output: Path, os_url: str) -> None:
    """The SIEM image, on the host network, normalises the sensor image's eve.json into the real test node."""
    prefix = f"t-{uuid.uuid4().hex[:10]}-"
    settings = Settings(url=os_url, index_prefix=prefix)
    client = make_client(settings)
    try:
        result = _run(
            [
                *buildah,
                "run",
                "--isolation",
                "chroot",
                "--volume",
                f"{sensor_output}:/work",
                "--env",
                f"MCPEEKER_URL={os_url}",
                "--env",
                f"MCPEEKER_INDEX_PREFIX={prefix}",
                "--env",
                "MCPEEKER_SITE_KEY=container-test-site-key",
                siem,
                "--",
                "mcpeeker",
                "ingest",
                "suricata",
                "--no-progress",
                "--dead-letter",
                "/work/dead-letter.log",
                "/work/eve.json",
            ],
            timeout=300,
        )
        indexed = int(re.search(r"indexed ([0-9,]+)", result.stderr + result.stdout).group(1).replace(",", ""))
        client.indices.refresh(index=f"{prefix}mcp-events-*")
        alerts = client.count(index=f"{prefix}mcp-events-*", body={"query": {"exists": {"field": "rule.id"}}})["count"]
        assert indexed > 0 and alerts == sum(_label()["suricata_sids"].values())
    finally:
        drop_prefix(client, prefix)
