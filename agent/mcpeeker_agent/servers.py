"""Find server definitions inside a parsed config and normalise them (names only, secrets fingerprinted)."""

from __future__ import annotations

import json
import posixpath
import re
import shlex
from dataclasses import dataclass, field
from typing import Any, Iterator
from urllib.parse import unquote, urlsplit

from mcpeeker.model import instance_key as keys
from mcpeeker.model.instance_key import is_loopback_host

from .patterns import FilesystemPatterns, Patterns, load
from .privacy import Hasher, SecretHit, redact_args, redact_url, secret_kind

_COMMAND_KEYS = ("command", "cmd", "executable")
_URL_KEYS = ("url", "serverUrl", "httpUrl", "uri", "endpoint")
_TYPE_KEYS = ("type", "transport", "transportType")
_ENV_KEYS = ("env", "envs", "environment")
_HEADER_KEYS = ("headers", "http_headers", "requestHeaders")
_TRANSPORTS = {
    "stdio": "stdio",
    "local": "stdio",
    "command": "stdio",
    "http": "streamable_http",
    "streamable-http": "streamable_http",
    "streamable_http": "streamable_http",
    "streamablehttp": "streamable_http",
    "remote": "streamable_http",
    "sse": "sse",
}
# Goose extensions that are part of the client itself, not separate servers.
_INTERNAL_TYPES = {"builtin", "platform", "frontend", "inline_python"}
_DOCKER_VALUE_FLAGS = {
    "-e",
    "--env",
    "-v",
    "--volume",
    "-p",
    "--publish",
    "--name",
    "--network",
    "--net",
    "-w",
    "--workdir",
    "--env-file",
    "-u",
    "--user",
    "--mount",
    "--entrypoint",
    "--platform",
    "-l",
    "--label",
    "--cpus",
    "-m",
    "--memory",
    "--add-host",
    "--pull",
}
_RUNNERS = {"npx", "bunx", "uvx", "pipx", "pnpm", "yarn", "npm", "docker", "podman", "deno", "bun"}


@dataclass
class Server:
    name: str
    key_path: str
    transport: str
    command: str | None = None
    args: list[str] = field(default_factory=list)
    url: str | None = None
    env_names: list[str] = field(default_factory=list)
    header_names: list[str] = field(default_factory=list)
    secrets: list[SecretHit] = field(default_factory=list)
    fingerprint: str = ""
    package: str | None = None
    disabled: bool = False
    raw_command: str | None = None  # unredacted, kept in memory only to match processes
    raw_args: list[str] = field(default_factory=list)
    # Broad filesystem grants (MCP-POS-004): (path with every home written as ~, why it is broad)
    fs_roots: list[tuple[str, str]] = field(default_factory=list)


