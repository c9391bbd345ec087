#!/usr/bin/env python3
"""CPU and memory cost of MCPeeker's Zeek package (zeek/scripts) on two large mixed pcaps.

    sudo .venv/bin/python bench/zeek_cost.py [--size-mb 100] [--pairs 9] [--workdir DIR]
        [--pcap-ordinary P] [--pcap-mcp P] [--json]

1. Ordinary traffic, with no MCP at all (what every sensor pays): the real HTTP of
   bench/suricata_cost.py (pages, JSON API, form posts, downloads, a non-MCP SSE feed, a JSON-RPC
   endpoint that is not MCP), generated in a throw-away network namespace and captured with
   tcpdump, plus real DNS (A/AAAA/TXT, some NXDOMAIN) and TLS 1.3 (several SNI names, 1-4
   requests per connection) generated the same way here. The DNS/TLS flows are spread over the
   duration of the HTTP capture. Needs root (network namespace, packet capture).
2. MCP-heavy: the mix of bench/suricata_cost.py, i.e. the ordinary pcap above plus the MCP pcaps
   of tests/pcaps copied --mcp-copies times (default 4 per 60 MB), each copy on its own
   10.x.<copy>.y addresses. The *badinput* stress pcaps are left out unless --with-badinput.
3. Before measuring, one run of each (with and without the package) checks that the package
   writes mcp.log on the MCP mix and none on the ordinary mix, and that no run writes errors to
   reporter.log; a WARNING line is printed if not.
4. For each mix, --pairs alternated pairs `zeek -C -r MIX zeek/scripts` vs `zeek -C -r MIX`
   (the order flips every pair), plus an A/A control pair (bare vs bare, same alternation) that
   shows the noise floor, plus a start-up pair on a pcap of the first packets. CPU = user+sys of
   the zeek child from wait4(); memory = its ru_maxrss. Printed: the median of the paired ratios
   (package / bare) beside the targets (ordinary <= 1.02, MCP-heavy <= 1.15, peak RSS <= 1.2),
   the A/A ratio, and the per-traffic ratio with the start-up CPU taken out of both sides.

--workdir keeps the generated pcaps (ordinary.pcap, mcp-heavy.pcap) for reuse with
--pcap-ordinary / --pcap-mcp. Without it they go to a temp dir that is removed; never into the
repository. Exit status 1 if a target is missed.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import signal
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self

import suricata_cost as sc

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "zeek" / "scripts"
LABELS = REPO / "tests" / "pcaps" / "labels.json"
TARGETS = {"ordinary": 1.02, "mcp-heavy": 1.15, "memory": 1.20}
MIXES = ("ordinary", "mcp-heavy")

try:  # rich is a project dependency; fall back to plain lines without it
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )
except ImportError:  # pragma: no cover
    Console = None  # type: ignore[assignment,misc]

# --- DNS and TLS: server and clients run inside a namespace, like the HTTP of suricata_cost.py ---

DNS_TLS = r"""
import random, socket, ssl, struct, sys, threading
cert, key, n_dns, n_tls = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
NAMES = ["www.corp.example", "mail.corp.example", "intranet.corp.example", "api.github.com",
         "login.microsoftonline.com", "update.vendor.example", "cdn.jsdelivr.net", "fonts.gstatic.com",
         "s3.eu-west-1.amazonaws.com", "telemetry.app.example", "wiki.corp.example", "time.cloudflare.com"]
def dns_server(sock):
    while True:
        data, addr = sock.recvfrom(2048)
        txid = struct.unpack("!H", data[:2])[0]
        i = 12
        while data[i]:
            i += data[i] + 1
        qtype = struct.unpack("!H", data[i + 1:i + 3])[0]
        question = data[12:i + 5]
        h = sum(question) * 2654435761 & 0xFFFFFFFF
        if b"nope" in data[12:i]:
            sock.sendto(struct.pack("!HHHHHH", txid, 0x8183, 1, 0, 0, 0) + question, addr); continue
        if qtype == 28:
            rdata = bytes.fromhex("20010db8") + h.to_bytes(4, "big") * 3
        elif qtype == 16:
            txt = b"v=spf1 include:_spf.corp.example ~all %d" % h
            rdata = bytes([len(txt)]) + txt
        else:
            rdata = bytes([10, h >> 16 & 0xFF, h >> 8 & 0xFF, h & 0xFF])
        n = 1 + h % 3 if qtype == 1 else 1
        answers = b"".join(b"\xc0\x0c" + struct.pack("!HHIH", qtype, 1, 300, len(rdata))
                           + (rdata[:-1] + bytes([(rdata[-1] + k) & 0xFF])) for k in range(n))
        sock.sendto(struct.pack("!HHHHHH", txid, 0x8180, 1, n, 0, 0) + question + answers, addr)
