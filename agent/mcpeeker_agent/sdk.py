"""Custom MCP servers found without probing: a listening process whose entry script uses an MCP SDK.

For each listening Python or Node process the entry script named on its command line is read (at most
MAX_SCRIPT_BYTES, never sent anywhere), and so are a few local modules it imports. What counts:

- an SDK import in code (not in a comment or a string): Python `import mcp` / `from mcp.server… import` /
  `from fastmcp import`; JavaScript `import … from "@modelcontextprotocol/sdk/…"`, `require(…)`, `import(…)`,
  also `fastmcp` and `mcp-framework`. A server import (a `server` module, fastmcp, or FastMCP / MCPServer /
  McpServer / Server imported from the SDK) weighs more than another SDK import; a client-only import
  (mcp.client…, sdk/client/…, ClientSession) does not count: a client that also listens is not a server;
- a server built in code: a call of FastMCP( / MCPServer( / McpServer( (or Server( imported from the SDK);
- the environment: the interpreter's site-packages (its venv, the packages its process has mapped, a .venv
  beside the script) holds mcp or fastmcp, or a node_modules above the script holds the SDK.

The environment alone is never enough (most AI projects' venvs carry mcp); the evidence names its
indicators, a score and a confidence (high >= 0.8, medium >= 0.5, as the ingest side grades scores).
"""

from __future__ import annotations

import ast
import glob
import io
import os
import re
import stat
import tokenize
from dataclasses import dataclass, field
from typing import Callable

import psutil

MAX_SCRIPT_BYTES = 256 * 1024
MAX_MODULES = 6  # local modules followed from the entry script
MAX_PARENTS = 8  # directories walked up from the script for node_modules / .venv

SCORE_SERVER_IMPORT = 0.5
SCORE_OTHER_IMPORT = 0.3
SCORE_CONSTRUCT = 0.15
SCORE_ENV = 0.15
REPORT_AT = 0.45

_PY_SDK = {"mcp", "fastmcp"}
_SERVER_CLASSES = {"FastMCP", "MCPServer", "McpServer"}  # specific enough on their own
_SDK_SERVER_NAMES = _SERVER_CLASSES | {"Server"}  # Server counts when imported from the SDK
_ASGI_RUNNERS = {"uvicorn", "hypercorn", "gunicorn", "granian", "daphne"}
_MODULE_TARGET = re.compile(r"^[A-Za-z_][\w.]*(?::[\w.()]+)?$")
_PY_VALUE_OPTIONS = {"-W", "-X", "--check-hash-based-pycs"}
_NODE_VALUE_OPTIONS = {
    "-r",
    "--require",
    "--import",
    "--loader",
    "--experimental-loader",
    "--input-type",
    "--conditions",
    "-C",
    "--title",
    "--env-file",
    "--inspect-port",
    "--watch-path",
}
_NODE_CODE_OPTIONS = {"-e", "--eval", "-p", "--print"}
_NODE_SPECS = ("@modelcontextprotocol/sdk", "@modelcontextprotocol/server", "fastmcp", "mcp-framework")
_JS_TOKENS = re.compile(
    r"""(?P<s>"(?:\\.|[^"\\\n])*"|'(?:\\.|[^'\\\n])*'|`(?:\\.|[^`\\])*`)|(?P<c>//[^\n]*|/\*.*?\*/)""", re.DOTALL
)
_JS_IMPORT = re.compile(
    r"""(?:\bimport\s*(?:[\w*{}\s,$]+?\s*from\s*)?|\bexport\s*[\w*{}\s,$]*?\s*from\s*|\brequire\s*\(\s*|\bimport\s*\(\s*)"""
    r"""(["'])([^"'\n]+)\1"""
)
_JS_NEW = re.compile(r"\bnew\s+(FastMCP|MCPServer|McpServer|Server)\s*\(")
_JS_EXTS = ("", ".js", ".mjs", ".cjs", ".ts", ".mts", ".cts", "/index.js", "/index.mjs", "/index.ts")


@dataclass
class Finding:
    language: str
    script: str
    indicators: list[str] = field(default_factory=list)
    score: float = 0.0

    @property
    def confidence(self) -> str:
        return "high" if self.score >= 0.8 else "medium" if self.score >= 0.5 else "low"

    def as_dict(self, show: Callable[[str], str]) -> dict[str, object]:
        return {
            "language": self.language,
            "script": show(self.script),
            "indicators": self.indicators,
            "score": self.score,
            "confidence": self.confidence,
        }


