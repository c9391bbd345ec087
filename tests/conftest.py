"""Shared fixtures: one real local OpenSearch node per test session; each test gets its own index prefix."""

from __future__ import annotations

import contextlib
import fcntl
import os
import random
import shutil
import socket
import tempfile
import uuid
from pathlib import Path
from typing import Iterator

import pytest

from mcpeeker.client import make_client
from mcpeeker.localnode import LocalNode
from mcpeeker.localnode.cluster import LocalCluster
from mcpeeker.settings import Settings
from mcpeeker import indices

from cluster import drop_prefix
from paths import AUDIT_KEY, SHARED, SITE_KEY, require_shared  # tests/ is on sys.path: shared helpers import by name

TEST_NODE_PORT = int(os.environ.get("MCPEEKER_TEST_PORT", "9250"))


def pytest_configure(config: pytest.Config) -> None:
    """The tests' own keys: a site and an audit key ring generated for this session (MCPeeker has no built-in key),
    named through the environment so that every `mcpeeker` and `mcpeeker-agent` the tests start finds them.
    A test of the no-key error removes these variables from its child's environment."""
    from mcpeeker.site import keys

    if os.environ.get("MCPEEKER_SITE_KEY_FILE") and os.environ.get("MCPEEKER_AUDIT_KEY_FILE"):
        return
    home = Path(tempfile.mkdtemp(prefix="mcpeeker-test-keys-"))
    os.environ["MCPEEKER_SITE_KEY_FILE"] = str(home / "site.key")
    os.environ["MCPEEKER_AUDIT_KEY_FILE"] = str(home / "audit.key")
    keys.create_ring(home / "site.key", "test site")
    keys.create_ring(home / "audit.key", "test audit")
    config.add_cleanup(lambda: shutil.rmtree(home, ignore_errors=True))


@pytest.fixture(scope="session")
def os_url() -> Iterator[str]:
    """URL of the test cluster: MCPEEKER_TEST_URL, or a local node started once for the session.

    A node that cannot start is a test failure (an error), never a skip.
    """
    external = os.environ.get("MCPEEKER_TEST_URL")
    if external:
        yield external
        return
    node = LocalNode(name=f"test-{TEST_NODE_PORT}", http_port=TEST_NODE_PORT, heap="1g")
    # Several pytest sessions may share the node (developers run suites side by side): each registers
    # itself, and the last one to leave stops the node.
    sessions = node.home / "sessions"
    sessions.mkdir(parents=True, exist_ok=True)
    me = sessions / str(os.getpid())
    with _node_lock(node):
        me.touch()
        status = node.start(timeout=240)
    yield status.url
    with _node_lock(node):
        me.unlink(missing_ok=True)
        alive = [p for p in sessions.iterdir() if p.name.isdigit() and Path(f"/proc/{p.name}").exists()]
        if not alive and not os.environ.get("MCPEEKER_KEEP_TEST_NODE"):
            node.stop()


@contextlib.contextmanager
def _node_lock(node: LocalNode) -> Iterator[None]:
    node.home.mkdir(parents=True, exist_ok=True)
    with open(node.home / "fixture.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _new_prefix() -> str:
    return f"t-{uuid.uuid4().hex[:10]}-"


def _prefixed_settings(url: str) -> Iterator[Settings]:
    """Settings with a unique index prefix and our templates installed; everything removed afterwards."""
    settings = Settings(url=url, index_prefix=_new_prefix(), site_key=SITE_KEY, audit_key=AUDIT_KEY)
    client = make_client(settings)
    indices.install(settings, client)
    yield settings
    drop_prefix(client, settings.index_prefix)


@pytest.fixture
def os_settings(os_url: str) -> Iterator[Settings]:
    """Settings with a unique index prefix and our templates installed; everything removed afterwards."""
    yield from _prefixed_settings(os_url)


@pytest.fixture
def os_client(os_settings: Settings):
    return make_client(os_settings)


@pytest.fixture(scope="session")
def benign_pcap_dir() -> Path:
    return require_shared(SHARED / "benign-pcaps" / "zeek-traces", "benign pcap corpus")


def _free_port(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _cluster_ports() -> int:
    """A base port with base..base+2 (HTTP) and base+100..base+102 (transport) free."""
    for _ in range(50):
        port = random.randrange(19000, 19800, 10)
        if all(_free_port(port + i) and _free_port(port + 100 + i) for i in range(3)):
            return port
    raise AssertionError("no free ports for a test cluster")


@pytest.fixture
def three_nodes(tmp_path: Path) -> Iterator[tuple[LocalCluster, Settings]]:
    """A fresh three-node cluster of its own (random free ports, homes under tmp_path) for the #21 failure tests,
    which kill its nodes, with MCPeeker's indices installed under the prefix t-, stopped afterwards. About 40 s to
    form: three 512 MB JVMs on two cores."""
    port = _cluster_ports()
    cluster = LocalCluster(f"loss{port}", 3, port, "512m", base=tmp_path / "nodes")
    cluster.start(timeout=300)
    try:
        settings = Settings(url=cluster.nodes[0].url, index_prefix="t-", site_key=SITE_KEY, audit_key=AUDIT_KEY)
        indices.install(settings)
        yield cluster, settings
    finally:
        cluster.stop()


@pytest.fixture(scope="session")
def cluster_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A three-node cluster shared by the session's tests that run on one node and on three without killing
    nodes (rollover, the lease): each test gets its own prefix, and MCPeeker's indices one replica there."""
    port = _cluster_ports()
    cluster = LocalCluster(f"shared{port}", 3, port, "512m", base=tmp_path_factory.mktemp("cluster"))
    cluster.start(timeout=300)
    try:
        yield cluster.url
    finally:
        cluster.stop()


@pytest.fixture(params=["one-node", pytest.param("three-nodes", marks=pytest.mark.cluster)])
def store_settings(request: pytest.FixtureRequest) -> Iterator[Settings]:
    """Like os_settings, once on the session's single node and once on the shared three-node cluster."""
    yield from _prefixed_settings(request.getfixturevalue("os_url" if request.param == "one-node" else "cluster_url"))
