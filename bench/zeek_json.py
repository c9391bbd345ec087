#!/usr/bin/env python3
"""JSON parsing in Zeek script land: the package's json_parse against Zeek's native from_json().

    .venv/bin/python bench/zeek_json.py [--rounds 40] [--runs 5] [--scripts zeek/scripts]

1. Real bodies: every JSON body and SSE `data:` payload carrying JSON-RPC in the pcaps of
   tests/pcaps/ (real SDK traffic; the bad-input pcaps left out) is taken out with a small Zeek script, plus one large
   tools/list answer (~128 KB, the package's body limit) assembled from the real tool
   definitions found in them.
2. Each way parses every body `--rounds` times inside one `zeek -b` process:
   - `json_parse`: MCP::json_parse(body, 4), the one walk read_json does per JSON text;
   - `from_json`: from_json(body, T) into typed records holding what the package reads
     (method, params name/uri/cursor/protocolVersion/clientInfo, result serverInfo/
     protocolVersion/tools name+description, error code/message). It is given an easier job:
     no ids (numbers or strings), no _meta (keys need a key mapper), no tool input schemas
     (objects with arbitrary keys, which from_json cannot hold) and no raw sub-texts;
   - `baseline`: the same loop without parsing (decoding the bodies, the loop itself).
   CPU (user+sys of the zeek child) minus the baseline's, median of `--runs`, per body.
3. It also counts what from_json reports: bodies it rejects, and reporter errors (every
   truncated, garbled or mistyped body gives one, which the package must never do).
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PCAPS = REPO / "tests" / "pcaps"
LARGE_BYTES = 128 * 1024

DUMP = r"""
@load base/protocols/http
global out = open(getenv("BODIES"));
global bufs: table[string, bool] of string;
global kinds: table[string, bool] of string;
event http_header(c: connection, is_orig: bool, original_name: string, name: string, value: string)
	{ if ( name == "CONTENT-TYPE" ) kinds[c$uid, is_orig] = to_lower(value); }
event http_entity_data(c: connection, is_orig: bool, length: count, data: string)
	{
	if ( [c$uid, is_orig] !in kinds || /json|event-stream/ !in kinds[c$uid, is_orig] ) return;
	bufs[c$uid, is_orig] = ([c$uid, is_orig] in bufs ? bufs[c$uid, is_orig] : "") + data;
	}
