#!/usr/bin/env python3
"""CPU cost of suricata/mcp.rules on a mixed pcap: MCP traffic plus plenty of ordinary HTTP.

    sudo .venv/bin/python bench/suricata_cost.py [--size-mb 60] [--runs 7] [--workdir DIR] [--pcap MIXED]

1. Ordinary HTTP is generated for real: a local HTTP server (pages, JSON API, form posts,
   downloads, a non-MCP SSE feed, an Ethereum-style JSON-RPC endpoint) and a keep-alive client
   run in a throw-away network namespace whose loopback has a 1500-byte MTU, captured with
   tcpdump. Needs root (network namespace, packet capture).
2. The MCP pcaps of tests/pcaps/ (real SDK traffic) are copied into the capture many times,
   spread over its duration, each copy on its own 10.x.<copy>.y addresses so flows never merge.
   The number of copies grows with --size-mb (4 per 60 MB by default), so a larger pcap keeps
   the same traffic mix: the same MCP share and the same kinds of ordinary HTTP, only more of it.
3. `suricata -r mixed.pcap` runs with mcp.rules and with an empty rule file, alternating, and
   the user+sys CPU time of each Suricata process is taken from wait4(). Printed: CPU seconds
   per run, the median of each, and the ratio (target <= 1.10).
4. Start-up: the same two rule sets on a pcap of the first packets of the mix (rule loading,
   MPM/SPM build and pcre JIT, but almost no traffic), so the report also gives the start-up
   CPU of each rule set and the per-traffic ratio with start-up taken out of both sides.

--pcap reuses a mixed pcap built earlier (e.g. kept with --workdir) and skips generation.

The generated pcaps are written to --workdir (default: a temp dir), never to the repository.
"""

from __future__ import annotations

import argparse
import heapq
import os
import shutil
import signal
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "ingest_python"))

from mcpeeker.sensors import suricata as sur  # noqa: E402

RULES = REPO / "suricata" / "mcp.rules"
MCP_PCAPS = REPO / "tests" / "pcaps"
PCAP_MAGIC_US = 0xA1B2C3D4
LINKTYPE_ETHERNET = 1
PORT = 8080

# --- ordinary HTTP traffic: server and client scripts run inside the namespace ------------------

SERVER = r'''
import json, random, sys, time
from http.server import ThreadingHTTPServer, BaseHTTPRequestHandler
WORDS = ("quarterly report meeting agenda invoice customer product release notes cluster "
         "deployment budget travel policy holiday schedule onboarding security training").split()
rng = random.Random(7)
def text(n):
    out, size = [], 0
    while size < n:
        w = rng.choice(WORDS); out.append(w); size += len(w) + 1
    return " ".join(out)
class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a): pass
    def send(self, code, ctype, body, extra=()):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in extra: self.send_header(k, v)
        self.end_headers(); self.wfile.write(body)
    def body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""
    def do_GET(self):
        p = self.path
        if p.startswith("/page/"):
            n = int(p.split("/")[2]) % 60 + 2
            html = "<html><head><title>Intranet %s</title></head><body><h1>News</h1><p>%s</p><form action='/search'><input name='q'></form></body></html>" % (p, text(n * 1024))
            self.send(200, "text/html; charset=utf-8", html.encode())
        elif p.startswith("/api/items"):
            items = [{"id": i, "name": text(20), "price": i * 1.5, "tags": ["a", "b"]} for i in range(rng.randint(5, 60))]
            self.send(200, "application/json", json.dumps({"items": items, "next": "/api/items?page=2"}).encode())
        elif p.startswith("/static/"):
            js = "function f%d(){return '%s';}\n" % (len(p), text(200))
            self.send(200, "application/javascript", (js * rng.randint(20, 400)).encode(), [("Cache-Control", "max-age=3600")])
        elif p.startswith("/download/"):
            self.send(200, "application/octet-stream", rng.randbytes(rng.randint(100_000, 900_000)))
        elif p.startswith("/events"):
            # A non-MCP notification feed over SSE.
            ev = "".join("event: notification\nid: %d\ndata: {\"type\":\"mail\",\"subject\":\"%s\"}\n\n" % (i, text(40)) for i in range(rng.randint(5, 40)))
            self.send(200, "text/event-stream", ev.encode(), [("Cache-Control", "no-cache")])
        elif p.startswith("/search"):
            self.send(200, "text/html", ("<ul>" + "".join("<li>%s</li>" % text(60) for _ in range(30)) + "</ul>").encode())
        else:
            self.send(404, "text/plain", b"not found")
    def do_POST(self):
        data = self.body()
        if self.path == "/rpc":
            req = json.loads(data)
            self.send(200, "application/json", json.dumps({"jsonrpc": "2.0", "id": req.get("id"), "result": hex(rng.getrandbits(64))}).encode())
        elif self.path == "/form":
            self.send(303, "text/html", b"<p>thanks</p>", [("Location", "/page/1")])
        else:
            self.send(201, "application/json", json.dumps({"ok": True, "received": len(data), "echo": data[:200].decode("latin1")}).encode())
ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
'''

