"""Build the judge's "is this MCP?" examples and the tool definitions of the project's captures from tests/pcaps.

dpkt reads each capture; the TCP payload of each direction is put back in sequence order; JSON-RPC messages are
decoded with json.JSONDecoder.raw_decode wherever a JSON object starts (HTTP bodies, SSE `data:` lines, WebSocket
and raw TCP frames alike). One example per server (address and port) of a capture, labelled by labels.json
(`benign`: a look-alike). Writes data/judge/evidence.jsonl and data/judge/pcap_tools.jsonl (sorted, so a re-run
over the same captures writes the same bytes).

    .venv/bin/python scripts/judge_data.py
"""

from __future__ import annotations

import json
import re
import socket
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

import dpkt

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "ingest_python"))

from mcpeeker.judge.inputs import JudgeInput, PayloadFields, json_objects  # noqa: E402

PCAPS = ROOT / "tests" / "pcaps"
OUT = ROOT / "data" / "judge"
HEADER_LINE = re.compile(rb"^([A-Za-z0-9-]{2,64}):", re.M)
HEAD = re.compile(rb"(?:^|\r\n\r\n|\n)((?:GET|POST|PUT|DELETE|HTTP/1\.[01]) [^\r\n]*\r\n(?:[^\r\n]+\r\n)*)\r\n")
MAX_STREAM = 2_000_000  # bytes read per direction: the 10 MB bodies add nothing past the first messages

Flow = tuple[str, int, str, int]


def _addr(ip: Any) -> str:
    family = socket.AF_INET if isinstance(ip, dpkt.ip.IP) else socket.AF_INET6
    return socket.inet_ntop(family, ip.src), socket.inet_ntop(family, ip.dst)  # type: ignore[return-value]


def streams(path: Path) -> dict[Flow, bytes]:
    flows: dict[Flow, dict[int, bytes]] = defaultdict(dict)
    with path.open("rb") as handle:
        reader = dpkt.pcap.Reader(handle)
        link = reader.datalink()
        for _, buf in reader:
            frame = dpkt.ethernet.Ethernet(buf) if link == dpkt.pcap.DLT_EN10MB else dpkt.sll.SLL(buf)
            ip = frame.data
            if not isinstance(ip, (dpkt.ip.IP, dpkt.ip6.IP6)) or not isinstance(ip.data, dpkt.tcp.TCP):
                continue
            tcp = ip.data
            if tcp.data:
                src, dst = _addr(ip)  # type: ignore[misc]
                flows[(src, tcp.sport, dst, tcp.dport)].setdefault(tcp.seq, bytes(tcp.data))
    out = {}
    for flow, segments in flows.items():
        data = b"".join(segments[s] for s in sorted(segments))
        out[flow] = data[:MAX_STREAM]
    return out


def example(
    server: tuple[str, int], flows: dict[Flow, bytes], client: tuple[str, int] | None = None
) -> tuple[JudgeInput, list[dict[str, str]]]:
    """What the sensors saw of `server` (over one client connection when `client` is given)."""
    headers: list[str] = []
    fields = PayloadFields()
    for (src, sport, dst, dport), data in flows.items():
        to_server = (dst, dport) == server
        if not to_server and (src, sport) != server:
            continue
        if client is not None and client not in ((src, sport), (dst, dport)):
            continue
        for head in HEAD.findall(data):
            headers += [h.decode("ascii", "replace") for h in HEADER_LINE.findall(head)]
        for obj in json_objects(data.decode("utf-8", "replace")):
            fields.add_message(obj)
    judged = JudgeInput.build(
        fields.methods, headers, fields.result_shapes, fields.server_names, fields.client_names, (), fields.tools
    )
    return judged, [{"name": t.name, "description": t.description} for t in judged.tools]


def main() -> int:
    labels = {p["file"]: p for p in json.loads((PCAPS / "labels.json").read_text())["pcaps"]}
    evidence, pcap_tools = [], []
    for name in sorted(labels):
        label = labels[name]
        flows = streams(PCAPS / name)
        # the server side of a flow: the labelled server when there is one, else every listening port seen
        server = label.get("server") or {}
        if server.get("ip") and server.get("port"):
            servers = [(server["ip"], int(server["port"]))]
        else:
            servers = sorted({(dst, dport) for (_, sport, dst, dport) in flows if dport < sport})
        for address in servers:
            judged, tools = example(address, flows)
            source = f"tests/pcaps/{name} server {address[0]}:{address[1]}"
            for tool in tools:
                pcap_tools.append({"pcap": name, "source": source, **tool})
            # the whole capture, then each client connection alone: a sensor often sees only part of a session
            views = [("all", judged)]
            connections = sorted({(src, sport) for (src, sport, dst, dport) in flows if (dst, dport) == address})
            views += [(f"{ip}:{port}", example(address, flows, (ip, port))[0]) for ip, port in connections]
            seen = set()
            for view, judged in views:
                if not judged.protocol_text() or judged.content_hash() in seen:
                    continue
                seen.add(judged.content_hash())
                evidence.append(
                    {
                        "id": f"{name}:{address[0]}:{address[1]}:{view}",
                        "group": name,  # the held-out split keeps every view of a capture on one side
                        "label": "not_mcp" if label["benign"] else "mcp",
                        "source": f"{source} ({'whole capture' if view == 'all' else 'connection from ' + view})",
                        "input": judged.as_dict(),
                    }
                )
    OUT.mkdir(parents=True, exist_ok=True)
    with (OUT / "evidence.jsonl").open("w") as handle:
        for row in evidence:
            handle.write(json.dumps(row, sort_keys=True) + "\n")
    with (OUT / "pcap_tools.jsonl").open("w") as handle:
        for row in pcap_tools:
            handle.write(json.dumps(row, sort_keys=True) + "\n")
    print(f"judge data: {len(evidence)} evidence examples, {len(pcap_tools)} tool definitions from {len(labels)} pcaps")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