event http_message_done(c: connection, is_orig: bool, stat: http_message_stat)
	{
	if ( [c$uid, is_orig] !in bufs ) return;
	local b = bufs[c$uid, is_orig];
	delete bufs[c$uid, is_orig];
	if ( /(^|\n)data: / in b )
		{
		for ( _, line in split_string(b, /\r?\n/) )
			if ( /^data: *[\[{]/ in line && /jsonrpc/ in line )
				print out, encode_base64(sub(line, /^data: */, ""));
		}
	else if ( /jsonrpc/ in b )
		print out, encode_base64(b);
	}
"""

BENCH = r"""
@load mcp/json
type FjInfo: record { name: string &optional; version: string &optional; };
type FjTool: record { name: string &optional; description: string &optional; };
type FjResult: record {
	protocolVersion: string &optional;
	serverInfo: FjInfo &optional;
	tools: vector of FjTool &optional;
};
type FjParams: record {
	protocolVersion: string &optional;
	clientInfo: FjInfo &optional;
	name: string &optional;
	uri: string &optional;
	cursor: string &optional;
};
type FjError: record { code: int &optional; message: string &optional; };
type FjMsg: record {
	jsonrpc: string &optional;
	method: string &optional;
	params: FjParams &optional;
	result: FjResult &optional;
	error: FjError &optional;
};
type FjBatch: vector of FjMsg;

global rejected = 0;
global sink = 0;

# Raised from zeek_init: a reporter error inside zeek_init itself would be fatal.
event bench_run()
	{
	local way = getenv("WAY");
	local rounds = to_count(getenv("ROUNDS"));
	local bodies: vector of string;
	for ( _, line in bodies_b64 )
		bodies += decode_base64(line);
	local r = 0;
	while ( r < rounds )
		{
		for ( _, b in bodies )
			{
			if ( way == "json_parse" )
				sink += |MCP::json_parse(b, 4)|;
			else if ( way == "from_json" )
				{
				local res = /^[ \t\r\n]*\[/ in b ? from_json(b, FjBatch) : from_json(b, FjMsg);
				if ( ! res$valid )
					++rejected;
				}
			else
				sink += |b|;
			}
		++r;
		}
	print fmt("rejected=%d", rejected / rounds);
	}

event zeek_init()
	{
	event bench_run();
	}
"""


def extract_bodies(workdir: Path) -> list[bytes]:
    script = workdir / "dump.zeek"
    script.write_text(DUMP)
    bodies: list[bytes] = []
    # The bad-input pcaps (10 MB bodies, JSON bombs) test robustness, not the usual traffic.
    for pcap in sorted(p for p in PCAPS.glob("*.pcap") if "badinput" not in p.name):
        out = workdir / "bodies.b64"
        subprocess.run(
            ["zeek", "-b", "-C", "-r", str(pcap), str(script)],
            cwd=workdir,
            check=True,
            env={**os.environ, "BODIES": str(out)},
            capture_output=True,
        )
        bodies += [base64.b64decode(line) for line in out.read_text().split()]
    return bodies


def large_tools_list(bodies: list[bytes]) -> bytes:
    """A tools/list answer of about LARGE_BYTES made of the real tool definitions seen."""
    tools = []
    for body in bodies:
        try:
            msg = json.loads(body)
        except ValueError:
            continue
        if (
            isinstance(msg, dict)
            and isinstance(msg.get("result"), dict)
            and isinstance(msg["result"].get("tools"), list)
        ):
            tools += msg["result"]["tools"]
    if not tools:
        raise SystemExit(f"{PCAPS}: no tools/list answer found")
    out, n = [], 0
    while len(json.dumps(out)) < LARGE_BYTES - 200:
        tool = dict(tools[n % len(tools)])
        tool["name"] = f"{tool.get('name', 'tool')}_{n}"
        out.append(tool)
        n += 1
    return json.dumps({"jsonrpc": "2.0", "id": 7, "result": {"tools": out}}).encode()


def run(way: str, bench: Path, package: Path, rounds: int) -> tuple[float, str]:
    """CPU seconds of one zeek process and what it printed (stdout and stderr, through a file)."""
    # Reporter errors raised at start-up would be fatal; here they are what is counted.
    env = {
        **os.environ,
        "WAY": way,
        "ROUNDS": str(rounds),
        "ZEEK_ALLOW_INIT_ERRORS": "1",
        "ZEEKPATH": f"{package}:{subprocess.check_output(['zeek-config', '--zeekpath'], text=True).strip()}",
    }
    log = bench.with_suffix(".out")
    with log.open("w") as handle:
        proc = subprocess.Popen(
            ["zeek", "-b", str(bench.parent / "data.zeek"), str(bench)],
            env=env,
            stdout=handle,
            stderr=subprocess.STDOUT,
        )
        _, status, usage = os.wait4(proc.pid, 0)
    text = log.read_text(errors="replace")
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"zeek ({way}) failed: {text[-2000:]}")
    return usage.ru_utime + usage.ru_stime, text


def measure(name: str, bodies: list[bytes], args: argparse.Namespace, workdir: Path) -> dict:
    bench = workdir / "bench.zeek"
    bench.write_text(BENCH)
    literals = ",\n\t".join(f'"{base64.b64encode(b).decode()}"' for b in bodies)
    (workdir / "data.zeek").write_text(f"global bodies_b64 = vector(\n\t{literals});\n")
    cpu: dict[str, list[float]] = {"baseline": [], "json_parse": [], "from_json": []}
    notes: dict[str, str] = {}
    for _ in range(args.runs):
        for way, times in cpu.items():  # alternate the ways within each run
            t, text = run(way, bench, args.scripts.resolve(), args.rounds)
            times.append(t)
            notes[way] = text
    base = statistics.median(cpu["baseline"])
    per_body = {
        w: (statistics.median(v) - base) / (args.rounds * len(bodies)) * 1e6 for w, v in cpu.items() if w != "baseline"
    }
    errors = len(re.findall(r"^.*error", notes["from_json"], re.MULTILINE)) // max(args.rounds, 1)
    rejected = re.search(r"rejected=(\d+)", notes["from_json"])
    return {
        "set": name,
        "bodies": len(bodies),
        "bytes": sum(map(len, bodies)),
        "json_parse_us": per_body["json_parse"],
        "from_json_us": per_body["from_json"],
        "from_json_rejected": int(rejected.group(1)) if rejected else None,
        "from_json_reporter_errors": errors,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=40, help="parses of each body per zeek process")
    parser.add_argument("--runs", type=int, default=5, help="zeek processes per way (median)")
    parser.add_argument("--scripts", type=Path, default=REPO / "zeek" / "scripts", help="the package's script dir")
    parser.add_argument("--json", action="store_true", help="print the results as JSON too")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        real = extract_bodies(workdir)
        unique = sorted(set(real))
        large = large_tools_list(unique)
        # Garbled copies: each real body cut in half (what the body limit and lost packets give).
        cut = [b[: len(b) // 2] for b in unique]
        results = [
            measure("real bodies (tests/pcaps)", unique, args, workdir),
            measure("large tools/list (128 KB)", [large], args, workdir),
            measure("real bodies cut in half", cut, args, workdir),
        ]
    print(
        f"{'body set':30} {'bodies':>6} {'bytes':>8} {'json_parse µs':>14} {'from_json µs':>13} "
        f"{'rejected':>9} {'errors':>7}"
    )
    for r in results:
        print(
            f"{r['set']:30} {r['bodies']:6d} {r['bytes']:8d} {r['json_parse_us']:14.1f} "
            f"{r['from_json_us']:13.1f} {r['from_json_rejected']!s:>9} {r['from_json_reporter_errors']:7d}"
        )
    print("µs: CPU per body parse, loop and decoding taken out; rejected/errors: per round of the set, from_json only")
    if args.json:
        print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