def _base(path: str) -> str:
    name = path.replace("\\", "/").rsplit("/", 1)[-1].lower()
    for suffix in (".exe", ".cmd"):
        name = name.removesuffix(suffix)
    return name


def language_of(argv: list[str], exe: str) -> str | None:
    for name in (_base(argv[0]) if argv else "", _base(exe)):
        if re.fullmatch(r"(?:python|pypy)(?:\d+(?:\.\d+)?)?w?", name):
            return "python"
        if name in ("node", "nodejs", "bun", "deno"):
            return "node"
    return None


# -- where the code is ---------------------------------------------------------------------------


@dataclass
class Entry:
    script: str | None = None  # a file to read
    code: str | None = None  # code given on the command line (-c / -e)
    module: str | None = None  # a module to find (-m, an ASGI runner's app:target)


def python_entry(argv: list[str]) -> Entry:
    args = argv[1:]
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "-c":
            return Entry(code=args[i + 1] if i + 1 < len(args) else "")
        if arg == "-m":
            module = args[i + 1] if i + 1 < len(args) else ""
            rest = args[i + 2 :]
            if module in _ASGI_RUNNERS | {"fastmcp", "mcp"}:
                return _runner_target(module, rest)
            return Entry(module=module)
        if arg in _PY_VALUE_OPTIONS:
            i += 2
            continue
        if arg.startswith("-") and arg != "-":
            i += 1
            continue
        if arg == "-":
            return Entry()
        script = arg
        name = _base(script).removesuffix(".py")
        if name in _ASGI_RUNNERS | {"fastmcp", "mcp"}:  # a console script: the app it serves is the code
            target = _runner_target(name, args[i + 1 :])
            if target.script or target.module:
                return target
        return Entry(script=script)
    return Entry()


def _runner_target(runner: str, rest: list[str]) -> Entry:
    """`uvicorn pkg.app:app`, `fastmcp run server.py`, `mcp run server.py:app`: the code the runner serves."""
    positional = [a for a in rest if not a.startswith("-")]
    for arg in positional:  # a script file wins, then a module:object target
        if arg.split(":", 1)[0].endswith(".py"):
            return Entry(script=arg.split(":", 1)[0])
    for arg in positional:
        if ":" in arg and _MODULE_TARGET.match(arg):
            return Entry(module=arg.split(":", 1)[0])
    for arg in positional:
        if arg not in ("run", "dev") and _MODULE_TARGET.match(arg):
            return Entry(module=arg)
    return Entry()


def node_entry(argv: list[str]) -> Entry:
    args = argv[1:]
    if args and _base(argv[0]) in ("bun", "deno") and args[0] in ("run", "serve"):
        args = args[1:]
    i = 0
    while i < len(args):
        arg = args[i]
        if arg in _NODE_CODE_OPTIONS:
            return Entry(code=args[i + 1] if i + 1 < len(args) else "")
        if arg in _NODE_VALUE_OPTIONS:
            i += 2
            continue
        if arg.startswith("-"):
            i += 1
            continue
        norm = arg.replace("\\", "/")
        if (
            _base(arg) in ("tsx", "ts-node", "ts-node-esm")
            or "/node_modules/tsx/" in norm
            or "/node_modules/ts-node/" in norm
        ):
            i += 1  # a TypeScript runner: the script is the next argument
            continue
        return Entry(script=arg)
    return Entry()


# -- reading ----------------------------------------------------------------------------------------


