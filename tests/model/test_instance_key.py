"""mcpeeker.model.instance_key: every key kind survives build -> parse -> build, odd server names included, and the
agent and the SIEM side build the same keys through it."""

from __future__ import annotations

import pytest
from mcpeeker.correlate.instances import HostMap, raw_keys_of, resolve
from mcpeeker.model import instance_key as keys
from mcpeeker_agent.servers import Server
from mcpeeker_agent.servers import instance_key as agent_key

HOST = "h" + "0123456789abcdef" * 2
ODD_NAMES = ["files", "a:b:c", "::", "ßerver-服务器", "name with spaces", "x:9000", "emoji-🔧:tool"]


@pytest.mark.parametrize("name", ODD_NAMES)
def test_cfg_keys_round_trip_with_odd_server_names(name: str) -> None:
    key = keys.host_cfg(HOST, "claude_desktop", name)
    parts = keys.parse(key)
    assert parts == {"kind": "host_cfg", "host_id": HOST, "client": "claude_desktop", "server_name": name}
    assert keys.build(parts) == key


@pytest.mark.parametrize(("ip", "port"), [("10.20.0.6", 8000), ("fe80::1", 443), ("2001:db8::8:800", 3000)])
def test_net_keys_round_trip_ipv4_and_ipv6(ip: str, port: int) -> None:
    key = keys.net(ip, port)
    assert keys.parse(key) == {"kind": "net", "ip": ip, "port": port}
    assert keys.build(keys.parse(key)) == key


def test_port_keys_round_trip() -> None:
    key = keys.host_port(HOST, 8765)
    assert key == f"host:{HOST}:port:8765"
    assert keys.parse(key) == {"kind": "host_port", "host_id": HOST, "port": 8765}
    assert keys.build(keys.parse(key)) == key


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://mcp.example.com/sse", "url:https://mcp.example.com:443/sse"),
        ("http://mcp.example.com", "url:http://mcp.example.com:80/"),
        ("https://mcp.example.com:8443/a:b/ü", "url:https://mcp.example.com:8443/a:b/ü"),
        ("http://[2001:db8::1]:9000/mcp", "url:http://2001:db8::1:9000/mcp"),
    ],
)
def test_url_keys_round_trip(url: str, expected: str) -> None:
    key = keys.url(url)
    assert key == expected
    assert keys.parse(key) == {"kind": "url", "url": expected[len("url:") :]}
    assert keys.build(keys.parse(key)) == key


def test_loopback_server_url_is_the_hosts_port() -> None:
    assert keys.server_url(HOST, "http://127.0.0.1:3000/mcp") == keys.host_port(HOST, 3000)
    assert keys.server_url(HOST, "https://localhost/mcp") == keys.host_port(HOST, 443)
    assert keys.server_url(HOST, "http://[::1]:8080/") == keys.host_port(HOST, 8080)
    assert keys.server_url(HOST, "http://10.0.0.5:3000/mcp") == "url:http://10.0.0.5:3000/mcp"


def test_unknown_shapes_are_other_and_do_not_build() -> None:
    assert keys.parse("something-else") == {"kind": "other"}
    assert keys.parse(f"host:{HOST}") == {"kind": "host", "host_id": HOST}
    assert keys.parse("net:10.0.0.1:notaport") == {"kind": "net", "ip": "10.0.0.1", "port": None}
    with pytest.raises(ValueError, match="other"):
        keys.build({"kind": "other"})


def test_agent_builds_keys_through_the_model() -> None:
    remote = Server(name="a:b", key_path="mcpServers", transport="http", url="https://mcp.example.com/sse")
    local = Server(name="ßerver", key_path="mcpServers", transport="http", url="http://127.0.0.1:7000/mcp")
    stdio = Server(name="fs:ünï", key_path="mcpServers", transport="stdio", command="npx")
    assert agent_key(remote, "cursor", HOST) == keys.url("https://mcp.example.com/sse")
    assert agent_key(local, "cursor", HOST) == keys.host_port(HOST, 7000)
    assert keys.parse(agent_key(stdio, "cursor", HOST))["server_name"] == "fs:ünï"


def test_network_keys_join_the_host_that_owns_the_address() -> None:
    hosts = HostMap()
    hosts.add(HOST, ["10.20.0.7"])
    joined = resolve(keys.net("10.20.0.7", 8000), hosts)
    assert joined == keys.host_port(HOST, 8000)
    assert raw_keys_of(joined, hosts) == {joined, keys.net("10.20.0.7", 8000)}
