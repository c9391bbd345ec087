"""`mcpeeker opensearch start|stop|status|url|install|rotate-cert`; `start --tls` adds a TLS/mTLS front."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from rich.console import Console

from ..errors import MCPeekerError
from ..localnode.assemble import ensure_distribution, mcpeeker_home
from ..localnode.cluster import ClusterStatus, LocalCluster
from ..localnode.node import LocalNode
from ..localnode.tlsfront import TlsFront

console = Console(stderr=True, soft_wrap=True)


def _node(args: argparse.Namespace) -> LocalNode:
    return LocalNode(name=args.name, http_port=args.port, heap=args.heap)


def _say(message: str) -> None:
    console.print(f"[cyan]opensearch:[/] {message}", highlight=False)


def cmd_install(args: argparse.Namespace) -> int:
    dist = ensure_distribution(mcpeeker_home(), _say)
    _say(f"distribution ready in {dist.root}")
    return 0


def _tls_dir(args: argparse.Namespace) -> Path:
    return args.tls_dir or _node(args).home / "tls"


def _front(args: argparse.Namespace) -> TlsFront | None:
    return TlsFront.load(_tls_dir(args))


def _cluster(args: argparse.Namespace) -> LocalCluster | None:
    nodes = getattr(args, "nodes", 1)
    return LocalCluster(args.name, nodes, args.port, args.heap) if nodes > 1 else None


def _print_cluster(status: ClusterStatus, as_json: bool) -> None:
    if as_json:
        print(json.dumps(status.as_dict()))
        return
    print(f"cluster  health={status.health}  nodes={status.number_of_nodes}  {status.detail}")
    for node in status.nodes:
        print(f"node     {Path(node.home).name}  pid={node.pid}  url={node.url}  {node.detail}")


def cmd_start(args: argparse.Namespace) -> int:
    cluster = _cluster(args)
    if cluster is not None:
        if args.tls:
            raise MCPeekerError("--tls is for the single node; a cluster serves plain HTTP on loopback")
        formed = cluster.start(timeout=args.timeout, progress=_say)
        _say(f"cluster of {formed.number_of_nodes} nodes is {formed.health}")
        print(cluster.url)
        return 0
    if args.client_certs and not args.tls:
        raise MCPeekerError("--client-certs needs --tls")
    node = _node(args)
    status = node.start(timeout=args.timeout, progress=_say)
    _say(f"OpenSearch {status.version} is {status.health} (pid {status.pid})")
    if not args.tls:
        print(status.url)
        return 0
    front = TlsFront(
        _tls_dir(args), args.tls_port or node.http_port + 1, node.http_port, require_client_certs=args.client_certs
    )
    front.start(progress=_say)
    flags = f"--url {front.url} --ca-certs {front.ca.cert}"
    if front.require_client_certs:
        flags += f" --client-cert {front.client.cert} --client-key {front.client.key}"
    _say(f"connect with: {flags}")
    _say(f"(the node itself still answers plain HTTP on {status.url}, loopback only)")
    print(front.url)
    return 0


def cmd_stop(args: argparse.Namespace) -> int:
    cluster = _cluster(args)
    if cluster is not None:
        for node, stopped in zip(cluster.nodes, cluster.stop()):
            _say(f"{node.name}: {'stopped' if stopped else 'was not running'}")
        return 0
    front = _front(args)
    if front is not None and front.stop():
        _say(f"TLS front on port {front.listen_port} stopped")
    if args.tls_only:
        return 0
    stopped = _node(args).stop()
    _say("stopped" if stopped else "was not running")
    return 0


def cmd_rotate_cert(args: argparse.Namespace) -> int:
    front = _front(args)
    if front is None:
        raise MCPeekerError(f"no TLS front in {_tls_dir(args)}; start one with `mcpeeker opensearch start --tls`")
    cert = front.rotate(progress=_say)
    _say(f"new server certificate {front.server_pem}, valid until {cert.not_valid_after_utc:%Y-%m-%d}")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    cluster = _cluster(args)
    if cluster is not None:
        cluster_status = cluster.status()
        _print_cluster(cluster_status, args.json)
        return 0 if cluster_status.running else 3
    status = _node(args).status()
    front = _front(args)
    tls = front.status() if front is not None else None
    if args.json:
        print(json.dumps({**status.as_dict(), "tls": tls.as_dict() if tls else None}))
    elif status.running:
        print(f"running  pid={status.pid}  url={status.url}  version={status.version}  health={status.health}")
    else:
        print(status.detail)
    if tls is not None and not args.json:
        mtls = "  client certificates required" if tls.client_certs else ""
        print(f"tls      {tls.detail}  pid={tls.pid}  url={tls.url}{mtls}")
    return 0 if status.running else 3


def cmd_url(args: argparse.Namespace) -> int:
    print(_node(args).url)
    return 0


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("opensearch", help="manage the embedded local OpenSearch node")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    for name, func, help_text in (
        ("install", cmd_install, "assemble the distribution into the cache (downloads once)"),
        ("start", cmd_start, "start the node (or reuse a running one) and wait until green"),
        ("stop", cmd_stop, "stop the node cleanly"),
        ("status", cmd_status, "pid, version and health (exit 3 when not running)"),
        ("url", cmd_url, "print the node's URL"),
        ("rotate-cert", cmd_rotate_cert, "new server certificate from the same CA, reloaded without downtime"),
    ):
        action = actions.add_parser(name, help=help_text)
        action.add_argument("--name", default="default", help="instance name (several can run on other ports)")
        action.add_argument("--port", type=int, default=9200, help="HTTP port on 127.0.0.1 (transport = port+100)")
        action.add_argument("--heap", default="512m", help="JVM heap, e.g. 512m or 1g (per node)")
        action.add_argument(
            "--nodes",
            type=int,
            default=1,
            help="a local cluster of N nodes (NAME-1..N, HTTP ports PORT..PORT+N-1, transport +100); default 1",
        )
        action.add_argument("--timeout", type=float, default=180.0, help="seconds to wait for green")
        action.add_argument("--json", action="store_true", help="machine-readable status")
        action.add_argument(
            "--tls-dir", type=Path, help="CA, certificates and TLS front state (default <node home>/tls)"
        )
        if name == "start":
            action.add_argument(
                "--tls", action="store_true", help="also serve HTTPS (stunnel) with certificates from a CA made here"
            )
            action.add_argument("--tls-port", type=int, help="HTTPS port on 127.0.0.1 (default --port + 1)")
            action.add_argument(
                "--client-certs",
                action="store_true",
                help="with --tls: require a client certificate signed by that CA (mTLS)",
            )
        if name == "stop":
            action.add_argument("--tls-only", action="store_true", help="stop the TLS front, keep the node")
        action.set_defaults(func=func)