def read_bounded(path: str) -> str | None:
    """The first MAX_SCRIPT_BYTES of a regular file as text, or None (missing, unreadable, not a file)."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError:
        return None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None  # a FIFO or device would block or never end
        data = os.read(fd, MAX_SCRIPT_BYTES)
    except OSError:
        return None
    finally:
        os.close(fd)
    if b"\x00" in data[:4096]:
        return None
    return data.decode("utf-8", "replace")


def _resolve(path: str, cwd: str | None) -> str:
    if os.path.isabs(path) or not cwd:
        return path
    return os.path.join(cwd, path)


# -- Python ------------------------------------------------------------------------------------------


@dataclass
class _PyFacts:
    server_import: set[str] = field(default_factory=set)
    other_import: set[str] = field(default_factory=set)
    construct: set[str] = field(default_factory=set)
    local: list[tuple[str, int]] = field(default_factory=list)  # (module, relative level) to follow


def _is_server_module(module: str) -> bool:
    parts = module.split(".")
    return parts[0] == "fastmcp" or "server" in parts[1:]


def _is_client_module(module: str) -> bool:
    return "client" in module.split(".")[1:]


def python_facts(source: str) -> _PyFacts:
    facts = _PyFacts()
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return _python_facts_from_tokens(source)
    sdk_names: dict[str, str] = {}  # local name -> SDK class name
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                top = alias.name.split(".")[0]
                if top in _PY_SDK:
                    _note_module(facts, alias.name, ())
                else:
                    facts.local.append((alias.name, 0))
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level == 0 and module.split(".")[0] in _PY_SDK:
                names = tuple(a.name for a in node.names)
                _note_module(facts, module, names)
                for a in node.names:
                    if a.name in _SDK_SERVER_NAMES:
                        sdk_names[a.asname or a.name] = a.name
            else:
                facts.local.append((module, node.level))
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else None
            if name in _SERVER_CLASSES:
                facts.construct.add(name)
            elif name in sdk_names:
                facts.construct.add(sdk_names[name])
    return facts


def _note_module(facts: _PyFacts, module: str, names: tuple[str, ...]) -> None:
    if _is_client_module(module) or (names and set(names) <= {"ClientSession", "StdioServerParameters", "types"}):
        return  # an MCP client (or only protocol types): not a server
    if _is_server_module(module) or set(names) & _SDK_SERVER_NAMES:
        facts.server_import.add(module)
    else:
        facts.other_import.add(module)


def _python_facts_from_tokens(source: str) -> _PyFacts:
    """Imports by token (comments and strings are their own tokens), for code `ast` cannot parse (a script
    cut at MAX_SCRIPT_BYTES, Python 2)."""
    facts = _PyFacts()
    toks: list[tokenize.TokenInfo] = []
    try:
        toks.extend(tokenize.generate_tokens(io.StringIO(source).readline))
    except (tokenize.TokenError, IndentationError, SyntaxError):
        pass
    line_start = True
    for i, tok in enumerate(toks):
        if tok.type in (tokenize.NEWLINE, tokenize.NL, tokenize.INDENT, tokenize.DEDENT):
            line_start = True
            continue
        if tok.type == tokenize.COMMENT:
            continue
        if line_start and tok.type == tokenize.NAME and tok.string in ("import", "from"):
            module = _dotted(toks, i + 1)
            if module.split(".")[0] in _PY_SDK:
                names: tuple[str, ...] = ()
                if tok.string == "from":
                    j = i + 1
                    while j < len(toks) and not (toks[j].type == tokenize.NAME and toks[j].string == "import"):
                        j += 1
                    names = tuple(
                        t.string for t in toks[j + 1 : j + 20] if t.type == tokenize.NAME and t.string != "as"
                    )
                _note_module(facts, module, names)
        if (
            tok.type == tokenize.NAME
            and tok.string in _SERVER_CLASSES
            and i + 1 < len(toks)
            and toks[i + 1].string == "("
        ):
            facts.construct.add(tok.string)
        line_start = False
    return facts


def _dotted(toks: list[tokenize.TokenInfo], i: int) -> str:
    parts = []
    while i < len(toks) and (toks[i].type == tokenize.NAME or toks[i].string == "."):
        if toks[i].type == tokenize.NAME and toks[i].string == "import":
            break
        parts.append(toks[i].string)
        i += 1
    return "".join(parts)


def _find_module(module: str, level: int, roots: list[str], here: str) -> str | None:
    if level:
        base = here
        for _ in range(level - 1):
            base = os.path.dirname(base)
        roots = [base]
    rel = module.replace(".", os.sep) if module else ""
    for root in roots:
        for cand in (
            os.path.join(root, rel + ".py"),
            os.path.join(root, rel, "__init__.py"),
            os.path.join(root, rel, "__main__.py"),
        ):
            if rel and os.path.isfile(cand):
                return cand
    return None


def _python_site_dirs(proc_pid: int | None, argv0: str, cwd: str | None, script: str | None) -> list[str]:
    sites: list[str] = []
    interp = _resolve(argv0, cwd) if ("/" in argv0 or "\\" in argv0) else ""
    prefixes = []
    if interp:
        prefix = os.path.dirname(os.path.dirname(interp))
        if os.path.isfile(os.path.join(prefix, "pyvenv.cfg")):
            prefixes.append(prefix)
    if script:
        here = os.path.dirname(script)
        for _ in range(MAX_PARENTS):
            for name in (".venv", "venv", "env"):
                cand = os.path.join(here, name)
                if os.path.isfile(os.path.join(cand, "pyvenv.cfg")):
                    prefixes.append(cand)
            parent = os.path.dirname(here)
            if parent == here:
                break
            here = parent
    for prefix in prefixes:
        sites += glob.glob(os.path.join(glob.escape(prefix), "lib", "python3*", "site-packages"))
        sites.append(os.path.join(prefix, "Lib", "site-packages"))
    if proc_pid is not None:
        try:  # extension modules the process has mapped name the site-packages it really uses
            for m in psutil.Process(proc_pid).memory_maps(grouped=True):
                path = m.path.replace("\\", "/")
                for marker in ("/site-packages/", "/dist-packages/"):
                    if marker in path:
                        sites.append(path.split(marker, 1)[0] + marker.rstrip("/"))
        except (psutil.Error, OSError, NotImplementedError):
            pass
    return list(dict.fromkeys(s for s in sites if os.path.isdir(s)))[:8]


def _python_env(sites: list[str]) -> list[str]:
    found = []
    for pkg in ("mcp", "fastmcp"):
        for site in sites:
            if os.path.isdir(os.path.join(site, pkg)) or glob.glob(
                os.path.join(glob.escape(site), f"{pkg}-*.dist-info")
            ):
                found.append(f"env:python:{pkg}")
                break
    return found


def inspect_python(argv: list[str], cwd: str | None, pid: int | None = None) -> Finding | None:
    entry = python_entry(argv)
    roots = [r for r in (cwd,) if r]
    script = None
    if entry.script:
        script = _resolve(entry.script, cwd)
    elif entry.module:
        script = _find_module(entry.module, 0, roots, cwd or "")
    if entry.code is None and script is None:
        return None
    sources: list[tuple[str, str | None]] = []
    if entry.code is not None:
        sources.append((entry.code, None))
    elif script and (text := read_bounded(script)) is not None:
        sources.append((text, script))
    if not sources:
        return None
    facts = _PyFacts()
    followed = 0
    queue = list(sources)
    seen = {script} if script else set()
    via_local = False
    while queue:
        text, path = queue.pop(0)
        f = python_facts(text)
        if path != script and (f.server_import or f.other_import or f.construct):
            via_local = True
        facts.server_import |= f.server_import
        facts.other_import |= f.other_import
        facts.construct |= f.construct
        here = os.path.dirname(path) if path else (cwd or "")
        search = list(dict.fromkeys([here] + roots))
        for module, level in f.local:
            if followed >= MAX_MODULES:
                break
            found = _find_module(module, level, search, here)
            if found and found not in seen:
                seen.add(found)
                followed += 1
                if (t := read_bounded(found)) is not None:
                    queue.append((t, found))
    finding = Finding("python", script or "-c")
    if facts.server_import:
        finding.indicators += [f"import:{m}" for m in sorted(facts.server_import)]
        finding.score += SCORE_SERVER_IMPORT
    elif facts.other_import:
        finding.indicators += [f"import:{m}" for m in sorted(facts.other_import)]
        finding.score += SCORE_OTHER_IMPORT
    if facts.construct:
        finding.indicators += [f"construct:{c}" for c in sorted(facts.construct)]
        finding.score += SCORE_CONSTRUCT
    if not (facts.server_import or facts.other_import):
        return None  # nothing in the code itself says MCP
    if via_local:
        finding.indicators.append("via:local_module")
    env = _python_env(_python_site_dirs(pid, argv[0] if argv else "", cwd, script))
    if env:
        finding.indicators += env
        finding.score += SCORE_ENV
    finding.score = round(finding.score, 2)
    return finding if finding.score >= REPORT_AT else None


# -- Node --------------------------------------------------------------------------------------------

_JS_SPEC_BEFORE = re.compile(r"(?:\bfrom|\bimport|\brequire\s*\(|\bimport\s*\()\s*$")


def _strip_js_comments(source: str) -> str:
    """Comments removed and string literals emptied, except strings in an import position (the module
    specifiers): "import x from '@modelcontextprotocol/sdk'" inside a string is not an import."""
    out: list[str] = []
    last = 0
    for m in _JS_TOKENS.finditer(source):
        out.append(source[last : m.start()])
        last = m.end()
        if m.group("c"):
            out.append("\n" if "\n" in m.group(0) else " ")
        elif _JS_SPEC_BEFORE.search("".join(out[-3:])[-40:]):
            out.append(m.group("s"))
        else:
            out.append(m.group("s")[0] * 2)
    out.append(source[last:])
    return "".join(out)


def js_facts(source: str) -> tuple[set[str], set[str], set[str], list[str]]:
    """(server imports, other SDK imports, constructs, relative imports) of JavaScript / TypeScript code."""
    code = _strip_js_comments(source)
    server: set[str] = set()
    other: set[str] = set()
    construct: set[str] = set()
    local: list[str] = []
    specs = [m.group(2) for m in _JS_IMPORT.finditer(code)]
    for spec in specs:
        pkg = next((p for p in _NODE_SPECS if spec == p or spec.startswith(p + "/")), None)
        if pkg:
            sub = spec[len(pkg) :]
            if "/client" in sub:
                continue
            (server if (pkg != "@modelcontextprotocol/sdk" or "/server" in sub) else other).add(
                pkg + sub.split(".")[0].rstrip("/")
            )
        elif spec.startswith(("./", "../")):
            local.append(spec)
    for m in _JS_NEW.finditer(code):
        if m.group(1) != "Server" or server:
            construct.add(m.group(1))
    return server, other, construct, local


def _node_env(script: str) -> list[str]:
    here = os.path.dirname(script)
    found = []
    for _ in range(MAX_PARENTS):
        for pkg, label in (
            ("@modelcontextprotocol/sdk", "env:node:@modelcontextprotocol/sdk"),
            ("fastmcp", "env:node:fastmcp"),
        ):
            if label not in found and os.path.isfile(
                os.path.join(here, "node_modules", *pkg.split("/"), "package.json")
            ):
                found.append(label)
        parent = os.path.dirname(here)
        if parent == here:
            break
        here = parent
    return found


def inspect_node(argv: list[str], cwd: str | None) -> Finding | None:
    entry = node_entry(argv)
    script = None
    sources: list[tuple[str, str | None]] = []
    if entry.code is not None:
        sources.append((entry.code, None))
    elif entry.script:
        base = _resolve(entry.script, cwd)
        script = next((base + ext for ext in _JS_EXTS if os.path.isfile(base + ext)), None)
        if script and (text := read_bounded(script)) is not None:
            sources.append((text, script))
    if not sources:
        return None
    server, other, construct = set(), set(), set()
    seen = {script}
    via_local = False
    followed = 0
    while sources:
        text, path = sources.pop(0)
        s, o, c, local = js_facts(text)
        if path != script and (s or o or c):
            via_local = True
        server |= s
        other |= o
        construct |= c
        here = os.path.dirname(path) if path else (cwd or "")
        for spec in local:
            if followed >= MAX_MODULES:
                break
            base = os.path.normpath(os.path.join(here, spec))
            found = next((base + ext for ext in _JS_EXTS if os.path.isfile(base + ext)), None)
            if found and found not in seen:
                seen.add(found)
                followed += 1
                if (t := read_bounded(found)) is not None:
                    sources.append((t, found))
    if not (server or other):
        return None
    finding = Finding("node", script or "-e")
    finding.indicators += [f"import:{m}" for m in sorted(server or other)]
    finding.score += SCORE_SERVER_IMPORT if server else SCORE_OTHER_IMPORT
    if construct:
        finding.indicators += [f"construct:{c}" for c in sorted(construct)]
        finding.score += SCORE_CONSTRUCT
    if via_local:
        finding.indicators.append("via:local_module")
    env = _node_env(script or os.path.join(cwd or "", "x"))
    if env:
        finding.indicators += env
        finding.score += SCORE_ENV
    finding.score = round(finding.score, 2)
    return finding if finding.score >= REPORT_AT else None


def inspect(argv: list[str], exe: str, cwd: str | None, pid: int | None = None) -> Finding | None:
    """The SDK evidence of one process, or None."""
    language = language_of(argv, exe)
    if language == "python":
        return inspect_python(argv, cwd, pid)
    if language == "node":
        return inspect_node(argv, cwd)
    return None


def process_cwd(pid: int) -> str | None:
    try:
        cwd: str = psutil.Process(pid).cwd()
    except (psutil.Error, OSError):
        return None
    return cwd
