"""One scan: config files -> servers, processes, listeners, optional probe -> one report (a dict that
follows schemas/agent-event.schema.json)."""

from __future__ import annotations

import json
import os
import platform
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import AbstractSet, Any, Iterator

from mcpeeker.model import instance_key as keys

from . import jsonstream, sdk
from .clients import ClientTable, Layout, default_table
from .discovery import (
    DEFAULT_MAX_DEPTH,
    DEFAULT_MAX_ENTRIES,
    Candidate,
    project_candidates,
    user_candidates,
)
from .network import Listener, ListenerScan, host_addresses, list_listeners, probe, probe_candidates
from .parsers import (
    DEFAULT_MAX_BYTES,
    DEFAULT_MAX_STREAM_BYTES,
    FileInfo,
    ParseError,
    check_depth,
    parse,
    read_text,
)
from .parsers import (
    DEFAULT_MAX_DEPTH as DEFAULT_NESTING,
)
from .patterns import load as load_patterns
from .privacy import Hasher, mask_user_homes, truncate_utf8
from .processes import (
    ConfiguredCommand,
    Match,
    Proc,
    classify,
    configured_command,
    list_processes,
    render,
    shorten_home,
)
from .servers import (
    Server,
    cleartext_remote,
    instance_key,
    iter_definitions,
    iter_single,
    normalise,
    static_credential,
)
from .report import combine, envelope, iso
from .state import ServerRecord, State, diff

SDK_MAX_PROCESSES = 64  # listening processes whose scripts are read per scan
SDK_TIME_BUDGET = 3.0  # seconds
SCORES = {"config": 0.5, "config_disabled": 0.2, "removed": 0.0, "listener": 0.6, "probe": 0.9}


@dataclass
class ScanOptions:
    homes: list[Path]
    os_name: str
    root: Path = Path("/")
    project_roots: list[Path] | None = None  # None: the homes
    max_depth: int = DEFAULT_MAX_DEPTH
    max_files: int = DEFAULT_MAX_ENTRIES
    max_bytes: int = DEFAULT_MAX_BYTES
    max_stream_bytes: int = DEFAULT_MAX_STREAM_BYTES
    max_nesting: int = DEFAULT_NESTING
    processes: bool = True
    listeners: bool = True
    probe: bool = False
    probe_max: int = 16
    probe_timeout: float = 0.5
    state_path: Path | None = None
    machine_id: str | None = None
    table: ClientTable = field(default_factory=default_table)
    # Addresses the host is reached at but cannot see on its interfaces (NAT, a load balancer, a container host).
    extra_addresses: list[str] = field(default_factory=list)


def current_os() -> str:
    return {"darwin": "macos", "win32": "windows"}.get(sys.platform, "linux")


def machine_id(root: Path = Path("/")) -> str:
    for candidate in ("etc/machine-id", "var/lib/dbus/machine-id"):
        try:
            value = (root / candidate).read_text().strip()
            if value:
                return value
        except OSError:
            continue
    if sys.platform == "win32":
        try:
            import winreg

            with winreg.OpenKey(winreg.HKEY_LOCAL_MACHINE, r"SOFTWARE\Microsoft\Cryptography") as key:
                return str(winreg.QueryValueEx(key, "MachineGuid")[0])
        except OSError:
            pass
    return f"node:{uuid.getnode():012x}:{platform.node()}"


@dataclass
class _Found:
    candidate: Candidate
    info: FileInfo
    server: Server
    record: ServerRecord
    project: tuple[str, str] | None = None  # (project directory as shown, keyed project id)


