"""Clients for the benign look-alike servers (urllib for eth/web, requests for the rest)."""

from __future__ import annotations

import argparse
import json
import urllib.parse
import urllib.request
from typing import Any


def urllib_post_json(url: str, payload: Any) -> Any:
    req = urllib.request.Request(url, json.dumps(payload).encode(), {"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as resp:
        return json.loads(resp.read())


def eth(url: str) -> None:
    calls = [
        ("web3_clientVersion", []),
        ("net_version", []),
        ("eth_chainId", []),
        ("eth_blockNumber", []),
        ("eth_getBalance", ["0x742d35Cc6634C0532925a3b844Bc454e4438f44e", "latest"]),
        ("eth_call", [{"to": "0x6B175474E89094C44Da98b954EedeAC495271d0F",
                       "data": "0x70a08231000000000000000000000000742d35cc6634c0532925a3b844bc454e4438f44e"},
                      "latest"]),
    ]  # fmt: skip
    for i, (method, params) in enumerate(calls, 1):
        print(urllib_post_json(url, {"jsonrpc": "2.0", "id": i, "method": method, "params": params}))
    batch = [{"jsonrpc": "2.0", "id": 10 + i, "method": m, "params": []} for i, m in
             enumerate(["eth_gasPrice", "eth_blockNumber", "eth_getTransactionCount"])]  # fmt: skip
    print(urllib_post_json(url, batch))


def web(url: str) -> None:
    for path in ("/", "/contact", "/search?q=quarterly+report", "/missing"):
        try:
            with urllib.request.urlopen(url.rstrip("/") + path, timeout=10) as resp:
                print(path, resp.status)
        except urllib.error.HTTPError as err:
            print(path, err.code)
    form = urllib.parse.urlencode({"name": "Alice", "email": "alice@corp.example", "message": "Hello!"}).encode()
    with urllib.request.urlopen(url.rstrip("/") + "/contact", form, timeout=10) as resp:
        print("POST /contact", resp.status)


def jsonrpc(url: str) -> None:
    import requests

    with requests.Session() as s:
        for i, (m, p) in enumerate(
            [
                ("system.describe", {}),
                ("inventory.getItem", {"sku": "A-100"}),
                ("inventory.listItems", {}),
                ("orders.create", {"sku": "A-100", "qty": 2}),
            ],
            1,
        ):
            print(s.post(url, json={"jsonrpc": "2.0", "id": i, "method": m, "params": p}, timeout=10).json())
        s.post(url, json={"jsonrpc": "2.0", "method": "inventory.refresh", "params": {}}, timeout=10)
        print(s.post(url, json=[{"jsonrpc": "2.0", "id": 7, "method": "inventory.getItem", "params": {"sku": "B-220"}},
                                {"jsonrpc": "2.0", "id": 8, "method": "nope"}], timeout=10).json())  # fmt: skip


def llm(url: str) -> None:
    import requests

    with requests.Session() as s:
        print(s.get(url.replace("/chat/completions", "/models"), timeout=10).json())
        body = {"model": "gpt-4o-mini", "stream": True,
                "messages": [{"role": "user", "content": "Summarize the quarterly report."}]}  # fmt: skip
        with s.post(
            url,
            json=body,
            stream=True,
            timeout=10,
            headers={"Accept": "text/event-stream", "Authorization": "Bearer sk-test-0000"},
        ) as r:
            text = ""
            for line in r.iter_lines(decode_unicode=True):
                if line.startswith("data: ") and line != "data: [DONE]":
                    text += json.loads(line[6:])["choices"][0]["delta"].get("content", "")
            print(text)


def rest(url: str) -> None:
    import requests

    with requests.Session() as s:
        print(s.get(url, timeout=10).json()["count"])
        for aid in (1, 2, 3, 99):
            print(s.get(f"{url}/{aid}", timeout=10).status_code)
        new = {"title": "Using tools/call from a jsonrpc client", "tags": ["mcp"],
               "summary": "Explains the mcp tools/call method and the jsonrpc 2.0 envelope."}  # fmt: skip
        print(s.post(url, json=new, timeout=10).json())


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("kind", choices=["eth", "web", "jsonrpc", "llm", "rest"])
    ap.add_argument("--url", required=True)
    args = ap.parse_args()
    {"eth": eth, "web": web, "jsonrpc": jsonrpc, "llm": llm, "rest": rest}[args.kind](args.url)


if __name__ == "__main__":
    main()