def dns_client():
    rng = random.Random(3)
    for i in range(n_dns):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(("127.0.0.1", 10000 + i % 28000))  # distinct source ports: distinct flows
        s.settimeout(2)
        name = rng.choice(NAMES)
        if rng.random() < 0.3:
            name = "n%d.%s" % (rng.randint(1, 9999), name)
        if rng.random() < 0.05:
            name = "nope%d.corp.example" % i
        qtype = rng.choice([1, 1, 1, 28, 28, 16])
        qname = b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\x00"
        s.sendto(struct.pack("!HHHHHH", rng.getrandbits(16), 0x0100, 1, 0, 0, 0) + qname
                 + struct.pack("!HH", qtype, 1), ("127.0.0.1", 53))
        try:
            s.recv(2048)
        except OSError:
            pass
        s.close()
def tls_session(conn):
    rng = random.Random()
    try:
        buf = b""
        while True:
            while b"\r\n\r\n" not in buf:
                chunk = conn.recv(4096)
                if not chunk:
                    return
                buf += chunk
            head, buf = buf.split(b"\r\n\r\n", 1)
            size = int(head.split()[1].strip(b"/") or 1000)
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: %d\r\n\r\n" % size
                         + rng.randbytes(size))
    except (OSError, ValueError):
        pass
    finally:
        conn.close()
def tls_server(srv, ctx):
    while True:
        sock, _ = srv.accept()
        try:
            conn = ctx.wrap_socket(sock, server_side=True)
        except OSError:
            sock.close(); continue
        threading.Thread(target=tls_session, args=(conn,), daemon=True).start()
counter = [0]; lock = threading.Lock()
def tls_client(seed):
    rng = random.Random(seed)
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    while True:
        with lock:
            i = counter[0]; counter[0] += 1
        if i >= n_tls:
            return
        raw = socket.socket()
        raw.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        raw.bind(("127.0.0.1", 40000 + i % 25000))
        raw.connect(("127.0.0.1", 443))
        conn = ctx.wrap_socket(raw, server_hostname=rng.choice(NAMES))
        for _ in range(rng.randint(1, 4)):
            size = int(min(400_000, rng.lognormvariate(8.5, 1.3)))
            conn.sendall(b"GET /%d HTTP/1.1\r\nHost: x\r\n\r\n" % size)
            want, got = None, b""
            while want is None or len(got) < want:
                chunk = conn.recv(65536)
                if not chunk:
                    break
                got += chunk
                if want is None and b"\r\n\r\n" in got:
                    head, got = got.split(b"\r\n\r\n", 1)
                    want = int(head.split(b"Content-Length: ")[1].split(b"\r\n")[0])
        conn.close()
udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); udp.bind(("127.0.0.1", 53))
srv = socket.socket(); srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", 443)); srv.listen(64)
sctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER); sctx.load_cert_chain(cert, key)
threading.Thread(target=dns_server, args=(udp,), daemon=True).start()
threading.Thread(target=tls_server, args=(srv, sctx), daemon=True).start()
workers = [threading.Thread(target=dns_client)] + [threading.Thread(target=tls_client, args=(s,)) for s in range(3)]
for t in workers: t.start()
for t in workers: t.join()
"""


def capture_dns_tls(out: Path, n_dns: int, n_tls: int, workdir: Path) -> None:
    """Real DNS queries and TLS sessions over the loopback of a fresh namespace, tcpdumped."""
    key, cert = workdir / "tls.key", workdir / "tls.crt"
    sc.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-days",
            "2",
            "-subj",
            "/CN=intranet.corp.example",
        ]
    )
    (workdir / "dns_tls.py").write_text(DNS_TLS)
    ns = f"mcpbench-z{os.getpid()}"
    nsx = ["ip", "netns", "exec", ns]
    subprocess.run(["ip", "netns", "del", ns], check=False, capture_output=True)
    sc.run(["ip", "netns", "add", ns])
    dump = None
    try:
        sc.run([*nsx, "ip", "link", "set", "lo", "up", "mtu", "1500"])
        sc.run([*nsx, "ip", "link", "set", "lo", "gso_max_segs", "1", "gso_max_size", "1500"])
        dump = subprocess.Popen(
            [
                *nsx,
                "tcpdump",
                "-i",
                "lo",
                "-s",
                "0",
                "-B",
                "65536",
                "-U",
                "-w",
                str(out),
                "tcp port 443 or udp port 53",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(1.0)
        sc.run([*nsx, sys.executable, str(workdir / "dns_tls.py"), str(cert), str(key), str(n_dns), str(n_tls)])
        time.sleep(0.5)
    finally:
        if dump:
            dump.send_signal(signal.SIGINT)
            dump.wait(timeout=30)
        subprocess.run(["ip", "netns", "del", ns], check=False, capture_output=True)


def flow_key(frame: bytes) -> tuple[object, ...]:
    if len(frame) < 38 or frame[12:14] != b"\x08\x00":
        return ("other",)
    ihl = (frame[14] & 0x0F) * 4
    src, dst = frame[26:30] + frame[14 + ihl : 16 + ihl], frame[30:34] + frame[16 + ihl : 18 + ihl]
    return (frame[23], min(src, dst), max(src, dst))


def spread_flows(packets: list[tuple[float, bytes]], start: float, end: float) -> list[tuple[float, bytes]]:
    """Shift each flow (its timing kept) so the flows start evenly over [start, end]."""
    flows: dict[tuple[object, ...], list[tuple[float, bytes]]] = {}
    for ts, frame in packets:
        flows.setdefault(flow_key(frame), []).append((ts, frame))
    out = []
    for k, pkts in enumerate(flows.values()):
        shift = start + (k + 0.5) / len(flows) * (end - start) - pkts[0][0]
        out.extend((ts + shift, frame) for ts, frame in pkts)
    out.sort(key=lambda p: p[0])
    return out


def select_mcp_pcaps(into: Path, with_badinput: bool) -> Path:
    """The MCP test pcaps to copy into the MCP-heavy mix, linked into one directory.

    By default the *badinput* pcaps are left out: they are stress inputs (multi-MB bodies, JSON
    bombs, endless SSE) whose copies would outweigh all the ordinary MCP conversations.
    """
    shutil.rmtree(into, ignore_errors=True)
    into.mkdir(parents=True)
    for pcap in sorted(sc.MCP_PCAPS.glob("*.pcap")):
        if with_badinput or "badinput" not in pcap.name:
            (into / pcap.name).symlink_to(pcap)
    return into


def write_pcap(out: Path, packets: Iterable[tuple[float, bytes]]) -> int:
    count = 0
    with out.open("wb") as fh:
        fh.write(struct.pack("<IHHiIII", sc.PCAP_MAGIC_US, 2, 4, 0, 0, 262144, sc.LINKTYPE_ETHERNET))
        for ts, frame in packets:
            sec = int(ts)
            fh.write(struct.pack("<IIII", sec, min(round((ts - sec) * 1e6), 999_999), len(frame), len(frame)))
            fh.write(frame)
            count += 1
    return count


def build_ordinary(out: Path, size_mb: int, work: Path, say: Callable[[str], None]) -> dict[str, Any]:
    import heapq

    if os.geteuid() != 0:
        sys.exit("zeek_cost.py: generating traffic needs root (network namespace + tcpdump)")
    t0 = time.monotonic()
    http_pcap, extra_pcap = work / "ordinary-http.pcap", work / "dns-tls.pcap"
    sent, stats = sc.capture_ordinary_http(http_pcap, size_mb, work)
    n_dns, n_tls = 30 * size_mb, 4 * size_mb
    capture_dns_tls(extra_pcap, n_dns, n_tls, work)
    _, http = sc.read_pcap(http_pcap)
    _, extra = sc.read_pcap(extra_pcap)
    extra = spread_flows(extra, http[0][0], http[-1][0])
    write_pcap(out, heapq.merge(http, extra, key=lambda p: p[0]))
    tls_bytes = sum(len(f) for _, f in extra if flow_key(f)[0] == 6)
    info = {
        "http_bytes": sum(len(f) for _, f in http),
        "tls_bytes": tls_bytes,
        "dns_bytes": sum(len(f) for _, f in extra) - tls_bytes,
        "dns_queries": n_dns,
        "tls_sessions": n_tls,
        "client_counted_bytes": sent,
        "tcpdump": stats,
    }
    http_pcap.unlink()
    extra_pcap.unlink()
    say(
        f"ordinary traffic generated in {time.monotonic() - t0:.0f}s: HTTP {info['http_bytes'] / 1e6:.1f} MB, "
        f"TLS {tls_bytes / 1e6:.1f} MB ({n_tls} sessions), DNS {info['dns_bytes'] / 1e6:.1f} MB ({n_dns} queries)"
    )
    return info


# --- running Zeek ---------------------------------------------------------------------------------


@dataclass
class Zeek:
    exe: str
    package: Path


@dataclass
class Run:
    cpu: float
    rss_kb: int
    wall: float


# wait4() in a small helper process: a child's ru_maxrss starts from the peak RSS of the process
# that exec()s it, and this script holds whole pcaps in memory, so Zeek is forked from the helper.
RUSAGE_HELPER = r"""
import os, sys
pid = os.fork()
if pid == 0:
    try:
        os.dup2(os.open(os.devnull, os.O_WRONLY), 1)
        os.execv(sys.argv[1], sys.argv[1:])
    finally:
        os._exit(127)
