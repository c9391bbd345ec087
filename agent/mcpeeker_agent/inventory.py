"""`mcpeeker-agent inventory` (opt-in): start each configured stdio server, ask it initialize and tools/list with the
official MCP Python SDK, record the tool definitions like the tap does, and stop it. It never calls a tool.

Each server runs with a timeout in a reduced environment: PATH, HOME and the locale, plus the config's `env` only
when the admin allows it (--allow-env / agent config `inventory_allow_env`), since those are usually secrets.
Remote servers are listed only with --remote and only when the config carries their URL (and headers).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import anyio

from .scanner import Scanner
from .toolmeta import Session, Sink, ToolList, tool_list

KEPT_ENV = ("PATH", "HOME", "USER", "LOGNAME", "LANG", "LC_ALL", "TMPDIR", "TEMP", "TMP", "SYSTEMROOT", "APPDATA")


@dataclass
class Target:
    client: str
    name: str
    command: str | None = None
    args: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    cwd: str | None = None
    url: str | None = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Outcome:
    target: Target
    ok: bool
    tools: ToolList | None = None
    error: str | None = None
    session: Session | None = None


def targets(scanner: Scanner) -> list[Target]:
    """Every server definition of the clients' configs (the scan's discovery and parsers)."""
    out: list[Target] = []
    for cand in scanner._candidates():
        if not os.path.lexists(cand.path):
            continue
        try:
            doc, _info = scanner._load(cand)
        except Exception:  # noqa: BLE001 - the scan reports unreadable configs; the inventory skips them
            continue
        for name, _project, d in scanner._definitions(doc, cand):
            if d.get("disabled") is True:
                continue
            env: dict[str, Any] = d["env"] if isinstance(d.get("env"), dict) else {}
            headers: dict[str, Any] = d["headers"] if isinstance(d.get("headers"), dict) else {}
            url = d.get("url") or d.get("serverUrl") or d.get("httpUrl")
            args: list[Any] = d["args"] if isinstance(d.get("args"), list) else []
            out.append(
                Target(
                    cand.spec.client,
                    name,
                    d["command"] if isinstance(d.get("command"), str) else None,
                    [str(a) for a in args],
                    {str(k): str(v) for k, v in env.items()},
                    d["cwd"] if isinstance(d.get("cwd"), str) else None,
                    url if isinstance(url, str) else None,
                    {str(k): str(v) for k, v in headers.items()},
                )
            )
    return out


def reduced_env(config_env: dict[str, str], allow_env: bool) -> dict[str, str]:
    env = {k: os.environ[k] for k in KEPT_ENV if k in os.environ}
    if allow_env:
        env.update(config_env)
    return env


async def _list(session: Any, record: Session) -> ToolList:
    init = await session.initialize()
    record.methods["initialize"] = 1
    record.protocol_version = str(init.protocol_version)[:32]
    info = init.server_info
    record.server_info = {"name": str(info.name)[:128], "version": str(info.version)[:128]}
    caps = init.capabilities.model_dump(exclude_none=True)
    record.server_capabilities = sorted(caps)[:32]
    tools: list[dict[str, Any]] = []
    cursor = None
    for _page in range(100):
        from mcp import types

        params = types.PaginatedRequestParams(cursor=cursor) if cursor else None
        result = await session.list_tools(params=params)
        record.methods["tools/list"] = record.methods.get("tools/list", 0) + 1
        tools += [t.model_dump(by_alias=True, exclude_none=True, mode="json") for t in result.tools]
        cursor = result.next_cursor
        if not cursor:
            break
    return tool_list(tools)


async def _inventory_stdio(t: Target, allow_env: bool, record: Session) -> ToolList:
    from mcp import ClientSession, StdioServerParameters
    from mcp.client.stdio import stdio_client

    assert t.command is not None
    params = StdioServerParameters(command=t.command, args=t.args, env=reduced_env(t.env, allow_env), cwd=t.cwd)
    with open(os.devnull, "w", encoding="utf-8") as errlog:  # the server's stderr is not ours to keep
        async with stdio_client(params, errlog=errlog) as (read, write):
            async with ClientSession(read, write) as session:
                return await _list(session, record)


async def _inventory_remote(t: Target, record: Session) -> ToolList:
    from mcp import ClientSession
    from mcp.client.streamable_http import streamable_http_client
    from mcp.shared._httpx_utils import create_mcp_http_client

    assert t.url is not None
    async with create_mcp_http_client(headers=t.headers) as http:
        async with streamable_http_client(t.url, http_client=http) as streams:
            async with ClientSession(streams[0], streams[1]) as session:
                return await _list(session, record)


def inventory_one(t: Target, timeout: float, allow_env: bool, remote: bool) -> Outcome:
    record = Session("inventory", t.client, t.name)

    async def go() -> ToolList:
        with anyio.fail_after(timeout):
            if t.command:
                return await _inventory_stdio(t, allow_env, record)
            return await _inventory_remote(t, record)

    if not t.command and not (remote and t.url):
        return Outcome(t, False, error="remote server: needs --remote" if t.url else "no command", session=record)
    try:
        tools = anyio.run(go)
    except TimeoutError:
        return Outcome(t, False, error=f"no tools/list answer within {timeout:g} s", session=record)
    except BaseException as exc:  # noqa: BLE001 - a broken server is one failed target, not a failed run
        if isinstance(exc, KeyboardInterrupt):
            raise
        return Outcome(t, False, error=f"{type(exc).__name__}: {str(exc)[:200]}", session=record)
    return Outcome(t, True, tools, session=record)


def run_inventory(
    items: list[Target], sink: Sink | None, timeout: float, allow_env: bool, remote: bool
) -> list[Outcome]:
    outcomes: list[Outcome] = []
    evidence: list[dict[str, Any]] = []
    errors: list[dict[str, str]] = []
    for t in items:
        o = inventory_one(t, timeout, allow_env, remote)
        outcomes.append(o)
        if o.ok and sink is not None and o.session is not None:
            evidence.append(sink.tools_evidence(o.session, o.tools, None))
        elif o.error and (t.command or remote):
            errors.append({"where": f"inventory:{t.client}:{t.name}", "error": o.error})
    if sink is not None and (evidence or errors):
        report = sink.report(evidence)
        report["errors"] = errors
        sink.write(report)
    return outcomes