CLIENT = r'''
import http.client, json, random, sys, threading
port, target, workers = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
total = [0]; lock = threading.Lock()
def worker(seed):
    rng = random.Random(seed)
    conn = None
    while True:
        with lock:
            if total[0] >= target: return
        if conn is None or rng.random() < 0.15:  # some keep-alive, some new connections
            if conn: conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        kind = rng.random()
        hdrs = {"User-Agent": rng.choice(["Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0", "curl/8.5.0", "python-requests/2.32.3"]),
                "Accept": "*/*", "Host": "intranet.corp.example"}
        if kind < 0.35:
            conn.request("GET", "/page/%d" % rng.randint(1, 500), headers=hdrs)
        elif kind < 0.55:
            conn.request("GET", "/api/items?page=%d" % rng.randint(1, 50), headers=dict(hdrs, Accept="application/json"))
        elif kind < 0.65:
            conn.request("GET", "/static/app%d.js" % rng.randint(1, 40), headers=hdrs)
        elif kind < 0.70:
            conn.request("GET", "/download/file%d.bin" % rng.randint(1, 99), headers=hdrs)
        elif kind < 0.75:
            conn.request("GET", "/events", headers=dict(hdrs, Accept="text/event-stream"))
        elif kind < 0.82:
            body = json.dumps({"jsonrpc": "2.0", "id": rng.randint(1, 9999), "method": rng.choice(["eth_blockNumber", "eth_getBalance", "net_version"]), "params": []})
            conn.request("POST", "/rpc", body=body, headers=dict(hdrs, **{"Content-Type": "application/json"}))
        elif kind < 0.90:
            body = "name=Alice+Smith&email=alice%40corp.example&message=" + "hello+" * rng.randint(5, 300)
            conn.request("POST", "/form", body=body, headers=dict(hdrs, **{"Content-Type": "application/x-www-form-urlencoded"}))
        else:
            body = json.dumps({"order": rng.randint(1, 10**6), "lines": [{"sku": "A-%d" % i, "qty": i} for i in range(rng.randint(1, 80))]})
            conn.request("POST", "/api/orders", body=body, headers=dict(hdrs, **{"Content-Type": "application/json"}))
        resp = conn.getresponse(); data = resp.read()
        with lock:
            total[0] += len(data) + 300
threads = [threading.Thread(target=worker, args=(i,)) for i in range(workers)]
for t in threads: t.start()
for t in threads: t.join()
print(total[0])
'''


def run(cmd: list[str], **kw: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, check=True, text=True, capture_output=True, **kw)  # type: ignore[call-overload]