def iter_definitions(doc: Any, key_paths: tuple[tuple[str, ...], ...]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(server name, scope label, definition) for every server under any of the key paths.

    The label is empty unless the key path has `*` (Claude Code's projects.<dir>.mcpServers): then it
    holds the matched keys, so the same name in two projects stays two servers.
    """
    for key_path in key_paths:
        for where, container in _walk(doc, key_path, ()):
            label = "/".join(w for w, k in zip(where, key_path) if k == "*")
            if isinstance(container, dict):
                for name, definition in container.items():
                    if isinstance(definition, dict):
                        yield str(name), label, definition
            elif isinstance(container, list):
                for i, definition in enumerate(container):
                    if isinstance(definition, dict):
                        yield str(definition.get("name") or f"#{i}"), label, definition


def iter_single(doc: Any, key_paths: tuple[tuple[str, ...], ...]) -> Iterator[dict[str, Any]]:
    """The definitions the key paths lead to when each is ONE server (a Claude Desktop extension manifest)."""
    for key_path in key_paths:
        for _where, node in _walk(doc, key_path, ()):
            if isinstance(node, dict):
                yield node


def _walk(node: Any, path: tuple[str, ...], where: tuple[str, ...]) -> Iterator[tuple[tuple[str, ...], Any]]:
    if not path:
        yield where, node
        return
    if not isinstance(node, dict):
        return
    head, rest = path[0], path[1:]
    if head == "*":
        for key, child in node.items():
            yield from _walk(child, rest, where + (str(key),))
    elif head in node:
        yield from _walk(node[head], rest, where + (head,))


def normalise(
    name: str,
    key_path: str,
    definition: dict[str, Any],
    client: str,
    hasher: Hasher,
    patterns: Patterns | None = None,
    homes: list[str] | tuple[str, ...] = (),
) -> Server | None:
    """A `Server` for one definition, or None for client-internal entries (Goose builtins)."""
    p = patterns or load()
    kind = next((str(definition[k]) for k in _TYPE_KEYS if isinstance(definition.get(k), str)), "")
    if kind.lower() in _INTERNAL_TYPES:
        return None
    command, args, extra_env = command_and_args(definition)
    url_key, url = next(((k, definition[k]) for k in _URL_KEYS if isinstance(definition.get(k), str)), (None, None))
    server = Server(name=name, key_path=key_path, transport=_transport(kind, url_key, url, command, client))
    server.raw_command, server.raw_args = command, list(args)
    server.disabled = bool(definition.get("disabled")) or definition.get("enabled") is False
    env = _mapping_or_names(next((definition[k] for k in _ENV_KEYS if k in definition), None)) | extra_env
    headers = _mapping_or_names(next((definition[k] for k in _HEADER_KEYS if k in definition), None))
    # Codex: header values taken from env vars at run time (names only, never secrets in the file).
    headers.update({h: None for h in _mapping_or_names(definition.get("env_http_headers"))})
    if isinstance(definition.get("bearer_token_env_var"), str):
        headers["Authorization"] = None
    for extra in ("env_vars", "env_keys"):
        env.update({n: None for n in _mapping_or_names(definition.get(extra))})
    server.env_names = sorted(env)
    server.header_names = sorted(headers)
    secrets: list[SecretHit] = []
    for env_name, value in env.items():
        if isinstance(value, str) and (k := secret_kind(value, env_name, p)):
            secrets.append(SecretHit(k, hasher.secret_fingerprint(value), f"env.{env_name}"))
    for header, value in headers.items():
        if isinstance(value, str) and (k := secret_kind(value, header, p)):
            secrets.append(SecretHit(k, hasher.secret_fingerprint(value), f"headers.{header}"))
    if command:
        red_cmd, found = redact_args([command], p)
        server.command = red_cmd[0]
        secrets += [SecretHit(k, hasher.secret_fingerprint(v), "command") for k, v in found]
    red_args, found = redact_args(args, p)
    server.args = red_args
    secrets += [SecretHit(k, hasher.secret_fingerprint(v), "args") for k, v in found]
    if url:
        if k := secret_kind(url, None, p):
            secrets.append(SecretHit(k, hasher.secret_fingerprint(url), "url"))
        server.url = redact_url(url)
        if server.url != url and not any(s.field == "url" for s in secrets):
            secrets.append(SecretHit("url_token", hasher.secret_fingerprint(url), "url"))
    server.secrets = secrets
    server.package = package_of(command, args)
    if p.filesystem is not None:
        server.fs_roots = broad_roots(granted_paths(command, args, env, definition, p.filesystem), homes, p.filesystem)
    server.fingerprint = hasher.hex("server:" + json.dumps(definition, sort_keys=True, default=str))[:32]
    return server


def command_and_args(definition: dict[str, Any]) -> tuple[str | None, list[str], dict[str, Any]]:
    raw = next((definition[k] for k in _COMMAND_KEYS if k in definition), None)
    extra_env: dict[str, Any] = {}
    args_value = definition.get("args", [])
    if isinstance(raw, dict):  # Zed's older {"command": {"path", "args", "env"}}
        args_value = raw.get("args", args_value)
        extra_env = _mapping_or_names(raw.get("env"))
        raw = raw.get("path") or raw.get("command")
    args = (
        [str(a) for a in args_value]
        if isinstance(args_value, list)
        else (shlex.split(args_value) if isinstance(args_value, str) else [])
    )
    if isinstance(raw, list):
        parts = [str(x) for x in raw]
        return (parts[0] if parts else None), parts[1:] + args, extra_env
    if isinstance(raw, str) and not args and " " in raw.strip():
        try:  # "command": "npx -y @x/server" written as one string
            parts = shlex.split(raw)
            return parts[0], parts[1:], extra_env
        except ValueError:
            pass
    return (str(raw) if raw is not None else None), args, extra_env


def _mapping_or_names(value: Any) -> dict[str, Any]:
    if isinstance(value, dict):
        return {str(k): v for k, v in value.items()}
    if isinstance(value, list):
        out: dict[str, Any] = {}
        for item in value:
            if isinstance(item, str):
                name, sep, val = item.partition("=")
                out[name] = val if sep else None
            elif isinstance(item, dict) and "name" in item:
                out[str(item["name"])] = item.get("value")
        return out
    return {}


def _transport(kind: str, url_key: str | None, url: str | None, command: str | None, client: str) -> str:
    if kind and kind.lower() in _TRANSPORTS:
        return _TRANSPORTS[kind.lower()]
    if command and not url:
        return "stdio"
    if url_key == "httpUrl":
        return "streamable_http"
    if url:
        if client == "gemini_cli" and url_key == "url":
            return "sse"  # Gemini CLI: `url` is SSE, `httpUrl` streamable HTTP
        return "sse" if urlsplit(url).path.rstrip("/").endswith("/sse") else "streamable_http"
    return "stdio"


def package_of(command: str | None, args: list[str]) -> str | None:
    """The package a runner (npx, uvx, docker run …) starts, without its version."""
    if not command:
        return None
    base = command.replace("\\", "/").rsplit("/", 1)[-1].lower().removesuffix(".exe").removesuffix(".cmd")
    if base not in _RUNNERS:
        return None
    rest = list(args)
    if base in {"pnpm", "yarn", "npm"}:
        if not rest or rest[0] not in {"dlx", "exec", "x"}:
            return None
        rest = rest[1:]
    if base in {"docker", "podman"}:
        if "run" not in rest:
            return None
        rest = rest[rest.index("run") + 1 :]
    if base == "pipx" and rest[:1] == ["run"]:
        rest = rest[1:]
    skip_next = False
    for i, arg in enumerate(rest):
        if skip_next:
            skip_next = False
            continue
        if arg in ("--from", "--package", "-p") and base in {"uvx", "npx", "pipx"} and i + 1 < len(rest):
            return _strip_version(rest[i + 1])
        if arg.startswith("--package=") or arg.startswith("--from="):
            return _strip_version(arg.split("=", 1)[1])
        if arg.startswith("-"):
            skip_next = base in {"docker", "podman"} and arg in _DOCKER_VALUE_FLAGS
            continue
        return _strip_version(arg)
    return None


def _strip_version(spec: str) -> str:
    if spec.startswith("@"):
        scope, _, rest = spec[1:].partition("/")
        return f"@{scope}/{rest.split('@', 1)[0]}" if rest else spec
    spec = spec.split("==", 1)[0].split(">=", 1)[0].split("@", 1)[0]
    head, sep, tail = spec.rpartition(":")  # docker image tag
    return head if sep and "/" not in tail else spec


def instance_key(server: Server, client: str, host_id: str) -> str:
    if server.url:
        return keys.server_url(host_id, server.url)
    return keys.host_cfg(host_id, client, server.name)


# --- posture: what a definition grants and how it authenticates -----------------------------------------------------

_HOME_VAR = re.compile(r"^(?:~|\$HOME|\$\{HOME\}|%USERPROFILE%|%HOMEPATH%|\$env:USERPROFILE)(?=$|/)", re.I)
_ANY_HOME = re.compile(r"^(?:/home|/Users|[A-Za-z]:/Users|/var/home)/[^/]+(?=$|/)", re.I)
_DRIVE = re.compile(r"^[A-Za-z]:(?:/|$)")
_PATHISH = re.compile(
    r"^(?:/|~|\$HOME|\$\{HOME\}|%USERPROFILE%|%HOMEPATH%|\$env:USERPROFILE|[A-Za-z]:[/\\]|[A-Za-z]:$|file://)", re.I
)
_MOUNT_FLAGS = {"-v", "--volume", "--mount"}


def granted_paths(
    command: str | None, args: list[str], env: dict[str, Any], definition: dict[str, Any], fs: FilesystemPatterns
) -> list[str]:
    """The directories a definition hands its server: the path arguments of a filesystem server, the values of
    root flags and root environment variables, `docker run` bind-mount sources, and a `roots` list."""
    out: list[str] = []
    words = [command or "", *args]
    filesystem = any(
        fs.servers.search(w.replace("\\", "/").rsplit("/", 1)[-1] or w) for w in words if w and not w.startswith("-")
    )
    runner = (command or "").replace("\\", "/").rsplit("/", 1)[-1].lower().removesuffix(".exe")
    container = runner in ("docker", "podman")
    skip = False
    for i, arg in enumerate(args):
        if skip:
            skip = False
            continue
        flag, eq, value = arg.partition("=")
        if flag in fs.root_flags:
            raw = value if eq else (args[i + 1] if i + 1 < len(args) else "")
            skip = not eq
            out += [v for v in raw.split(",") if v]
        elif container and flag in _MOUNT_FLAGS:
            raw = value if eq else (args[i + 1] if i + 1 < len(args) else "")
            skip = not eq
            if flag == "--mount":
                out += [
                    kv.split("=", 1)[1]
                    for kv in raw.split(",")
                    if kv.split("=", 1)[0] in ("source", "src") and "=" in kv
                ]
            elif raw:
                # src:dst[:opts]; a Windows source keeps its drive letter (C:\x:/data)
                source = (
                    raw[:2] + raw[2:].split(":", 1)[0] if _DRIVE.match(raw.replace("\\", "/")) else raw.split(":", 1)[0]
                )
                out.append(source)
        elif filesystem and not container and not arg.startswith("-") and _PATHISH.match(arg):
            # (inside a container the arguments name container paths; its grants are the bind mounts)
            out.append(arg)
    for name, value in env.items():
        if isinstance(value, str) and fs.root_env.match(name):
            out += [v for v in re.split(r"[,;]", value) if v]
    roots = definition.get("roots")
    if isinstance(roots, list):
        for root in roots:
            location = root.get("uri") or root.get("path") if isinstance(root, dict) else root
            if isinstance(location, str):
                out.append(location)
    return out


def canonical_path(path: str, homes: list[str] | tuple[str, ...] = ()) -> str | None:
    """A granted path with forward slashes, `.`/`..` folded, every home directory (the scanned ones, $HOME, ~,
    and any /home/<user>, /Users/<user>, C:/Users/<user>) written as ~ and a drive letter in lower case.
    None for a relative path (a project directory relative to where the client starts the server)."""
    p = path.strip().strip("\"'")
    if p.lower().startswith("file://"):
        p = unquote(urlsplit(p).path)
        if re.match(r"^/[A-Za-z]:", p):
            p = p[1:]
    p = p.replace("\\", "/")
    if not _PATHISH.match(p):
        return None
    m = _HOME_VAR.match(p)
    if m:
        p = "~" + p[m.end() :]
    else:
        for home in sorted((h.replace("\\", "/").rstrip("/") for h in homes), key=len, reverse=True):
            if home and (p.lower() == home.lower() or p.lower().startswith(home.lower() + "/")):
                p = "~" + p[len(home) :]
                break
        else:
            m = _ANY_HOME.match(p)
            if m:
                p = "~" + p[m.end() :]
    drive = _DRIVE.match(p)
    if drive:
        p = p[0].lower() + ":/" + posixpath.normpath("/" + p[2:]).lstrip("/")
        return p.rstrip("/") if len(p) > 3 else p
    if p.startswith("~"):
        rest = posixpath.normpath("/" + p[1:].lstrip("/")).rstrip("/")
        return "~" + rest if rest not in ("", "/") else "~"
    return posixpath.normpath("/" + p.lstrip("/"))


def broad_roots(paths: list[str], homes: list[str] | tuple[str, ...], fs: FilesystemPatterns) -> list[tuple[str, str]]:
    """(canonical path, why it is broad) of every granted path that reaches far beyond a project."""
    out: list[tuple[str, str]] = []
    for raw in paths:
        p = canonical_path(raw, homes)
        if p is None:
            continue
        low = p.lower()
        why = None
        if p == "/" or re.fullmatch(r"[a-z]:/?", low):
            why = "the whole filesystem"
        elif p == "~":
            why = "a whole home directory"
        elif low in ("/home", "/users", "c:/users", "/var/home"):
            why = "every home directory"
        else:
            for cred in fs.credential_dirs:
                c = cred.lower()
                if low == c or low.startswith(c + "/"):
                    why = f"the credential directory {cred}"
                    break
                if c.startswith(low + "/"):
                    why = f"a directory holding {cred}"
                    break
            else:
                if low in (d.lower() for d in fs.system_dirs):
                    why = f"the system directory {p}"
        if why and (p, why) not in out:
            out.append((p, why))
    return out


def static_credential(server: Server, patterns: Patterns) -> str | None:
    """Why a remote server is reached with a static key (MCP-POS-005), or None: a key/token/Authorization header
    (literal or from the environment) or a token in its URL. OAuth needs none of them in the configuration."""
    if not server.url:
        return None
    headers = [
        h
        for h in server.header_names
        if patterns.secret_key_names.search(h) or h.lower() in ("authorization", "cookie")
    ]
    if headers:
        return f"static credential header {', '.join(sorted(headers))}"
    if any(s.field == "url" for s in server.secrets):
        return "credential in the URL"
    return None


def cleartext_remote(server: Server) -> bool:
    """A server on another host reached over plain http:// or ws:// (MCP-POS-006)."""
    if not server.url:
        return False
    parts = urlsplit(server.url)
    return parts.scheme.lower() in ("http", "ws") and bool(parts.hostname) and not is_loopback_host(parts.hostname)
