#!/usr/bin/env python3
"""Marginal CPU cost of suricata/mcp.rules on top of ET Open, on ordinary and MCP-heavy traffic.

    sudo .venv/bin/python bench/suricata_cost.py [--etopen DIR] [--size-mb 60] [--pairs 7] [--workdir DIR]

1. Ordinary HTTP is generated for real: a local HTTP server (pages, JSON API, form posts,
   downloads, a non-MCP SSE feed, an Ethereum-style JSON-RPC endpoint) and a keep-alive client
   run in a throw-away network namespace whose loopback has a 1500-byte MTU, captured with
   tcpdump. Needs root (network namespace, packet capture). That capture is the `ordinary` mix.
2. The `mcp-heavy` mix: the MCP pcaps of tests/pcaps/ (real SDK traffic) copied into the capture
   many times, spread over its duration, each copy on its own 10.x.<copy>.y addresses so flows
   never merge. The number of copies grows with --size-mb (4 per 60 MB by default).
3. Real sensors run a full rule set, so the baseline is ET Open (--etopen, default
   ../shared/etopen beside the repository, every *.rules concatenated). One `suricata
   --unix-socket` per rule set, each loaded once: ET Open; ET Open + mcp.rules; a second ET Open
   (A/A control, the noise floor); and, as information, an empty rule file and mcp.rules alone.
   Each pcap is fed as `suricatasc -c "pcap-file PCAP DIR"` does (same JSON protocol) to every
   sensor in turn, order flipped every pair; the CPU of a pcap is the difference of the sensor
   process's utime+stime (/proc/PID/stat) before it and after `pcap-file-number` is 0 and
   `pcap-current` is None, so rule loading is not counted.
4. Printed: rules loaded/failed per sensor (`ruleset-stats`), and per mix the median [min-max]
   of the paired ratios ET Open+ours / ET Open (target <= 1.05 on ordinary traffic), the A/A
   ratio, and mcp.rules / empty rule file (information; an empty rule file turns detection off).
   MCPEEKER alerts with ET Open loaded are checked against tests/pcaps/labels.json.

--pcap-ordinary / --pcap-mcp reuse pcaps kept with --workdir and skip generation.
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

SERVER = r"""
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
"""

CLIENT = r"""
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
"""


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
        dump = subprocess.Popen(
            [*nsx, "tcpdump", "-i", "lo", "-s", "0", "-B", "65536", "-U", "-w", str(out), "tcp"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
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
        sec, usec, incl, _ = struct.unpack("<IIII", data[off : off + 16])
        packets.append((sec + usec / 1e6, data[off + 16 : off + 16 + incl]))
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
    ip = bytearray(frame[14 : 14 + ihl])
    for off in (12, 16):
        if ip[off] == 10:
            ip[off + 2] = copy % 250 + 1
    ip[10:12] = b"\x00\x00"
    ip[10:12] = struct.pack("!H", _ip_checksum(bytes(ip)))
    return frame[:14] + bytes(ip) + frame[14 + ihl :]


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
    return {
        "packets": count,
        "http_bytes": sum(len(f) for _, f in http),
        "mcp_bytes": mcp_bytes,
        "mcp_files": len(mcp_files),
        "mcp_copies": mcp_copies,
    }


# --- measurement: one long-running Suricata per rule set, pcaps fed through the unix socket ----------

# Variables ET Open rules use (Suricata's default suricata.yaml), for a sensor whose home network holds
# the generated traffic: loopback (ordinary HTTP) and 10.x (MCP copies). EXTERNAL_NET "any" as in
# suricata-test.yaml, HTTP_PORTS with the bench server's 8080, so ET Open inspects the ordinary HTTP as a
# web sensor would (with the default "80" most ET HTTP rules would skip it and ours would look dearer).
ETOPEN_VARS = {
    "vars.address-groups.HOME_NET": "[127.0.0.0/8,10.0.0.0/8,172.16.0.0/12,192.168.0.0/16]",
    "vars.address-groups.EXTERNAL_NET": "any",
    **{
        f"vars.address-groups.{k}": "$HOME_NET"
        for k in (
            "HTTP_SERVERS",
            "SMTP_SERVERS",
            "SQL_SERVERS",
            "DNS_SERVERS",
            "TELNET_SERVERS",
            "DC_SERVERS",
            "DNP3_SERVER",
            "DNP3_CLIENT",
            "MODBUS_CLIENT",
            "MODBUS_SERVER",
            "ENIP_CLIENT",
            "ENIP_SERVER",
        )
    },
    "vars.address-groups.AIM_SERVERS": "$EXTERNAL_NET",
    "vars.port-groups.HTTP_PORTS": "[80,8080]",
    "vars.port-groups.SHELLCODE_PORTS": "!80",
    "vars.port-groups.ORACLE_PORTS": "1521",
    "vars.port-groups.SSH_PORTS": "22",
    "vars.port-groups.DNP3_PORTS": "20000",
    "vars.port-groups.MODBUS_PORTS": "502",
    "vars.port-groups.FILE_DATA_PORTS": "[$HTTP_PORTS,110,143]",
    "vars.port-groups.FTP_PORTS": "21",
    "vars.port-groups.GENEVE_PORTS": "6081",
    "vars.port-groups.VXLAN_PORTS": "4789",
    "vars.port-groups.TEREDO_PORTS": "3544",
}
CLK_TCK = os.sysconf("SC_CLK_TCK")


def default_etopen() -> Path:
    return REPO.parent / "shared" / "etopen"


def etopen_rules(etopen: Path, out: Path) -> tuple[int, list[str]]:
    """Concatenate every *.rules of the ET Open snapshot; return (enabled rules, files)."""
    if not etopen.is_dir():
        raise SystemExit(
            f"suricata_cost.py: ET Open directory {etopen} not found (give the snapshot's directory with --etopen DIR)"
        )
    files = sorted(etopen.glob("*.rules"))
    if not files:
        raise SystemExit(f"suricata_cost.py: no *.rules in {etopen}")
    enabled = 0
    with out.open("w") as fh:
        for f in files:
            text = f.read_text(errors="replace")
            enabled += sum(1 for ln in text.splitlines() if ln.startswith(("alert", "drop", "pass", "reject")))
            fh.write(text)
            fh.write("\n")
    return enabled, [f.name for f in files]


class Sensor:
    """`suricata --unix-socket` with one rule set; pcaps are fed as `suricatasc -c "pcap-file …"` does."""

    def __init__(self, name: str, rules: Path, exe: Path, work: Path, sets: list[str]) -> None:
        self.name, self.rules = name, rules
        self.dir = work / f"sensor-{name.replace('+', '-').replace(' ', '-')}"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.sock = self.dir / "suricata.socket"
        self.sock.unlink(missing_ok=True)
        cmd = [
            str(exe),
            "-c",
            str(sur.DEFAULT_CONFIG),
            "-S",
            str(rules),
            "-l",
            str(self.dir),
            "-k",
            "none",
            f"--unix-socket={self.sock}",
            "--set",
            "threshold-file=/dev/null",
            "--set",
            "runmode=single",
            *(x for kv in sets for x in ("--set", kv)),
        ]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=(self.dir / "stderr.txt").open("w"))
        self.runs = 0

    def wait_ready(self, timeout: float = 900) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                err = (self.dir / "stderr.txt").read_text(errors="replace")[-2000:]
                raise SystemExit(f"suricata ({self.name}) exited {self.proc.returncode}: {err}")
            if self.sock.exists():
                try:
                    self.command("uptime")
                    return
                except OSError:
                    pass
            time.sleep(0.5)
        raise SystemExit(f"suricata ({self.name}) not ready after {timeout:.0f}s")

    def command(self, name: str, arguments: dict[str, str] | None = None) -> object:
        """One command over the unix socket (protocol 0.2, the one suricatasc speaks)."""
        import json
        import socket

        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(60)
            s.connect(str(self.sock))

            def call(msg: dict[str, object], end: str = "\n") -> dict[str, object]:
                s.sendall((json.dumps(msg) + end).encode())
                buf = b""
                while True:
                    chunk = s.recv(65536)
                    if not chunk:
                        raise OSError("socket closed")
                    buf += chunk
                    try:
                        return json.loads(buf)  # type: ignore[no-any-return]
                    except ValueError:
                        continue

            if call({"version": "0.2"}, "").get("return") != "OK":
                raise OSError("unix socket refused protocol 0.2")
            msg: dict[str, object] = {"command": name}
            if arguments:
                msg["arguments"] = arguments
            reply = call(msg)
        if reply.get("return") != "OK":
            raise SystemExit(f"suricata ({self.name}) {name}: {reply}")
        return reply.get("message")

    def cpu(self) -> float:
        """utime+stime of the suricata process (all its threads), seconds."""
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLK_TCK

    def process(self, pcap: Path) -> tuple[float, Path]:
        """Feed one pcap; return the CPU seconds the process spent until it was done, and its eve dir."""
        out = self.dir / f"pcap-{self.runs}"
        self.runs += 1
        out.mkdir(exist_ok=True)
        (out / "eve.json").unlink(missing_ok=True)
        before = self.cpu()
        self.command("pcap-file", {"filename": str(pcap), "output-dir": str(out)})
        while True:
            time.sleep(0.02)
            if self.command("pcap-file-number") == 0 and self.command("pcap-current") == "None":
                break
        return self.cpu() - before, out

    def ruleset(self) -> tuple[int, int]:
        stats = self.command("ruleset-stats")
        first = stats[0] if isinstance(stats, list) else stats
        return int(first["rules_loaded"]), int(first["rules_failed"])  # type: ignore[index]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def expected_alerts(copies: int) -> int:
    import json

    labels = json.loads((MCP_PCAPS / "labels.json").read_text())["pcaps"]
    return copies * sum(sum(e.get("suricata_sids", {}).values()) for e in labels)


def ours(eve: Path) -> list[dict[str, object]]:
    if not eve.exists():
        return []
    return [a for a in sur.read_eve(eve, "alert") if sur.SID_MIN <= a["alert"]["signature_id"] <= sur.SID_MAX]


def spread(values: list[float]) -> str:
    return f"{statistics.median(values):.3f} [{min(values):.3f}-{max(values):.3f}]"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--etopen",
        type=Path,
        default=default_etopen(),
        help="ET Open snapshot directory (*.rules, classification.config); default ../shared/etopen",
    )
    ap.add_argument("--size-mb", type=int, default=60, help="ordinary HTTP to generate (MB of payload)")
    ap.add_argument(
        "--mcp-copies",
        type=int,
        help="copies of each MCP test pcap in the MCP-heavy mix "
        "(default: 4 per 60 MB of ordinary HTTP, i.e. the same mix at any size)",
    )
    ap.add_argument("--pairs", type=int, default=7, help="alternated pairs per mix")
    ap.add_argument(
        "--workdir", type=Path, help="keep generated pcaps and sensor logs here (default: temp dir, removed)"
    )
    ap.add_argument("--pcap-ordinary", type=Path, help="reuse this ordinary pcap (no MCP) instead of generating one")
    ap.add_argument("--pcap-mcp", type=Path, help="reuse this MCP-heavy pcap (needs --pcap-ordinary)")
    ap.add_argument("--rules", type=Path, default=RULES, help="rule file to measure (default: suricata/mcp.rules)")
    ap.add_argument("--no-empty", action="store_true", help="skip the information ratio against an empty rule file")
    ap.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="extra Suricata --set for every sensor (e.g. a sensor's body limits)",
    )
    args = ap.parse_args()
    if args.mcp_copies is None:
        args.mcp_copies = max(1, round(4 * args.size_mb / 60))
    if args.pcap_mcp and not args.pcap_ordinary:
        ap.error("--pcap-mcp needs --pcap-ordinary")
    if not args.etopen.is_dir():
        raise SystemExit(
            f"suricata_cost.py: ET Open directory {args.etopen} not found "
            "(give the snapshot's directory with --etopen DIR)"
        )

    exe = sur.find_suricata()
    work = (args.workdir or Path(tempfile.mkdtemp(prefix="mcpeeker-bench-"))).resolve()
    work.mkdir(parents=True, exist_ok=True)
    sensors: list[Sensor] = []
    try:
        ordinary = args.pcap_ordinary or work / "ordinary-http.pcap"
        mcp = args.pcap_mcp or work / "mcp-heavy.pcap"
        if not args.pcap_ordinary:
            t0 = time.monotonic()
            sent, tcpdump_stats = capture_ordinary_http(ordinary, args.size_mb, work)
            print(
                f"ordinary HTTP generated in {time.monotonic() - t0:.1f}s (client counted {sent / 1e6:.1f} MB; "
                f"tcpdump: {tcpdump_stats})"
            )
        if not args.pcap_mcp:
            info = build_mixed(ordinary, mcp, args.mcp_copies)
            print(
                f"  MCP-heavy mix: + {info['mcp_bytes'] / 1e6:.1f} MB MCP = {info['mcp_files']} test pcaps "
                f"x {info['mcp_copies']} copies"
            )
        mixes = {"ordinary": ordinary, "mcp-heavy": mcp}
        for name, pcap in mixes.items():
            print(f"{name}: {pcap} {pcap.stat().st_size / 1e6:.1f} MB, {count_packets(pcap)} packets")

        et = work / "etopen.rules"
        et_enabled, et_files = etopen_rules(args.etopen, et)
        both = work / "etopen+mcp.rules"
        both.write_text(et.read_text() + "\n" + args.rules.read_text())
        empty = work / "empty.rules"
        empty.write_text("")
        print(f"ET Open: {args.etopen} ({len(et_files)} files, {et_enabled} enabled rules); ours: {args.rules}")
        sets = [f"{k}={v}" for k, v in ETOPEN_VARS.items()]
        classification = args.etopen / "classification.config"
        if classification.exists():
            sets.append(f"classification-file={classification}")
        sets += args.overrides
        specs = {"etopen": et, "etopen+mcp": both, "etopen-AA": et}
        if not args.no_empty:
            specs |= {"empty": empty, "mcp": args.rules}
        t0 = time.monotonic()
        for name, rules in specs.items():  # started one after another: rule loading uses both cores
            sensors.append(Sensor(name, rules, exe, work, sets))
            sensors[-1].wait_ready()
        by = {s.name: s for s in sensors}
        print(f"{len(sensors)} sensors up in {time.monotonic() - t0:.0f}s; rules loaded / failed:")
        loaded = {}
        for s in sensors:
            loaded[s.name] = s.ruleset()
            print(f"  {s.name:11s} {loaded[s.name][0]:6d} loaded, {loaded[s.name][1]:5d} failed")

        pairs = {"mcp": ("etopen+mcp", "etopen"), "AA": ("etopen-AA", "etopen")}
        if not args.no_empty:
            pairs["empty"] = ("mcp", "empty")
        ratios = {(m, p): [] for m in mixes for p in pairs}
        cpu: dict[tuple[str, str], list[float]] = {(m, s.name): [] for m in mixes for s in sensors}
        eves: dict[str, Path] = {}
        for i in range(args.pairs):
            for mix, pcap in mixes.items():
                order = [s.name for s in sensors]
                if i % 2:
                    order.reverse()  # flip the order every pair
                secs = {}
                for name in order:
                    secs[name], out = by[name].process(pcap)
                    cpu[(mix, name)].append(secs[name])
                    if i == 0 and name == "etopen+mcp":
                        eves[mix] = out / "eve.json"
                for p, (a, b) in pairs.items():
                    ratios[(mix, p)].append(secs[a] / secs[b])
                print(f"  pair {i + 1} {mix:9s} " + "  ".join(f"{n} {secs[n]:.2f}s" for n in specs), flush=True)

        print()
        print(
            f"CPU of the suricata process per pcap (utime+stime), {args.pairs} alternated pairs; "
            "ratio = median [min-max] of the paired ratios"
        )
        print(
            f"{'mix':10s} {'ET Open+ours / ET Open':>26s} {'A/A (ET Open / ET Open)':>26s} "
            f"{'ours / empty (info)':>24s}  target"
        )
        ok = True
        for mix in mixes:
            target = "<= 1.05" if mix == "ordinary" else "report"
            med = statistics.median(ratios[(mix, "mcp")])
            verdict = ""
            if mix == "ordinary":
                verdict = "met" if med <= 1.05 else "MISSED"
                ok = ok and med <= 1.05
            emp = spread(ratios[(mix, "empty")]) if not args.no_empty else "-"
            print(
                f"{mix:10s} {spread(ratios[(mix, 'mcp')]):>26s} {spread(ratios[(mix, 'AA')]):>26s} "
                f"{emp:>24s}  {target} {verdict}"
            )
            print("           median s: " + ", ".join(f"{n} {statistics.median(cpu[(mix, n)]):.2f}" for n in specs))
        fp = ours(eves["ordinary"])
        got = ours(eves["mcp-heavy"])
        print(
            f"MCPEEKER alerts with ET Open loaded: MCP-heavy {len(got)} (expected from labels.json "
            f"x {args.mcp_copies} copies: {expected_alerts(args.mcp_copies)}), ordinary {len(fp)} (false positives)"
        )
        return 0 if ok else 1
    finally:
        for s in sensors:
            s.stop()
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


if __name__ == "__main__":
    raise SystemExit(main())