def capture_ordinary_http(out: Path, size_mb: int, workdir: Path) -> tuple[int, str]:
    """Run the server and client in a fresh netns (lo MTU 1500) and tcpdump the traffic."""
    if os.geteuid() != 0:
        sys.exit("suricata_cost.py: generating traffic needs root (network namespace + tcpdump)")
    for tool in ("ip", "tcpdump"):
        if not shutil.which(tool):
            sys.exit(f"suricata_cost.py: {tool} not found")
    ns = f"mcpbench-{os.getpid()}"
    (workdir / "server.py").write_text(SERVER)
    (workdir / "client.py").write_text(CLIENT)
    subprocess.run(["ip", "netns", "del", ns], capture_output=True)
    run(["ip", "netns", "add", ns])
    dump = server = None
    try:
        run(["ip", "netns", "exec", ns, "ip", "link", "set", "lo", "up", "mtu", "1500"])
        # One segment per GSO packet: tcpdump then sees wire-sized (<= 1514 byte) frames.
        run(["ip", "netns", "exec", ns, "ip", "link", "set", "lo", "gso_max_segs", "1", "gso_max_size", "1500"])
        nsx = ["ip", "netns", "exec", ns]
        dump = subprocess.Popen([*nsx, "tcpdump", "-i", "lo", "-s", "0", "-B", "65536", "-U", "-w", str(out), "tcp"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        time.sleep(1.0)
        server = subprocess.Popen([*nsx, sys.executable, str(workdir / "server.py"), str(PORT)])
        time.sleep(1.0)
        target = size_mb * 1024 * 1024
        got = run([*nsx, sys.executable, str(workdir / "client.py"), str(PORT), str(target), "4"]).stdout.strip()
        time.sleep(0.5)
    finally:
        if server:
            server.terminate()
            server.wait()
        stats = ""
        if dump:
            dump.send_signal(signal.SIGINT)
            _, err = dump.communicate(timeout=30)
            stats = " ".join(ln for ln in err.splitlines() if "packets" in ln)
        subprocess.run(["ip", "netns", "del", ns], capture_output=True)
    return int(got), stats


# --- pcap merging ---------------------------------------------------------------------------------


def read_pcap(path: Path) -> tuple[int, list[tuple[float, bytes]]]:
    data = path.read_bytes()
    magic, _, _, _, _, snaplen, linktype = struct.unpack("<IHHiIII", data[:24])
    if magic != PCAP_MAGIC_US:
        raise SystemExit(f"{path}: not a little-endian microsecond pcap (magic {magic:#x})")
    packets, off = [], 24
    while off + 16 <= len(data):
        sec, usec, incl, _ = struct.unpack("<IIII", data[off:off + 16])
        packets.append((sec + usec / 1e6, data[off + 16:off + 16 + incl]))
        off += 16 + incl
    return linktype, packets


def _ip_checksum(header: bytes) -> int:
    total = sum(struct.unpack(f"!{len(header) // 2}H", header))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def relabel(frame: bytes, copy: int) -> bytes:
    """Move the test addresses 10.a.0.b to 10.a.<copy>.b so each copy is its own set of flows.

    Only the IPv4 header checksum is fixed; Suricata runs with -k none (as in the tests).
    """
    if len(frame) < 34 or frame[12:14] != b"\x08\x00":
        return frame
    ihl = (frame[14] & 0x0F) * 4
    ip = bytearray(frame[14:14 + ihl])
    for off in (12, 16):
        if ip[off] == 10:
            ip[off + 2] = copy % 250 + 1
    ip[10:12] = b"\x00\x00"
    ip[10:12] = struct.pack("!H", _ip_checksum(bytes(ip)))
    return frame[:14] + bytes(ip) + frame[14 + ihl:]


def build_mixed(http_pcap: Path, out: Path, mcp_copies: int) -> dict[str, int]:
    link, http = read_pcap(http_pcap)
    if link != LINKTYPE_ETHERNET:
        raise SystemExit(f"{http_pcap}: link type {link}, expected Ethernet")
    start, end = http[0][0], http[-1][0]
    mcp_files = sorted(p for p in MCP_PCAPS.glob("*.pcap"))
    streams: list[Iterator[tuple[float, bytes]]] = [iter(http)]
    mcp_bytes = 0
    for copy in range(mcp_copies):
        for index, path in enumerate(mcp_files):
            mlink, pkts = read_pcap(path)
            if mlink != LINKTYPE_ETHERNET or not pkts:
                continue
            # Spread the copies evenly over the ordinary traffic.
            slot = (copy * len(mcp_files) + index) / max(1, mcp_copies * len(mcp_files))
            shift = start + slot * (end - start) - pkts[0][0]
            moved = [(ts + shift, relabel(frame, copy)) for ts, frame in pkts]
            mcp_bytes += sum(len(f) for _, f in moved)
            streams.append(iter(moved))
    with out.open("wb") as fh:
        fh.write(struct.pack("<IHHiIII", PCAP_MAGIC_US, 2, 4, 0, 0, 262144, LINKTYPE_ETHERNET))
        count = 0
        for ts, frame in heapq.merge(*streams, key=lambda p: p[0]):
            sec = int(ts)
            usec = min(int(round((ts - sec) * 1e6)), 999_999)
            fh.write(struct.pack("<IIII", sec, usec, len(frame), len(frame)))
            fh.write(frame)
            count += 1
    return {"packets": count, "http_bytes": sum(len(f) for _, f in http), "mcp_bytes": mcp_bytes,
            "mcp_files": len(mcp_files), "mcp_copies": mcp_copies}


# --- measurement ----------------------------------------------------------------------------------


def cpu_of_run(
    pcap: Path, rules: Path, outdir: Path, exe: Path, extra: tuple[str, ...] = ()
) -> tuple[float, Counter[int]]:
    """Run Suricata once; return its user+sys CPU seconds (wait4) and MCPEEKER alert counts."""
    outdir.mkdir(parents=True, exist_ok=True)
    for stale in ("eve.json", "suricata.log"):
        (outdir / stale).unlink(missing_ok=True)
    cmd = [str(exe), "-c", str(sur.DEFAULT_CONFIG), "-S", str(rules), "-r", str(pcap), "-l", str(outdir),
           "-k", "none", "--runmode", "single", "--set", "threshold-file=/dev/null", *extra]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
        raise SystemExit(f"suricata failed ({proc.returncode}): {err[-2000:]}")
    eve = outdir / "eve.json"
    return usage.ru_utime + usage.ru_stime, (sur.alert_sid_counts(eve) if eve.exists() else Counter())


def expected_alerts(copies: int) -> int:
    import json

    labels = json.loads((MCP_PCAPS / "labels.json").read_text())["pcaps"]
    return copies * sum(sum(e.get("suricata_sids", {}).values()) for e in labels)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size-mb", type=int, default=60, help="ordinary HTTP to generate (MB of payload)")
    ap.add_argument("--mcp-copies", type=int, help="copies of each MCP test pcap mixed in "
                    "(default: 4 per 60 MB of ordinary HTTP, i.e. the same mix at any size)")
    ap.add_argument("--runs", type=int, default=7, help="Suricata runs per rule set (alternating)")
    ap.add_argument("--workdir", type=Path, help="keep generated pcaps here (default: temp dir, removed)")
    ap.add_argument("--pcap", type=Path, help="reuse this mixed pcap instead of generating one")
    ap.add_argument("--rules", type=Path, default=RULES, help="rule file to measure (default: suricata/mcp.rules)")
    ap.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                    help="extra Suricata --set for every run (e.g. a sensor's body limits)")
    args = ap.parse_args()
    if args.mcp_copies is None:
        args.mcp_copies = max(1, round(4 * args.size_mb / 60))

    exe = sur.find_suricata()
    work = args.workdir or Path(tempfile.mkdtemp(prefix="mcpeeker-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        mixed = args.pcap or work / "mixed.pcap"
        if args.pcap:
            print(f"reusing {mixed} (expected alerts assume --mcp-copies {args.mcp_copies})")
        else:
            http_pcap = work / "ordinary-http.pcap"
            t0 = time.monotonic()
            sent, tcpdump_stats = capture_ordinary_http(http_pcap, args.size_mb, work)
            info = build_mixed(http_pcap, mixed, args.mcp_copies)
            print(f"generated in {time.monotonic() - t0:.1f}s")
            print(f"  ordinary HTTP {info['http_bytes'] / 1e6:.1f} MB (client counted {sent / 1e6:.1f} MB; "
                  f"tcpdump: {tcpdump_stats})")
            print(f"  MCP {info['mcp_bytes'] / 1e6:.1f} MB = {info['mcp_files']} test pcaps x {info['mcp_copies']} copies")
        size, packets = mixed.stat().st_size, count_packets(mixed)
        print(f"mixed pcap: {mixed} {size / 1e6:.1f} MB, {packets} packets; rules: {args.rules}")
        if size < 50 * 1e6:
            print(f"WARNING: mixed pcap is {size / 1e6:.1f} MB, below the 50 MB the issue asks for")
        head = work / "startup.pcap"
        head_packets = write_head(mixed, head, 200)
        result = measure(args, exe, mixed, head, work)
        report(result, size, packets, head_packets, args.runs)
        return 0 if result.ratio <= 1.10 else 1
    finally:
        if not args.workdir:
            shutil.rmtree(work, ignore_errors=True)


def count_packets(pcap: Path) -> int:
    return len(read_pcap(pcap)[1])


def write_head(pcap: Path, out: Path, n: int) -> int:
    """The first n packets of pcap: enough to start every thread, too few to cost traffic CPU."""
    link, packets = read_pcap(pcap)
    with out.open("wb") as fh:
        fh.write(struct.pack("<IHHiIII", PCAP_MAGIC_US, 2, 4, 0, 0, 262144, link))
        for ts, frame in packets[:n]:
            sec = int(ts)
            fh.write(struct.pack("<IIII", sec, min(int(round((ts - sec) * 1e6)), 999_999), len(frame), len(frame)))
            fh.write(frame)
    return min(n, len(packets))


class Result:
    def __init__(self, cpu: dict[str, list[float]], alerts: Counter[int], ordinary_fp: int, copies: int,
                 http_txs: Counter[str]) -> None:
        self.cpu, self.alerts, self.ordinary_fp, self.copies = cpu, alerts, ordinary_fp, copies
        self.http_txs = http_txs  # HTTP transactions in the mix: "mcp" (10.x test flows) vs "ordinary"
        self.med = {name: statistics.median(v) for name, v in cpu.items()}
        self.ratio = self.med["mcp.rules"] / self.med["empty"]


def measure(args: argparse.Namespace, exe: Path, mixed: Path, head: Path, work: Path) -> Result:
    empty = work / "empty.rules"
    empty.write_text("")
    common = tuple(x for kv in args.overrides for x in ("--set", kv))
    # Same config for both; "eve off" isolates detection from alert/record logging.
    eve_off = ("--set", "outputs.0.eve-log.enabled=no")
    variants = {
        "mcp.rules": (mixed, args.rules, common),
        "empty": (mixed, empty, common),
        "mcp.rules/eve-off": (mixed, args.rules, common + eve_off),
        "empty/eve-off": (mixed, empty, common + eve_off),
        "startup mcp.rules": (head, args.rules, common),
        "startup empty": (head, empty, common),
    }
    cpu: dict[str, list[float]] = {name: [] for name in variants}
    alerts: Counter[int] = Counter()
    for i in range(args.runs):
        for name, (pcap, rules, extra) in variants.items():
            outdir = work / f"run-{name.replace('/', '-').replace(' ', '-')}-{i}"
            seconds, counts = cpu_of_run(pcap, rules, outdir, exe, extra)
            cpu[name].append(seconds)
            if name == "mcp.rules":
                alerts = counts
        print(f"  run {i + 1}: " + ", ".join(f"{n} {cpu[n][-1]:.3f}s" for n in variants))
    ordinary = sum(1 for a in sur.read_eve(work / "run-mcp.rules-0" / "eve.json", "alert")
                   if a["src_ip"].startswith("127.") and sur.SID_MIN <= a["alert"]["signature_id"] <= sur.SID_MAX)
    http_txs = Counter("ordinary" if h["src_ip"].startswith("127.") else "mcp"
                       for h in sur.read_eve(work / "run-empty-0" / "eve.json", "http"))
    return Result(cpu, alerts, ordinary, args.mcp_copies, http_txs)


def report(r: Result, size: int, packets: int, head_packets: int, runs: int) -> None:
    med = r.med
    rules_start, empty_start = med["startup mcp.rules"], med["startup empty"]
    traffic = (med["mcp.rules"] - rules_start) / (med["empty"] - empty_start)
    print()
    total_txs = sum(r.http_txs.values())
    print(f"pcap {size / 1e6:.1f} MB, {packets} packets, {total_txs} HTTP transactions "
          f"({r.http_txs['mcp'] / max(1, total_txs):.0%} MCP); median user+sys CPU of {runs} alternated runs each")
    print(f"  mcp.rules {med['mcp.rules']:.3f}s   empty rule file {med['empty']:.3f}s")
    print(f"COST RATIO (mcp.rules / empty rule file): {r.ratio:.3f}  "
          f"(min-based {min(r.cpu['mcp.rules']) / min(r.cpu['empty']):.3f}; target <= 1.10)")
    print(f"  start-up ({head_packets}-packet pcap): mcp.rules {rules_start:.3f}s, empty {empty_start:.3f}s "
          f"-> rule loading costs {rules_start - empty_start:.3f}s once per sensor start "
          f"({(rules_start - empty_start) / max(1e-9, med['mcp.rules'] - med['empty']):.0%} of the difference)")
    print(f"  per-traffic ratio, start-up taken out of both sides: {traffic:.3f}")
    print(f"  detection only, eve output off: {med['mcp.rules/eve-off'] / med['empty/eve-off']:.3f} "
          f"({med['mcp.rules/eve-off']:.3f}s vs {med['empty/eve-off']:.3f}s)")
    print(f"MCPEEKER alerts in the mixed pcap: {sum(r.alerts.values())} ({len(r.alerts)} distinct sids)")
    print(f"  expected from labels.json x copies: {expected_alerts(r.copies)}")
    print(f"  MCPEEKER alerts on the ordinary HTTP flows (false positives): {r.ordinary_fp}")


if __name__ == "__main__":
    raise SystemExit(main())