_, status, ru = os.wait4(pid, 0)
print(os.waitstatus_to_exitcode(status), ru.ru_utime + ru.ru_stime, ru.ru_maxrss)
"""


def zeek_run(zeek: Zeek, pcap: Path, with_pkg: bool, rundir: Path, extra: tuple[str, ...] = ()) -> Run:
    """One `zeek -C -r pcap [package]` in rundir; user+sys CPU and peak RSS of zeek from wait4()."""
    rundir.mkdir(parents=True, exist_ok=True)
    for stale in rundir.iterdir():
        if stale.is_file():
            stale.unlink()
    cmd = [zeek.exe, "-C", "-r", str(pcap), *extra, *([str(zeek.package)] if with_pkg else [])]
    with (rundir / "stderr.txt").open("wb") as err:
        t0 = time.monotonic()
        out = subprocess.run(
            [sys.executable, "-S", "-c", RUSAGE_HELPER, *cmd],
            cwd=rundir,
            stdout=subprocess.PIPE,
            stderr=err,
            text=True,
            check=True,
        ).stdout.split()
        wall = time.monotonic() - t0
    if out[0] != "0":
        raise SystemExit(
            f"{' '.join(cmd)} failed ({out[0]}): {(rundir / 'stderr.txt').read_text(errors='replace')[-2000:]}"
        )
    return Run(float(out[1]), int(out[2]), wall)


def instructions(zeek: Zeek, pcap: Path, with_pkg: bool, rundir: Path) -> int:
    """Instructions of one `zeek -C -r pcap [package]` under callgrind: the same count every run, whatever else
    the machine does (CPU seconds here vary by +-20 %)."""
    rundir.mkdir(parents=True, exist_ok=True)
    cmd = [
        "valgrind",
        "--tool=callgrind",
        "--callgrind-out-file=/dev/null",
        zeek.exe,
        "-C",
        "-r",
        str(pcap),
        *([str(zeek.package)] if with_pkg else []),
    ]
    proc = subprocess.run(cmd, cwd=rundir, capture_output=True, text=True, check=False)
    found = re.search(r"Collected : (\d+)", proc.stderr)
    if proc.returncode != 0 or not found:
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}): {proc.stderr[-2000:]}")
    return int(found.group(1))


def measure_instructions(zeek: Zeek, pcaps: dict[str, Path], packets: int, work: Path) -> dict[str, Any]:
    """Instruction ratios on the first `packets` packets of each mix, with start-up (the first 10 packets)
    measured apart, so that the per-traffic ratio says what the package costs on traffic alone."""
    out: dict[str, Any] = {}
    for mix, pcap in pcaps.items():
        head, tiny = work / f"{mix}-head.pcap", work / f"{mix}-tiny.pcap"
        sc.write_head(pcap, head, packets)
        sc.write_head(pcap, tiny, 10)
        n = {
            (part, pkg): instructions(zeek, p, pkg, work / "callgrind")
            for part, p in (("head", head), ("startup", tiny))
            for pkg in (False, True)
        }
        bare_traffic = n["head", False] - n["startup", False]
        pkg_traffic = n["head", True] - n["startup", True]
        out[mix] = {
            "packets": packets,
            "bare": n["head", False],
            "package": n["head", True],
            "ratio": n["head", True] / n["head", False],
            "startup_bare": n["startup", False],
            "startup_package": n["startup", True],
            "per_traffic_ratio": pkg_traffic / bare_traffic,
        }
    return out


def report_instructions(res: dict[str, Any]) -> None:
    print(
        f"\n{'instructions':12} {'packets':>8} {'bare':>14} {'package':>14} {'ratio':>7} {'start-up +':>12} "
        f"{'per-traffic':>12} {'target':>7}"
    )
    for mix, r in res.items():
        print(
            f"{mix:12} {r['packets']:8d} {r['bare']:14,d} {r['package']:14,d} {r['ratio']:7.3f} "
            f"{r['startup_package'] - r['startup_bare']:12,d} {r['per_traffic_ratio']:12.3f} "
            f"{'<= ' + str(TARGETS[mix]):>7}"
        )
    print(
        "(callgrind instruction counts: deterministic; start-up measured on the first 10 packets and taken out "
        "of the per-traffic ratio)"
    )


def log_rows(path: Path) -> Iterator[dict[str, str]]:
    fields: list[str] = []
    with path.open(errors="replace") as fh:
        for line in fh:
            if line.startswith("#fields"):
                fields = line.rstrip("\n").split("\t")[1:]
            elif not line.startswith("#"):
                yield dict(zip(fields, line.rstrip("\n").split("\t")))


def check_runs(
    zeek: Zeek, pcaps: dict[str, Path], work: Path, say: Callable[[str], None], with_badinput: bool
) -> tuple[dict[str, Any], list[str]]:
    """One run of each combination (also a cache warm-up): logs as expected, no errors."""
    facts: dict[str, Any] = {}
    warnings: list[str] = []
    for mix, pcap in pcaps.items():
        for with_pkg in (True, False):
            name = f"{mix}/{'package' if with_pkg else 'bare'}"
            d = work / "check" / name.replace("/", "-")
            zeek_run(zeek, pcap, with_pkg, d)
            rep = d / "reporter.log"
            errors = [r for r in log_rows(rep) if "ERROR" in r.get("level", "")] if rep.exists() else []
            if errors:
                warnings.append(f"{name}: reporter.log has {len(errors)} errors, e.g. {errors[0].get('message')}")
            stderr = [ln for ln in (d / "stderr.txt").read_text(errors="replace").splitlines() if "error" in ln.lower()]
            if stderr:
                warnings.append(f"{name}: zeek stderr: {stderr[0][:200]}")
            mcp_log = d / "mcp.log"
            if with_pkg and mix == "ordinary" and mcp_log.exists():
                warnings.append(
                    f"{name}: mcp.log written on the ordinary mix "
                    f"({sum(1 for _ in log_rows(mcp_log))} rows): false positives"
                )
            if with_pkg and mix == "mcp-heavy":
                if not mcp_log.exists():
                    warnings.append(f"{name}: no mcp.log on the MCP mix: the package did not run or see MCP")
                else:
                    rows = list(log_rows(mcp_log))
                    copies = {r["id.orig_h"].split(".")[2] for r in rows if r.get("id.orig_h", "").startswith("10.")}
                    notes = (
                        Counter(r["note"] for r in log_rows(d / "notice.log"))
                        if (d / "notice.log").exists()
                        else Counter()
                    )
                    facts["mcp_log_rows"], facts["mcp_copies_seen"] = len(rows), len(copies)
                    facts["notices"] = dict(sorted(notes.items()))
                    labels = json.loads(LABELS.read_text())["pcaps"]
                    facts["notices_expected"] = len(copies) * sum(
                        len(p.get("zeek_notices", [])) for p in labels if with_badinput or "badinput" not in p["file"]
                    )
            if not with_pkg:
                services = Counter(r.get("service", "-") for r in log_rows(d / "conn.log"))
                txs = Counter(
                    "mcp" if r["id.orig_h"].startswith("10.") else "ordinary" for r in log_rows(d / "http.log")
                )
                facts[f"{mix}_conns"] = dict(services.most_common(6))
                facts[f"{mix}_http_transactions"] = dict(txs)
            say(f"  check {name}: {zeek_run_summary(d)}")
    return facts, warnings


def zeek_run_summary(d: Path) -> str:
    logs = sorted(p.name for p in d.glob("*.log"))
    return " ".join(logs)


# --- measurement ----------------------------------------------------------------------------------


@dataclass
class Series:
    runs: dict[str, list[Run]] = field(default_factory=dict)

    def add(self, name: str, run: Run) -> None:
        self.runs.setdefault(name, []).append(run)

    def cpu(self, name: str) -> list[float]:
        return [r.cpu for r in self.runs[name]]

    def rss(self, name: str) -> list[int]:
        return [r.rss_kb for r in self.runs[name]]


def measure(
    zeek: Zeek, pcaps: dict[str, Path], head: Path, pairs: int, work: Path, progress: Reporter
) -> dict[str, Series]:
    series = {mix: Series() for mix in (*MIXES, "startup")}
    plan: list[tuple[str, Path, str, bool]] = []
    for i in range(pairs):
        flip = i % 2 == 1
        for mix, pcap in pcaps.items():
            pair = [("package", True), ("bare", False)]
            aa = [("A", False), ("B", False)]
            plan += [(mix, pcap, n, p) for n, p in (pair[::-1] if flip else pair)]
            plan += [(mix, pcap, n, p) for n, p in (aa[::-1] if flip else aa)]
        start = [("package", True), ("bare", False)]
        plan += [("startup", head, n, p) for n, p in (start[::-1] if flip else start)]
    per_pair = len(plan) // pairs
    for k, (mix, pcap, name, with_pkg) in enumerate(plan):
        progress.describe(f"pair {k // per_pair + 1}/{pairs}: {mix} {name}")
        series[mix].add(name, zeek_run(zeek, pcap, with_pkg, work / "runs" / f"{mix}-{name}"))
        progress.advance()
        if (k + 1) % per_pair == 0:
            i = k // per_pair
            progress.say(
                f"  pair {i + 1}: "
                + ", ".join(
                    f"{mix} package {series[mix].cpu('package')[i]:.2f}s bare {series[mix].cpu('bare')[i]:.2f}s "
                    f"A {series[mix].cpu('A')[i]:.2f}s B {series[mix].cpu('B')[i]:.2f}s"
                    for mix in MIXES
                )
                + f", start-up package {series['startup'].cpu('package')[i]:.2f}s "
                f"bare {series['startup'].cpu('bare')[i]:.2f}s"
            )
    return series


def spread(values: list[float]) -> dict[str, float]:
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def analyse(series: dict[str, Series]) -> dict[str, Any]:
    st = series["startup"]
    start_pkg, start_bare = statistics.median(st.cpu("package")), statistics.median(st.cpu("bare"))
    out: dict[str, Any] = {
        "startup": {
            "package_cpu_s": start_pkg,
            "bare_cpu_s": start_bare,
            "package_rss_mb": statistics.median(st.rss("package")) / 1024,
            "bare_rss_mb": statistics.median(st.rss("bare")) / 1024,
        }
    }
    for mix in MIXES:
        s = series[mix]
        pkg, bare, a, b = s.cpu("package"), s.cpu("bare"), s.cpu("A"), s.cpu("B")
        ratios = [p / q for p, q in zip(pkg, bare)]
        aa = [x / y for x, y in zip(a, b)]
        traffic = [(p - start_pkg) / (q - start_bare) for p, q in zip(pkg, bare)]
        rss_ratios = [p / q for p, q in zip(s.rss("package"), s.rss("bare"))]
        out[mix] = {
            "package_cpu_s": statistics.median(pkg),
            "bare_cpu_s": statistics.median(bare),
            "ratio": spread(ratios),
            "aa_ratio": spread(aa),
            "traffic_ratio": spread(traffic),
            "min_based_ratio": min(pkg) / min(bare),
            "package_rss_mb": statistics.median(s.rss("package")) / 1024,
            "bare_rss_mb": statistics.median(s.rss("bare")) / 1024,
            "rss_ratio": spread(rss_ratios),
            "package_cpu_runs": pkg,
            "bare_cpu_runs": bare,
            "aa_a_cpu_runs": a,
            "aa_b_cpu_runs": b,
            "package_rss_kb_runs": s.rss("package"),
            "bare_rss_kb_runs": s.rss("bare"),
            "target": TARGETS[mix],
            "cpu_ok": statistics.median(ratios) <= TARGETS[mix],
            "memory_ok": statistics.median(rss_ratios) <= TARGETS["memory"],
        }
    return out


def report(res: dict[str, Any], info: dict[str, Any], pairs: int, zeek_version: str) -> None:
    def rng(d: dict[str, float]) -> str:
        return f"{d['median']:.3f} [{d['min']:.3f}-{d['max']:.3f}]"

    print()
    print(
        f"{zeek_version}; package {info['package']}; {pairs} alternated pairs per mix; "
        f"CPU = user+sys of the zeek child (wait4), ratios = median [min-max] of the paired ratios"
    )
    for mix in MIXES:
        m = info["mixes"][mix]
        print(f"  {mix:9}  {m['mb']:.1f} MB, {m['packets']} packets; {m['composition']}")
    print()
    hdr = (
        f"{'mix':10} {'bare CPU':>9} {'pkg CPU':>9}  {'ratio pkg/bare':22} {'A/A control':22} "
        f"{'per-traffic':>11} {'target':>7}  verdict"
    )
    print(hdr)
    print("-" * len(hdr))
    for mix in MIXES:
        r = res[mix]
        verdict = "OK" if r["cpu_ok"] else "OVER TARGET"
        print(
            f"{mix:10} {r['bare_cpu_s']:8.2f}s {r['package_cpu_s']:8.2f}s  {rng(r['ratio']):22} "
            f"{rng(r['aa_ratio']):22} {r['traffic_ratio']['median']:11.3f} {'<= ' + str(r['target']):>7}  {verdict}"
        )
    s = res["startup"]
    print(
        f"{'start-up':10} {s['bare_cpu_s']:8.2f}s {s['package_cpu_s']:8.2f}s  "
        f"(first {info['head_packets']} packets; package start-up costs "
        f"{s['package_cpu_s'] - s['bare_cpu_s']:+.3f}s once per Zeek start)"
    )
    print()
    hdr = f"{'peak RSS':10} {'bare':>9} {'pkg':>9}  {'ratio pkg/bare':22} {'target':>7}  verdict"
    print(hdr)
    print("-" * len(hdr))
    for mix in MIXES:
        r = res[mix]
        print(
            f"{mix:10} {r['bare_rss_mb']:7.1f}MB {r['package_rss_mb']:7.1f}MB  {rng(r['rss_ratio']):22} "
            f"{'<= ' + str(TARGETS['memory']):>7}  {'OK' if r['memory_ok'] else 'OVER TARGET'}"
        )
    print(f"{'start-up':10} {s['bare_rss_mb']:7.1f}MB {s['package_rss_mb']:7.1f}MB")
    facts = info["checks"]
    print()
    print(
        f"checks: mcp.log on the MCP mix {facts.get('mcp_log_rows', 0)} rows from {facts.get('mcp_copies_seen', 0)} "
        f"copies; notices {sum(facts.get('notices', {}).values())} (distinct notice types per pcap in labels.json x "
        f"copies: {facts.get('notices_expected', '?')}); no mcp.log on the ordinary mix: "
        f"{'yes' if not any('ordinary mix' in w for w in info['warnings']) else 'NO'}"
    )
    for w in info["warnings"]:
        print(f"WARNING: {w}")


# --- glue -----------------------------------------------------------------------------------------


class Reporter:
    """Progress on stderr: a rich progress bar if rich is available, plain lines otherwise."""

    def __init__(self, total: int) -> None:
        self.bar = None
        if Console is not None:
            self.bar = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=Console(stderr=True),
                transient=True,
            )
            self.task = self.bar.add_task("zeek runs", total=total)

    def __enter__(self) -> Self:
        if self.bar:
            self.bar.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.bar:
            self.bar.stop()

    def describe(self, text: str) -> None:
        if self.bar:
            self.bar.update(self.task, description=text)

    def advance(self) -> None:
        if self.bar:
            self.bar.advance(self.task)

    def say(self, text: str) -> None:
        if self.bar:
            self.bar.console.print(text, highlight=False, markup=False, soft_wrap=True)
        else:
            print(text, file=sys.stderr, flush=True)


def say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def find_zeek() -> str:
    exe = shutil.which("zeek") or "/opt/zeek/bin/zeek"
    if not Path(exe).exists():
        sys.exit("zeek_cost.py: zeek not found (PATH or /opt/zeek/bin)")
    return exe


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--size-mb",
        type=int,
        default=100,
        help="ordinary HTTP to generate (MB of payload; DNS/TLS and headers come on top)",
    )
    ap.add_argument(
        "--mcp-copies",
        type=int,
        help="copies of each MCP test pcap in the MCP-heavy mix (default: 4 per 60 MB, as suricata_cost.py)",
    )
    ap.add_argument("--pairs", type=int, default=9, help="alternated package/bare pairs per mix (default 9)")
    ap.add_argument("--workdir", type=Path, help="keep generated pcaps here (default: temp dir, removed)")
    ap.add_argument("--pcap-ordinary", type=Path, help="reuse this ordinary (no MCP) pcap")
    ap.add_argument("--pcap-mcp", type=Path, help="reuse this MCP-heavy pcap")
    ap.add_argument(
        "--with-badinput",
        action="store_true",
        help="also mix in the tests/pcaps/*badinput* stress pcaps (10 MB bodies, JSON bombs, endless SSE)",
    )
    ap.add_argument("--zeek", default=None, help="zeek binary (default: zeek on PATH, else /opt/zeek/bin/zeek)")
    ap.add_argument(
        "--package",
        type=Path,
        default=PACKAGE,
        help="Zeek package directory to measure (default: zeek/scripts of this checkout)",
    )
    ap.add_argument("--json", action="store_true", help="also print the results as one JSON object on stdout")
    ap.add_argument(
        "--instructions",
        type=int,
        metavar="PACKETS",
        default=0,
        help="also count instructions (valgrind callgrind) on the first PACKETS packets of each mix: "
        "a deterministic ratio beside the noisy CPU seconds (e.g. 20000)",
    )
    args = ap.parse_args()
    if args.mcp_copies is None:
        args.mcp_copies = max(1, round(4 * args.size_mb / 60))
    work = (args.workdir or Path(tempfile.mkdtemp(prefix="mcpeeker-zeekbench-"))).resolve()
    work.mkdir(parents=True, exist_ok=True)
    if work.is_relative_to(REPO) and not work.is_relative_to(REPO / "bench" / "out"):
        sys.exit(f"zeek_cost.py: --workdir {work} is inside the repository; use bench/out/ or a path outside")
    try:
        # Every run loads one snapshot of the package, even if the scripts are edited meanwhile.
        snapshot = work / "package"
        shutil.rmtree(snapshot, ignore_errors=True)
        shutil.copytree(args.package.resolve(), snapshot)
        digest = hashlib.sha256(b"".join(p.read_bytes() for p in sorted(snapshot.rglob("*.zeek")))).hexdigest()
        zeek = Zeek(args.zeek or find_zeek(), snapshot)
        zeek_version = sc.run([zeek.exe, "--version"]).stdout.strip()
        ordinary = args.pcap_ordinary.resolve() if args.pcap_ordinary else work / "ordinary.pcap"
        gen: dict[str, Any] = {}
        if not args.pcap_ordinary:
            gen["ordinary"] = build_ordinary(ordinary, args.size_mb, work, say)
        mcp = args.pcap_mcp.resolve() if args.pcap_mcp else work / "mcp-heavy.pcap"
        if not args.pcap_mcp:
            chosen = select_mcp_pcaps(work / "mcp-pcaps", args.with_badinput)
            sc.MCP_PCAPS = chosen  # build_mixed() mixes in every *.pcap of MCP_PCAPS
            gen["mcp"] = sc.build_mixed(ordinary, mcp, args.mcp_copies)
            say(
                f"MCP-heavy mix: {ordinary.name} + {gen['mcp']['mcp_files']} MCP test pcaps x "
                f"{args.mcp_copies} copies ({gen['mcp']['mcp_bytes'] / 1e6:.1f} MB)"
            )
        pcaps = {"ordinary": ordinary, "mcp-heavy": mcp}
        if args.workdir:
            say(f"pcaps kept: --pcap-ordinary {ordinary} --pcap-mcp {mcp}")
        info: dict[str, Any] = {
            "package": f"{args.package} (snapshot sha256 {digest[:12]})",
            "mixes": {},
            "generated": gen,
        }
        for mix, pcap in pcaps.items():
            size = pcap.stat().st_size
            info["mixes"][mix] = {"path": str(pcap), "mb": size / 1e6, "packets": 0}
            if size < 100e6:
                say(f"WARNING: {mix} pcap is {size / 1e6:.1f} MB, below the 100 MB the issue asks for")
        head = work / "startup.pcap"
        info["head_packets"] = sc.write_head(ordinary, head, 200)
        say("checking the package's output on both mixes (one run each, also a warm-up)")
        facts, warnings = check_runs(zeek, pcaps, work, say, args.with_badinput)
        info["checks"], info["warnings"] = facts, warnings
        for w in warnings:
            say(f"WARNING: {w}")
        for mix, pcap in pcaps.items():
            m = info["mixes"][mix]
            m["packets"] = sc.count_packets(pcap)
            conns, txs = facts[f"{mix}_conns"], facts[f"{mix}_http_transactions"]
            total = sum(txs.values())
            m["composition"] = (
                f"connections by service {conns}; {total} HTTP transactions "
                f"({txs.get('mcp', 0) / max(1, total):.0%} MCP)"
            )
        with Reporter(args.pairs * (len(MIXES) * 4 + 2)) as progress:
            series = measure(zeek, pcaps, head, args.pairs, work, progress)
        res = analyse(series)
        report(res, info, args.pairs, zeek_version)
        if args.instructions:
            say(f"counting instructions under callgrind on the first {args.instructions} packets of each mix")
            info["instructions"] = measure_instructions(zeek, pcaps, args.instructions, work)
            report_instructions(info["instructions"])
        ok = all(res[m]["cpu_ok"] and res[m]["memory_ok"] for m in MIXES)
        if args.json:
            print(
                json.dumps(
                    {
                        "zeek": zeek_version,
                        "pairs": args.pairs,
                        "targets": TARGETS,
                        "all_targets_met": ok,
                        "results": res,
                        **info,
                    },
                    default=str,
                )
            )
        return 0 if ok else 1
    finally:
        if not args.workdir:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