class Scanner:
    def __init__(self, options: ScanOptions, site_key: bytes) -> None:
        self.opt = options
        self.hasher = Hasher(site_key)
        self.patterns = load_patterns()
        self.host_id = self.hasher.host_id(
            options.machine_id or machine_id(options.root if options.root != Path("/") else Path("/"))
        )
        self.errors: list[dict[str, str]] = []
        self.homes = [str(h) for h in options.homes]
        self.root = "" if options.root == Path("/") else str(options.root)

    # -- configs -------------------------------------------------------------------------------
    def _candidates(self) -> list[Candidate]:
        out: list[Candidate] = []
        for home in self.opt.homes:
            out += user_candidates(self.opt.table, Layout(self.opt.os_name, home, self.opt.root))
        roots = self.opt.project_roots if self.opt.project_roots is not None else self.opt.homes
        disc = project_candidates(self.opt.table, roots, self.opt.max_depth, self.opt.max_files)
        self.errors += [{"where": shorten_home(e["where"], self.homes), "error": e["error"]} for e in disc.errors]
        seen: set[tuple[str, str]] = set()
        unique: list[Candidate] = []
        for cand in out + disc.candidates:
            key = (os.path.normpath(cand.path), cand.spec.client + "/" + ",".join(".".join(k) for k in cand.spec.keys))
            if key not in seen:
                seen.add(key)
                unique.append(cand)
        return unique

    def _show(self, path: str) -> str:
        """Path as reported: home shortened to ~, a fixture root stripped back to /."""
        shown = shorten_home(path, self.homes)
        if self.root and shown.startswith(self.root):
            shown = "/" + shown[len(self.root) :].lstrip("/\\")
        return self._mask_user_home(shown)

    def _mask_user_home(self, shown: str) -> str:
        """/home/bob/x (a home that was not scanned) -> ~<keyed hash of bob>/x: no user name in clear."""
        return mask_user_homes(shown, self.hasher.user_id)

    def _norm(self, path: str) -> str:
        """A directory as one string per place: forward slashes, no trailing slash, fixture root stripped,
        lower case on Windows (its paths are case-insensitive)."""
        norm = path.replace("\\", "/").rstrip("/") or "/"
        root = self.root.replace("\\", "/").rstrip("/")
        if root and (norm == root or norm.startswith(root + "/")):
            norm = norm[len(root) :] or "/"
        return norm.lower() if self.opt.os_name == "windows" else norm

    def _project(self, directory: str) -> tuple[str, str]:
        """(project directory as reported, keyed project id). The id joins a project's servers across files
        (~/.claude.json's projects.<dir> and <dir>/.mcp.json) without sending the path; the path is sent
        with the scanned home as ~ and any other user's home as ~<keyed hash>."""
        norm = self._norm(directory)
        project_id = self.hasher.hex("project:" + norm)[:32]
        for home in sorted((self._norm(h) for h in self.homes), key=len, reverse=True):
            if home not in ("", "/") and (norm == home or norm.startswith(home + "/")):
                return "~" + norm[len(home) :], project_id
        shown = norm if self.opt.os_name != "windows" else directory.replace("\\", "/").rstrip("/")
        return self._mask_user_home(shown), project_id

    def _load(self, cand: Candidate) -> tuple[Any, FileInfo]:
        spec = cand.spec
        if spec.format == "json" and jsonstream.is_large(cand.path, self.opt.max_bytes):
            # Too large to load (Claude Code's ~/.claude.json): only the server keys are read.
            wanted = spec.all_keys() + (((spec.name_key,),) if spec.name_key else ())
            doc, info = jsonstream.extract(
                cand.path, wanted, self.opt.max_stream_bytes, self.opt.max_bytes, self.opt.max_nesting
            )
            check_depth(doc, self.opt.max_nesting)
            return doc, info
        text, info = read_text(cand.path, self.opt.max_bytes)
        return parse(text, spec.format, self.opt.max_nesting), info

    @staticmethod
    def _definitions(doc: Any, cand: Candidate) -> Iterator[tuple[str, str | None, dict[str, Any]]]:
        """(name, project directory or None, definition) of every server the file defines."""
        spec = cand.spec
        if spec.name_key:
            named = doc.get(spec.name_key) if isinstance(doc, dict) else None
            fallback = os.path.basename(os.path.dirname(cand.path))
            for definition in iter_single(doc, spec.keys):
                yield (
                    (str(named) if isinstance(named, (str, int)) and str(named) else fallback),
                    cand.project_dir,
                    definition,
                )
        else:
            for name, _label, definition in iter_definitions(doc, spec.keys):
                yield name, cand.project_dir, definition
        # Claude Code's local scope: ~/.claude.json projects.<dir>.mcpServers, servers of one project.
        for name, label, definition in iter_definitions(doc, spec.project_keys):
            yield name, label, definition

    def _read_configs(self) -> tuple[list[_Found], set[str]]:
        found: list[_Found] = []
        unreadable: set[str] = set()
        for cand in self._candidates():
            shown = self._show(cand.path)
            if not os.path.lexists(cand.path):
                continue
            try:
                doc, info = self._load(cand)
            except ParseError as exc:
                unreadable.add(shown)
                self.errors.append({"where": f"config:{shown}", "error": str(exc)})
                continue
            for name, project_dir, definition in self._definitions(doc, cand):
                try:
                    server = normalise(name, "", definition, cand.spec.client, self.hasher, self.patterns, self.homes)
                except (TypeError, ValueError, AttributeError) as exc:
                    self.errors.append(
                        {
                            "where": f"config:{shown}:{name}",
                            "error": f"unusable server definition ({type(exc).__name__})",
                        }
                    )
                    continue
                if server is None:
                    continue
                project = self._project(project_dir) if project_dir else None
                scope = "project" if project else cand.spec.scope
                # Servers of several projects in one file (~/.claude.json) stay apart: name@project.
                local = project is not None and cand.project_dir is None
                label = f"{name}@{project[0]}" if local and project is not None else name
                ikey = instance_key(server, cand.spec.client, self.host_id)
                rec = ServerRecord(cand.spec.client, scope, shown, label, server.fingerprint, ikey)
                found.append(_Found(cand, info, server, rec, project))
        return found, unreadable

    def _config_evidence(self, item: _Found, change: str) -> dict[str, Any]:
        s, spec, scope = item.server, item.candidate.spec, item.record.scope
        risk = []
        if s.secrets:
            risk.append("committed_secret")
        if s.package and not self.patterns.is_known_package(s.package):
            risk.append("unknown_package")
        posture = []  # what the posture risks are about, for the reason (paths with every home written as ~)
        if s.fs_roots:
            risk.append("broad_filesystem")
            posture.append("broad filesystem root " + ", ".join(f"{path} ({why})" for path, why in s.fs_roots))
        if static := static_credential(s, self.patterns):
            risk.append("static_credential")
            posture.append(static + " instead of OAuth")
        if cleartext_remote(s):
            risk.append("cleartext_transport")
            posture.append("plain HTTP to a non-loopback host")
        config: dict[str, Any] = {
            "client": spec.client,
            "scope": scope,
            "server_name": item.record.name,
            "transport": s.transport,
            "env_names": s.env_names,
            "header_names": s.header_names,
            "secrets": [h.as_dict() for h in s.secrets],
            "fingerprint": s.fingerprint,
            "change": change,
            "disabled": s.disabled,
        }
        if spec.format != "xml":  # the report schema names json, jsonc, toml and yaml
            config["format"] = spec.format
        if item.project:
            config["project"], config["project_id"] = item.project
        if s.command:
            config["command"] = self._mask_user_home(shorten_home(s.command, self.homes))
            config["args"] = [self._mask_user_home(shorten_home(a, self.homes)) for a in s.args]
        if s.url:
            config["url"] = s.url
        if s.package:
            config["package"] = s.package
        snippet = {
            item.record.name: {
                k: config[k] for k in ("command", "args", "url", "env_names", "header_names") if config.get(k)
            }
        }
        reason = f"{spec.client} {scope} config defines MCP server {item.record.name!r} ({s.transport})"
        if posture:
            reason += "; " + "; ".join(posture)
        return {
            "type": "file",
            "score": SCORES["config_disabled" if s.disabled else "config"],
            "reason": reason,
            "snippet": truncate_utf8(json.dumps(snippet, separators=(",", ":"))),
            "instance_key": item.record.instance_key,
            "risk": risk,
            "file": {"path": item.record.path, "mtime": iso(item.info.mtime), "size": item.info.size},
            "config": config,
        }

    @staticmethod
    def _removed_evidence(rec: ServerRecord) -> dict[str, Any]:
        return {
            "type": "file",
            "score": SCORES["removed"],
            "reason": f"MCP server {rec.name!r} removed from {rec.client} config",
            "instance_key": rec.instance_key,
            "risk": [],
            "file": {"path": rec.path},
            "config": {
                "client": rec.client,
                "scope": rec.scope,
                "server_name": rec.name,
                "fingerprint": rec.fingerprint,
                "change": "removed",
            },
        }

    # -- the scan ------------------------------------------------------------------------------
    def run(self) -> dict[str, Any]:
        started, cpu0 = time.monotonic(), time.process_time()
        now = time.time()
        evidence: list[dict[str, Any]] = []
        found, unreadable = self._read_configs()
        evidence += self._diff_and_render(found, unreadable)
        configured = [
            cc
            for f in found
            if f.server.transport == "stdio"
            and (
                cc := configured_command(
                    f"{f.record.client}:{f.record.name}",
                    f.record.instance_key,
                    f.server.raw_command,
                    f.server.raw_args,
                    f.server.package,
                )
            )
        ]
        mcp_pids: dict[int, tuple[str | None, dict[str, Any]]] = {}
        scan = list_listeners() if self.opt.listeners else None
        if self.opt.processes:
            listening = {ln.pid for ln in scan.listeners if ln.pid is not None} if scan else set()
            evidence += self._process_evidence(configured, mcp_pids, listening)
        listening_ports: list[int] = []
        if scan is not None:
            listeners_ev, listening_ports, listeners = self._listener_evidence(mcp_pids, scan)
            evidence += listeners_ev
            if self.opt.probe:
                evidence += self._probe_evidence(listeners, mcp_pids, found)
        report = {
            **envelope(self.hasher, self.host_id, now),
            "host": {
                "os": self.opt.os_name,
                "ips": sorted(set(host_addresses()) | set(self.opt.extra_addresses)),
                "listening_ports": listening_ports,
            },
            "local_score": combine(e["score"] for e in evidence),
            "duration_ms": round((time.monotonic() - started) * 1000, 1),
            "cpu_ms": round((time.process_time() - cpu0) * 1000, 1),
            "evidence": evidence,
            "errors": self.errors,
        }
        return report

    def _diff_and_render(self, found: list[_Found], unreadable: set[str]) -> list[dict[str, Any]]:
        previous = State()
        if self.opt.state_path is not None:
            previous, problem = State.load(self.opt.state_path)
            if problem:
                self.errors.append({"where": "state", "error": problem})
        changes, removed, nxt = diff(previous, [f.record for f in found], unreadable)
        if self.opt.state_path is not None:
            try:
                nxt.save(self.opt.state_path)
            except OSError as exc:
                self.errors.append({"where": "state", "error": f"cannot write state file: {exc.strerror or exc}"})
        out = [self._config_evidence(f, changes[f.record.key]) for f in found]
        return out + [self._removed_evidence(r) for r in removed]

    def _process_evidence(
        self,
        configured: list[ConfiguredCommand],
        mcp_pids: dict[int, tuple[str | None, dict[str, Any]]],
        listening: AbstractSet[int] = frozenset(),
    ) -> list[dict[str, Any]]:
        procs, errors = list_processes()
        self.errors += errors
        self_pids = {os.getpid()}
        matches = classify(procs, configured, self_pids, self.patterns)
        matches = self._sdk_matches(procs, matches, listening - self_pids)
        out = []
        for m in matches:
            info = render(m, self.hasher.user_id, self.homes)
            mcp_pids[m.proc.pid] = (m.instance_key, info)
            ev: dict[str, Any] = {"type": "process", "score": m.score, "reason": m.reason, "risk": [], "process": info}
            if m.instance_key:
                ev["instance_key"] = m.instance_key
            ev["snippet"] = ev["process"]["cmdline"]
            out.append(ev)
        return out

    def _sdk_matches(self, procs: dict[int, Proc], matches: list[Match], listening: AbstractSet[int]) -> list[Match]:
        """Listening Python / Node processes whose code uses an MCP SDK (a custom server found without --probe)."""
        by_pid = {m.proc.pid: m for m in matches}
        deadline = time.monotonic() + SDK_TIME_BUDGET
        for pid in sorted(listening)[:SDK_MAX_PROCESSES]:
            proc = procs.get(pid)
            if proc is None or not proc.argv or any(rx.search(proc.cmdline) for rx in self.patterns.process_exclude):
                continue
            if time.monotonic() > deadline:
                self.errors.append(
                    {"where": "sdk", "error": "time budget for reading listening processes' scripts exhausted"}
                )
                break
            finding = sdk.inspect(proc.argv, proc.exe, sdk.process_cwd(pid), pid)
            if finding is None:
                continue
            info = finding.as_dict(self._show)
            reason = (
                f"listening {finding.language} process runs code that uses the MCP SDK "
                f"({', '.join(finding.indicators)}; confidence {finding.confidence})"
            )
            match = by_pid.get(pid)
            if match is None:
                parent = procs.get(proc.ppid) if proc.ppid else None
                by_pid[pid] = Match(proc, finding.score, f"sdk:{finding.language}", reason, parent, sdk=info)
            else:
                match.sdk = info
                if finding.score > match.score:
                    match.score, match.matched, match.reason = finding.score, f"sdk:{finding.language}", reason
        return list(by_pid.values())

    def _listener_evidence(
        self, mcp_procs: dict[int, tuple[str | None, dict[str, Any]]], scan: ListenerScan
    ) -> tuple[list[dict[str, Any]], list[int], list[Listener]]:
        self.errors += scan.errors
        ports = sorted({ln.port for ln in scan.listeners})
        out: list[dict[str, Any]] = []
        for ln in scan.listeners:
            if ln.pid is None or ln.pid not in mcp_procs:
                continue
            config_key, proc_info = mcp_procs[ln.pid]
            listener: dict[str, Any] = {"ip": ln.ip, "port": ln.port, "pid": ln.pid, "transport": "tcp"}
            if config_key:
                listener["config_instance_key"] = config_key
            out.append(
                {
                    "type": "listener",
                    "score": SCORES["listener"],
                    "instance_key": keys.host_port(self.host_id, ln.port),
                    "reason": f"MCP server process {ln.pid} listens on {ln.ip}:{ln.port}",
                    "risk": [] if ln.loopback else ["exposed_listener"],
                    "listener": listener,
                    "process": {
                        k: proc_info[k] for k in ("pid", "name", "exe", "cmdline", "user_id") if k in proc_info
                    },
                }
            )
        return out, ports, scan.listeners

    def _probe_evidence(
        self,
        listeners: list[Listener],
        mcp_pids: dict[int, tuple[str | None, dict[str, Any]]],
        found: list[_Found],
    ) -> list[dict[str, Any]]:
        preferred = [ln.port for ln in listeners if ln.pid in mcp_pids]
        paths: dict[int, str] = {}
        from urllib.parse import urlsplit

        for f in found:
            if f.server.url and (parts := urlsplit(f.server.url)).hostname in ("127.0.0.1", "localhost", "::1"):
                port = parts.port or 80
                preferred.append(port)
                paths.setdefault(port, parts.path or "/")
        out = []
        deadline = time.monotonic() + max(2.0, self.opt.probe_timeout * 4 * self.opt.probe_max)
        for port in probe_candidates(listeners, preferred, self.opt.probe_max):
            if time.monotonic() > deadline:
                self.errors.append({"where": "probe", "error": "probe time budget exhausted"})
                break
            try_paths = (
                (paths[port],) + tuple(p for p in ("/mcp", "/") if p != paths[port]) if port in paths else ("/mcp", "/")
            )
            result = probe(port, try_paths, self.opt.probe_timeout)
            if not result.get("ok"):
                continue
            res = {
                k: result[k] for k in ("ok", "server_name", "server_version", "protocol_version", "url") if k in result
            }
            reason = f"MCP initialize on 127.0.0.1:{port} answered by {res.get('server_name')!r}"
            risk = []
            # It answered plain HTTP, and it also listens beyond loopback: other hosts reach it without TLS.
            if str(res.get("url", "")).startswith("http://") and any(
                ln.port == port and not ln.loopback for ln in listeners
            ):
                risk.append("cleartext_transport")
                reason += " over plain HTTP, on a non-loopback listener"
            out.append(
                {
                    "type": "probe",
                    "score": SCORES["probe"],
                    "instance_key": keys.host_port(self.host_id, port),
                    "reason": reason,
                    "risk": risk,
                    "probe": res,
                    "listener": {"ip": "127.0.0.1", "port": port, "transport": "tcp"},
                }
            )
        return out
