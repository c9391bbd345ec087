#!/usr/bin/env python3
"""Generate the files derived from the detection catalogue (detections/), or check that they are current.

    python3 scripts/catalogue.py            # write them (`make catalogue`)
    python3 scripts/catalogue.py --check    # exit 1 and name the stale ones

Generated from detections/indicators/*.yaml:
  zeek/scripts/mcp/indicators.zeek   the ``&redef`` pattern constants the MCP notices match with
  suricata/mcp.rules                 the pcre of every rule preceded by a ``# catalogue:`` template line
                                     (the rest of the file is hand-written; a rule whose pcre changes gets rev + 1)
Generated from detections/*.yaml and the sensors' own files:
  docs/detections.md                 what each detection means, which sensor it needs, how to triage it
Generated from detections/remote/endpoints.yaml (public remote MCP services; ingest_python/mcpeeker/remote_endpoints.py):
  suricata/mcp-remote-dedicated.lst  the Suricata datasets suricata/mcp-remote.rules loads (base64 host names)
  suricata/mcp-remote-shared.lst
  zeek/scripts/mcp/remote-endpoints.zeek   the table zeek/scripts/mcp/remote.zeek inserts as Intel items

Independent of the mcpeeker package (PyYAML only), so it runs before anything is installed. The pattern syntax of
the indicator lists is described in detections/indicators/README.md.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

import yaml

REPO = Path(__file__).resolve().parents[1]
DETECTIONS = REPO / "detections"
ZEEK_DIR = REPO / "zeek" / "scripts" / "mcp"
ZEEK_OUT = ZEEK_DIR / "indicators.zeek"
RULES = REPO / "suricata" / "mcp.rules"
SIGMA_RULES = REPO / "sigma" / "rules"
DOCS_OUT = REPO / "docs" / "detections.md"
SENSORS = ("suricata", "zeek", "sigma", "agent")


class CatalogueError(ValueError):
    """A catalogue or indicator file that cannot be used."""


def _yaml(path: Path) -> Any:
    with path.open(encoding="utf-8") as fh:
        return yaml.load(fh, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


def load_vocabulary(root: Path = DETECTIONS) -> dict[str, Any]:
    return _yaml(root / "_vocabulary.yaml")


def entry_paths(root: Path = DETECTIONS) -> list[Path]:
    return sorted(p for p in root.glob("*.yaml") if not p.name.startswith("_"))


def load_entries(root: Path = DETECTIONS) -> list[dict[str, Any]]:
    """Every entry, in the order of the vocabulary's evidence kinds, then by id."""
    kinds = list(load_vocabulary(root)["evidence"])
    entries = [_yaml(p) for p in entry_paths(root)]
    return sorted(
        entries,
        key=lambda e: (kinds.index(e["evidence"]) if e.get("evidence") in kinds else len(kinds), str(e.get("id"))),
    )


def load_indicators(root: Path = DETECTIONS) -> dict[str, dict[str, Any]]:
    out = {}
    for path in sorted((root / "indicators").glob("*.yaml")):
        data = _yaml(path)
        if data.get("name") != path.stem:
            raise CatalogueError(f"{path}: name must be {path.stem!r}")
        out[path.stem] = data
    return out


# --- indicator patterns: one syntax, rendered per sensor -----------------------------------------------------------
#
# A pattern is parsed into nodes: ("alt", [seq, ...]) where a seq is a list of (atom, quantifier) and an atom is
# ("lit", c) | ("sep",) | ("slash",) | ("quote",) | ("ws",) | ("bound", edge) | ("within", n) | ("near", n)
# | ("chars", [(first, last), ...]) | ("class", negated, members) | ("group", alt). Class members: ("char", c) | ("range", a, b) | ("sep",) | ("quote",)
# | ("ws",) | ("esc", letter).

ESCAPABLE = frozenset(".^$*+?()[]{}|\\/-\"'`;<>&~#%=:,!@ ")


@dataclass
class Source:
    """Where references resolve: the lists of the indicator file the pattern belongs to, and every file."""

    indicator: dict[str, Any] | None
    indicators: dict[str, dict[str, Any]]


def parse(pattern: str, src: Source, stack: tuple[str, ...] = ()) -> tuple[str, list]:
    pos = 0

    def error(msg: str) -> CatalogueError:
        return CatalogueError(f"pattern {pattern!r}, at {pos}: {msg}")

    def parse_alt() -> tuple[str, list]:
        nonlocal pos
        seqs = [parse_seq()]
        while pos < len(pattern) and pattern[pos] == "|":
            pos += 1
            seqs.append(parse_seq())
        return ("alt", seqs)

    def parse_seq() -> list:
        nonlocal pos
        seq: list = []
        start = pos
        while pos < len(pattern) and pattern[pos] not in "|)":
            atom = parse_atom(at_start=pos == start)
            quant = parse_quant()
            if quant and atom[0] in ("bound", "within", "near"):
                raise error("a quantifier cannot follow \\b, {WITHIN} or {NEAR}")
            seq.append((atom, quant))
        if seq and seq[-1][0][0] == "bound":
            seq[-1] = (("bound", True), seq[-1][1])
        return seq

    def parse_quant() -> str:
        nonlocal pos
        if pos < len(pattern) and pattern[pos] in "?*+":
            pos += 1
            q = pattern[pos - 1]
        else:
            m = re.compile(r"\{\d+(,\d*)?\}").match(pattern, pos)
            if not m:
                return ""
            pos = m.end()
            q = m.group()
        if pos < len(pattern) and pattern[pos] in "?+":
            raise error("lazy and possessive quantifiers are not supported")
        return q

    def parse_atom(at_start: bool) -> tuple:
        nonlocal pos
        c = pattern[pos]
        if c == "(":
            if not pattern.startswith("(?:", pos):
                raise error("only non-capturing groups (?:...) are allowed")
            pos += 3
            alt = parse_alt()
            if pos >= len(pattern) or pattern[pos] != ")":
                raise error("unclosed group")
            pos += 1
            return ("group", alt)
        if c == "[":
            return parse_class()
        if c == "{":
            m = re.compile(r"\{(?:(WITHIN|NEAR):(\d+)|CHARS:([0-9A-F,-]+)|([a-z_]+(?:\.[a-z_]+)?))\}").match(
                pattern, pos
            )
            if not m:
                raise error("expected {WITHIN:n}, {NEAR:n}, {CHARS:...} or {name}")
            pos = m.end()
            if m.group(2):
                return (m.group(1).lower(), int(m.group(2)))
            if m.group(3):
                return ("chars", code_points(m.group(3), error))
            return ("group", resolve(m.group(4), src, stack))
        if c == "\\":
            if pos + 1 >= len(pattern):
                raise error("trailing backslash")
            e = pattern[pos + 1]
            pos += 2
            if e == "s":
                return ("ws",)
            if e == "b":
                return ("bound", at_start)
            if e == "/":
                return ("slash",)
            if e in ESCAPABLE:
                return ("lit", e)
            raise error(f"unsupported escape \\{e}")
        pos += 1
        if c == "/":
            return ("sep",)
        if c == '"':
            return ("quote",)
        if c in ".^$":
            raise error(f"{c!r} is not allowed (write \\{c} for the character)")
        if c in "?*+{}]":
            raise error(f"unexpected {c!r}")
        return ("lit", c)

    def parse_class() -> tuple:
        nonlocal pos
        pos += 1
        negated = pattern.startswith("^", pos)
        if negated:
            pos += 1
        members: list = []
        while pos < len(pattern) and pattern[pos] != "]":
            c = pattern[pos]
            if c == "\\":
                e = pattern[pos + 1]
                pos += 2
                if e == "s":
                    members.append(("ws",))
                elif e in "ntr":
                    members.append(("esc", e))
                elif e == "/":
                    members.append(("char", "/"))
                elif e in ESCAPABLE:
                    members.append(("char", e))
                else:
                    raise error(f"unsupported escape \\{e} in a class")
                continue
            pos += 1
            if c == "/":
                members.append(("sep",))
            elif c == '"':
                members.append(("quote",))
            elif pos < len(pattern) - 1 and pattern[pos] == "-" and pattern[pos + 1] != "]":
                members.append(("range", c, pattern[pos + 1]))
                pos += 2
            else:
                members.append(("char", c))
        if pos >= len(pattern):
            raise error("unclosed class")
        pos += 1
        return ("class", negated, members)

    alt = parse_alt()
    if pos != len(pattern):
        raise error("unbalanced ')'")
    return alt


def code_points(spec: str, error: Any) -> list[tuple[int, int]]:
    """{CHARS:200B-200D,FEFF}: inclusive code point ranges (hex)."""
    out = []
    for part in spec.split(","):
        lo, _, hi = part.partition("-")
        try:
            a, b = int(lo, 16), int(hi or lo, 16)
        except ValueError:
            raise error(f"bad code point range {part!r}") from None
        if not 0x80 <= a <= b <= 0x10FFFF or a <= 0xDFFF and b >= 0xD800:
            raise error(f"code point range {part!r} must be non-ASCII, ordered and hold no surrogates")
        out.append((a, b))
    return out


def _runs(items: list[tuple[Any, int]]) -> list[tuple[Any, int, int]]:
    """(prefix, last) pairs, in order -> (prefix, first last, final last) for each run of consecutive lasts."""
    runs: list[tuple[Any, int, int]] = []
    for prefix, last in items:
        if runs and runs[-1][0] == prefix and runs[-1][2] + 1 == last:
            runs[-1] = (prefix, runs[-1][1], last)
        else:
            runs.append((prefix, last, last))
    return runs


def utf8_forms(ranges: list[tuple[int, int]]) -> list[tuple[bytes, int, int]]:
    """The UTF-8 encodings of the code points as (leading bytes, first last byte, final last byte) runs."""
    items = []
    for a, b in ranges:
        for cp in range(a, b + 1):
            enc = chr(cp).encode("utf-8")
            items.append((enc[:-1], enc[-1]))
    return _runs(items)


def json_escape_forms(ranges: list[tuple[int, int]]) -> list[tuple[str, int, int]]:
    """The JSON ``\\uXXXX`` escapes (surrogate pairs above U+FFFF) as (leading hex digits, first last digit,
    final last digit) runs; hex in lower case."""
    items = []
    for a, b in ranges:
        for cp in range(a, b + 1):
            units = [cp] if cp < 0x10000 else [0xD800 + ((cp - 0x10000) >> 10), 0xDC00 + ((cp - 0x10000) & 0x3FF)]
            text = "".join(f"u{u:04x}" for u in units)
            items.append((text[:-1], int(text[-1], 16)))
    return _runs(items)


def _hex_class(first: int, last: int) -> str:
    """A class of the hex digits first..last, in both cases (JSON allows either)."""
    if first == last and first < 10:
        return str(first)
    parts = []
    if first < 10:
        parts.append(f"{first}-{min(last, 9)}" if min(last, 9) > first else str(first))
    if last >= 10:
        lo, hi = f"{max(first, 10):x}", f"{last:x}"
        for a, b in ((lo, hi), (lo.upper(), hi.upper())):
            parts.append(f"{a}-{b}" if a != b else a)
    return "[" + "".join(parts) + "]"


def _escape_text(text: str) -> str:
    """``u200`` -> a regex for backslash, u, then the hex digits in either case."""
    return "".join("\\\\u" if c == "u" else c if c.isdigit() else f"[{c}{c.upper()}]" for c in text)


def chars_alternatives(ranges: list[tuple[int, int]]) -> list[str]:
    """Code points as they can appear in JSON text: raw UTF-8 bytes, or a ``\\u`` escape (the same regex text
    serves Zeek and PCRE: byte escapes, classes and a literal backslash)."""
    out = []
    for lead, a, b in utf8_forms(ranges):
        prefix = "".join(f"\\x{x:02x}" for x in lead)
        out.append(prefix + (f"\\x{a:02x}" if a == b else f"[\\x{a:02x}-\\x{b:02x}]"))
    for lead, a, b in json_escape_forms(ranges):
        out.append(_escape_text(lead) + _hex_class(a, b))
    return out


def resolve(name: str, src: Source, stack: tuple[str, ...]) -> tuple[str, list]:
    """{name}: a list of the pattern's own indicator file, a whole indicator file, or file.group."""
    if name in stack:
        raise CatalogueError(f"reference cycle: {' -> '.join(stack + (name,))}")
    file_name, _, group = name.partition(".")
    own_lists = (src.indicator or {}).get("lists") or {}
    if not group and name in own_lists:
        return ("alt", [seq for p in own_lists[name] for seq in parse(p, src, stack + (name,))[1]])
    ind = src.indicators.get(file_name)
    if ind is None:
        raise CatalogueError(f"unknown reference {{{name}}}")
    groups = ind["groups"]
    if group and group not in groups:
        raise CatalogueError(f"unknown reference {{{name}}}: no group {group!r} in {file_name}")
    sub = Source(ind, src.indicators)
    seqs = []
    for gname in [group] if group else list(groups):
        for p in groups[gname]["patterns"]:
            seqs.extend(parse(p, sub, stack + (name,))[1])
    return ("alt", seqs)


def _flat(seqs: list) -> list:
    """An alternative that is nothing but an unquantified group is spliced into the enclosing alternation."""
    out = []
    for seq in seqs:
        if len(seq) == 1 and seq[0][0][0] == "group" and not seq[0][1]:
            out.extend(_flat(seq[0][0][1][1]))
        else:
            out.append(seq)
    return out


class Renderer:
    """Writes parsed patterns in one sensor's syntax."""

    sensor = ""

    def alt(self, node: tuple[str, list], top: bool = False) -> str:
        body = "|".join(self.seq(s) for s in _flat(node[1]))
        return body if top else self.group(body)

    def seq(self, seq: list) -> str:
        out = []
        for atom, quant in seq:
            text, atomic = self.atom(atom)
            if quant and not atomic:
                text = self.group(text)
            out.append(text + quant)
        return "".join(out)

    def atom(self, atom: tuple) -> tuple[str, bool]:
        kind = atom[0]
        if kind == "group":
            return self.alt(atom[1]), True
        if kind == "class":
            neg = "^" if atom[1] else ""
            return "[" + neg + "".join(self.member(m) for m in atom[2]) + "]", True
        return getattr(self, kind)(*atom[1:])

    def group(self, body: str) -> str:
        raise NotImplementedError

    def chars(self, ranges: list[tuple[int, int]]) -> tuple[str, bool]:
        return self.group("|".join(chars_alternatives(ranges))), True

    def member(self, m: tuple) -> str:
        raise NotImplementedError


class ZeekRenderer(Renderer):
    """Zeek patterns match decoded JSON text (attacks.zeek runs json_unescape first)."""

    sensor = "zeek"
    SPECIAL: ClassVar[frozenset[str]] = frozenset('.*+?()[]{}|\\^$/"')

    def group(self, body: str) -> str:
        return f"({body})"

    def lit(self, c: str) -> tuple[str, bool]:
        return ("\\" + c if c in self.SPECIAL else c), True

    def sep(self) -> tuple[str, bool]:
        return r"[\/\\]", True

    def slash(self) -> tuple[str, bool]:
        return r"\/", True

    def quote(self) -> tuple[str, bool]:
        return r"\"", True

    def ws(self) -> tuple[str, bool]:
        return r"[ \t\r\n]", True

    def bound(self, edge: bool) -> tuple[str, bool]:
        # Zeek patterns have no \b: at the edge of a pattern it is one character that is not a word character
        # (the decoded text always has a quote or a separator there); inside a pattern it is left out.
        return (r"[^a-zA-Z0-9_]" if edge else ""), True

    def within(self, n: int) -> tuple[str, bool]:
        return rf"[^.\n]{{0,{n}}}", True

    def near(self, n: int) -> tuple[str, bool]:
        return rf"[^\"]{{0,{n}}}", True

    def member(self, m: tuple) -> str:
        kind = m[0]
        if kind == "char":
            return "\\" + m[1] if m[1] in '\\]^-/"' else m[1]
        if kind == "range":
            return f"{m[1]}-{m[2]}"
        if kind == "sep":
            return r"\/\\"
        if kind == "quote":
            return r"\""
        if kind == "ws":
            return r" \t\r\n"
        return "\\" + m[1]


class SuricataRenderer(Renderer):
    """Suricata pcre match the raw HTTP body: JSON escapes (\\/, \\\\, \\u003c ...) are still there, and a rule
    option may hold neither a double quote nor a semicolon."""

    sensor = "suricata"
    SPECIAL: ClassVar[frozenset[str]] = frozenset(".^$*+?()[]{}|\\/")
    JSON_ESCAPED: ClassVar[dict[str, str]] = {"<": r"(?:<|\\u003c)", ">": r"(?:>|\\u003e)", "&": r"(?:&|\\u0026)"}

    def group(self, body: str) -> str:
        return f"(?:{body})"

    def lit(self, c: str) -> tuple[str, bool]:
        if c in self.JSON_ESCAPED:
            return self.JSON_ESCAPED[c], True
        if c == '"':
            return r"\x22", True
        if c == ";":
            return r"\x3b", True
        if c == " ":
            return r"\x20", True
        return ("\\" + c if c in self.SPECIAL else c), True

    def sep(self) -> tuple[str, bool]:
        return r"(?:\\?\/|\\\\)", True

    def slash(self) -> tuple[str, bool]:
        return r"\\?\/", False

    def quote(self) -> tuple[str, bool]:
        return r"\x22", True

    def ws(self) -> tuple[str, bool]:
        # A raw JSON string writes a line break or tab as an escape.
        return r"(?:\s|\\[nrt])", True

    def bound(self, edge: bool) -> tuple[str, bool]:
        # A JSON \n (\r, \t) escape before a word is a boundary too ("\nAlways ...": no \b between n and A).
        return r"(?:\b|\\[nrt])", True

    def within(self, n: int) -> tuple[str, bool]:
        return rf"[^\x22]{{0,{n}}}", True

    def near(self, n: int) -> tuple[str, bool]:
        return rf"[^\x22]{{0,{n}}}", True

    def member(self, m: tuple) -> str:
        kind = m[0]
        if kind == "char":
            c = m[1]
            if c == '"':
                return r"\x22"
            if c == ";":
                return r"\x3b"
            return "\\" + c if c in "\\]^-/" else c
        if kind == "range":
            return f"{m[1]}-{m[2]}"
        if kind == "sep":
            return r"\/\\"
        if kind == "quote":
            return r"\x22"
        if kind == "ws":
            return r"\s"
        return "\\" + m[1]


RENDERERS = {"zeek": ZeekRenderer(), "suricata": SuricataRenderer()}


def render_reference(name: str, sensor: str, indicators: dict[str, dict[str, Any]]) -> str:
    """{file} or {file.group} as one group in the sensor's syntax."""
    return RENDERERS[sensor].alt(resolve(name, Source(None, indicators), ()))


def render_group(indicator: dict[str, Any], group: str, sensor: str, indicators: dict[str, dict[str, Any]]) -> str:
    return render_reference(f"{indicator['name']}.{group}", sensor, indicators)


def zeek_constant(indicator: dict[str, Any], indicators: dict[str, dict[str, Any]]) -> str:
    node = resolve(indicator["name"], Source(None, indicators), ())
    flags = "i" if indicator["zeek"].get("case_insensitive") else ""
    return "/" + ZeekRenderer().alt(node, top=True) + "/" + flags


# --- zeek/scripts/mcp/indicators.zeek ------------------------------------------------------------------------------

ZEEK_HEADER = """\
##! Indicator patterns of the MCP notices (attacks.zeek), generated from
##! detections/indicators/*.yaml by scripts/catalogue.py (``make catalogue``):
##! edit the lists there and regenerate; do not edit this file. Every
##! constant stays ``&redef``, so a site can still replace or extend it.

module MCP;

export {
"""


def render_zeek(indicators: dict[str, dict[str, Any]]) -> str:
    parts = [ZEEK_HEADER]
    first = True
    for name in sorted(indicators):
        ind = indicators[name]
        if "zeek" not in ind:
            continue
        if not first:
            parts.append("\n")
        first = False
        for line in ind["zeek"]["doc"].strip().splitlines():
            parts.append(f"\t## {line.strip()}\n".replace("## \n", "##\n"))
        parts.append(f"\tconst {ind['zeek']['constant']} = {zeek_constant(ind, indicators)}\n\t    &redef;\n")
    parts.append("}\n")
    return "".join(parts)


# --- suricata/mcp.rules --------------------------------------------------------------------------------------------

MARKER = re.compile(r"^# catalogue: sid (\d+) pcre (\d+) = (/.*)$")
PCRE_OPTION = re.compile(r'pcre:"((?:[^"\\]|\\.)*)"')
TEMPLATE_REF = re.compile(r"\{([a-z_]+(?:\.[a-z_]+)?)\}")


def render_template(template: str, indicators: dict[str, dict[str, Any]]) -> str:
    return TEMPLATE_REF.sub(lambda m: render_reference(m.group(1), "suricata", indicators), template)


def render_rules(text: str, indicators: dict[str, dict[str, Any]]) -> str:
    """The rules file with every templated pcre rendered; a rule whose pcre changes gets rev + 1."""
    lines = text.split("\n")
    today = datetime.now(UTC).strftime("%Y_%m_%d")
    for i, line in enumerate(lines):
        m = MARKER.match(line)
        if not m:
            continue
        sid, index, template = int(m.group(1)), int(m.group(2)), m.group(3)
        j = i + 1
        while j < len(lines) and not lines[j].strip():
            j += 1
        rule = lines[j] if j < len(lines) else ""
        if not rule.startswith("alert ") or f"sid:{sid};" not in rule:
            raise CatalogueError(f"{RULES.name}:{i + 1}: the catalogue line for sid {sid} must precede that rule")
        options = list(PCRE_OPTION.finditer(rule))
        if not 1 <= index <= len(options):
            raise CatalogueError(f"{RULES.name}:{i + 1}: sid {sid} has no pcre number {index}")
        option = options[index - 1]
        rendered = render_template(template, indicators)
        if option.group(1) == rendered:
            continue
        rule = rule[: option.start(1)] + rendered + rule[option.end(1) :]
        rule = re.sub(r"\brev:(\d+);", lambda r: f"rev:{int(r.group(1)) + 1};", rule, count=1)
        rule = re.sub(r"\bupdated_at \d{4}_\d{2}_\d{2}\b", f"updated_at {today}", rule, count=1)
        lines[j] = rule
    return "\n".join(lines)


def rule_templates(text: str) -> dict[int, list[tuple[int, str]]]:
    """sid -> [(pcre number, template)] of the templated rules."""
    out: dict[int, list[tuple[int, str]]] = {}
    for line in text.splitlines():
        m = MARKER.match(line)
        if m:
            out.setdefault(int(m.group(1)), []).append((int(m.group(2)), m.group(3)))
    return out


# --- what the sensors' own files say (for the docs) ----------------------------------------------------------------

RULE_LINE = re.compile(r'^alert .*?\(msg:"([^"]*)";.*\bsid:(\d+);')


def suricata_messages(text: str | None = None) -> dict[int, str]:
    text = RULES.read_text(encoding="utf-8") if text is None else text
    out = {}
    for line in text.splitlines():
        m = RULE_LINE.match(line)
        if m:
            out[int(m.group(2))] = m.group(1)
    return out


NOTICE_BLOCK = re.compile(r"redef enum Notice::Type \+= \{(.*?)\};", re.DOTALL)


def zeek_notices(directory: Path = ZEEK_DIR) -> dict[str, str]:
    """MCP::Name -> its ## documentation, for every notice type declared in the package."""
    out = {}
    for path in sorted(directory.glob("*.zeek")):
        text = path.read_text(encoding="utf-8")
        module = re.search(r"^module\s+(\w+);", text, re.MULTILINE)
        for block in NOTICE_BLOCK.findall(text):
            doc: list[str] = []
            for line in block.splitlines():
                line = line.strip()
                if line.startswith("##"):
                    doc.append(line[2:].strip())
                elif m := re.match(r"(\w+),?$", line):
                    out[f"{module.group(1) if module else 'GLOBAL'}::{m.group(1)}"] = " ".join(doc)
                    doc = []
    return out


def sigma_rules(directory: Path = SIGMA_RULES) -> dict[str, dict[str, Any]]:
    """Sigma rule id -> {title, level, file, tags}."""
    out = {}
    for path in sorted(directory.glob("*.yml")):
        data = _yaml(path)
        out[str(data["id"])] = {
            "title": data.get("title", ""),
            "level": data.get("level", ""),
            "file": path.name,
            "tags": data.get("tags") or [],
        }
    return out


# --- docs/detections.md --------------------------------------------------------------------------------------------


def _cell(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ").strip()


def _code(text: str) -> str:
    """A code span that survives backticks in the text."""
    text = _cell(text)
    return f"`` {text} ``" if "`" in text else f"`{text}`"


def _zeek_doc(text: str) -> str:
    return re.sub(r":zeek:see:`([^`]*)`", r"`\1`", text).replace("``", "`")


def entry_severity(entry: dict[str, Any], vocabulary: dict[str, Any]) -> str:
    if entry.get("attack_type"):
        return vocabulary["attack_types"][entry["attack_type"]]["severity"]
    return entry["severity"]


def entry_sensors(entry: dict[str, Any]) -> list[str]:
    impl = entry.get("implementations") or {}
    return [s for s in SENSORS if impl.get(s)]


def _anchor(entry: dict[str, Any]) -> str:
    return entry["id"].lower()


def render_docs(
    entries: list[dict[str, Any]],
    vocabulary: dict[str, Any],
    indicators: dict[str, dict[str, Any]],
    rules_text: str | None = None,
) -> str:
    messages = suricata_messages(rules_text)
    notices = zeek_notices()
    sigma = sigma_rules()
    out: list[str] = []
    w = out.append
    w("# Detections\n\n")
    w(
        "<!-- Generated from detections/ by scripts/catalogue.py (`make catalogue`): edit the catalogue, not this file. -->\n\n"
    )
    w(
        "Every detection of MCPeeker, whichever sensor implements it, is one entry of the catalogue in `detections/`\n"
        "(one YAML file per detection, checked by `tests/catalogue/test_catalogue.py` against `schemas/detection.schema.json`).\n"
        "The ingest normalisers, correlation and `mcpeeker sigma run` read the evidence and attack types from it;\n"
        "the Zeek indicator constants and the Suricata pcre alternations are generated from its indicator lists.\n\n"
    )
    w(
        "| id | detection | evidence | attack type | severity | trust penalty | sensors |\n|---|---|---|---|---|---|---|\n"
    )
    for e in entries:
        penalty = f"−{e['trust']['penalty']}" if e.get("trust") else "—"
        w(
            f"| [{e['id']}](#{_anchor(e)}) | {_cell(e['name'])} | {e['evidence']} | {e.get('attack_type') or '—'} | "
            f"{entry_severity(e, vocabulary)} | {penalty} | {', '.join(entry_sensors(e))} |\n"
        )
    w(
        "\n## Trust score\n\n"
        "Correlation gives every server (finding) a trust score: 100 minus the penalty of each detection below whose\n"
        "attack type or agent risk the server's evidence carries, each counted once, never below 0 (`trust.score`, with\n"
        "`trust.penalties` listing each detection, penalty, reason and the evidence that triggered it). The penalties\n"
        "are the `trust` blocks of the catalogue entries; [docs/scoring.md](scoring.md) explains the score.\n\n"
    )
    w("| detection | penalty | triggered by | reason |\n|---|---|---|---|\n")
    for e in sorted((e for e in entries if e.get("trust")), key=lambda e: (-e["trust"]["penalty"], e["id"])):
        triggers = ([f"attack type `{e['attack_type']}`"] if e.get("attack_type") else []) + [
            f"agent risk `{r}`" for r in (e.get("implementations") or {}).get("agent") or []
        ]
        w(
            f"| [{e['id']}](#{_anchor(e)}) | −{e['trust']['penalty']} | {', '.join(triggers)} | "
            f"{_cell(e['trust']['reason'])} |\n"
        )
    w("\n## Vocabulary\n\n")
    w("| evidence | weighs as | meaning |\n|---|---|---|\n")
    for name, ev in vocabulary["evidence"].items():
        w(f"| `{name}` | `{ev['scores_as']}` | {_cell(ev['description'])} |\n")
    w(
        "\n### Attack types\n\n`mcpeeker.attack.type`; the severity is the default of `attack_severity` in "
        "`configs/scoring.yaml`.\n\n"
    )
    w("| attack type | severity | meaning |\n|---|---|---|\n")
    for name, at in vocabulary["attack_types"].items():
        w(f"| `{name}` | {at['severity']} | {_cell(at['description'])} |\n")
    w("\n### Sensors\n\n| sensor | what runs | implementations named by |\n|---|---|---|\n")
    for name, s in vocabulary["sensors"].items():
        w(f"| {name} | {_cell(s['description'])} | {_cell(s['implementation'])} |\n")

    for e in entries:
        w(f"\n## {e['id']}\n\n**{e['name']}** — {e['evidence']}")
        if e.get("attack_type"):
            w(f", attack type `{e['attack_type']}`")
        w(f", severity {entry_severity(e, vocabulary)}")
        if e.get("trust"):
            w(f", trust penalty −{e['trust']['penalty']}")
        w(f".\n\n{e['description'].strip()}\n\n")
        w(f"**Sensor needed:** {e['needs'].strip()}\n\n")
        w("| sensor | implementation | what it says |\n|---|---|---|\n")
        impl = e.get("implementations") or {}
        for sid in impl.get("suricata") or []:
            w(f"| Suricata | sid {sid} | {_cell(messages.get(sid, '(not in suricata/mcp.rules)'))} |\n")
        for note in impl.get("zeek") or []:
            w(f"| Zeek | `{note}` | {_cell(_zeek_doc(notices.get(note, '(not declared)')))} |\n")
        for rid in impl.get("sigma") or []:
            rule = sigma.get(rid, {})
            w(
                f"| Sigma | `{rid}` | {_cell(rule.get('title', '(no such rule)'))} (`sigma/rules/{rule.get('file', '?')}`, "
                f"level {rule.get('level', '?')}) |\n"
            )
        for risk in impl.get("agent") or []:
            w(f"| agent | risk `{risk}` | evidence item flagged `{risk}` |\n")
        if e.get("indicators"):
            w(
                "\nIndicator lists: "
                + ", ".join(f"[`{i}`](#indicators-{i.replace('_', '-')})" for i in e["indicators"])
                + ".\n"
            )
        mitre = e.get("mitre") or {}
        refs = []
        if mitre.get("attack"):
            refs.append("ATT&CK " + ", ".join(mitre["attack"]))
        if mitre.get("atlas"):
            refs.append("ATLAS " + ", ".join(mitre["atlas"]))
        if e.get("safe_mcp"):
            refs.append("SAFE-MCP " + ", ".join(e["safe_mcp"]))
        if refs:
            w("\n**Techniques:** " + "; ".join(refs) + ".\n")
        w("\n**False positives**\n\n" + "".join(f"- {x.strip()}\n" for x in e["false_positives"]))
        w("\n**Triage**\n\n" + "".join(f"{i}. {x.strip()}\n" for i, x in enumerate(e["triage"], 1)))
        if e.get("references"):
            w("\n**References**\n\n" + "".join(f"- <{x}>\n" for x in e["references"]))

    w(
        "\n## Indicators\n\nWritten once in `detections/indicators/*.yaml` (syntax: `detections/indicators/README.md`);\n"
        "Zeek matches them on decoded JSON text, Suricata on the raw body.\n"
    )
    templates = rule_templates(RULES.read_text(encoding="utf-8") if rules_text is None else rules_text)
    for name in sorted(indicators):
        ind = indicators[name]
        users = []
        if ind.get("zeek"):
            users.append(f"Zeek `MCP::{ind['zeek']['constant']}`")
        sids = sorted(sid for sid, ts in templates.items() if any(f"{{{name}" in t for _, t in ts))
        if sids:
            users.append("Suricata " + ", ".join(f"sid {s}" for s in sids))
        w(f"\n### Indicators: {name}\n\n{ind['description'].strip()} Used by: {'; '.join(users) or 'nothing yet'}.\n\n")
        w("| group | what | patterns |\n|---|---|---|\n")
        for gname, g in ind["groups"].items():
            pats = "<br>".join(_code(p) for p in g["patterns"])
            w(f"| `{gname}` | {_cell(g['description'])} | {pats} |\n")
        for lname, items in (ind.get("lists") or {}).items():
            w(f"\n`{{{lname}}}`: " + ", ".join(_code(x) for x in items) + "\n")
    return "".join(out)


# --- everything ----------------------------------------------------------------------------------------------------


def remote_module() -> Any:
    """mcpeeker/remote_endpoints.py, loaded by path (stdlib + PyYAML only): the one renderer of the remote files."""
    import importlib.util

    path = REPO / "ingest_python" / "mcpeeker" / "remote_endpoints.py"
    spec = importlib.util.spec_from_file_location("mcpeeker_remote_endpoints", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses resolve their module by name
    spec.loader.exec_module(module)
    return module


def load_remote(root: Path = DETECTIONS) -> Any:
    remote = remote_module()
    try:
        return remote.load(root / "remote" / "endpoints.yaml", schema=False)
    except remote.RemoteCatalogueError as exc:
        raise CatalogueError(str(exc)) from exc


REMOTE_DOCS = """
## Remote MCP services

Most MCP use in a company is a client talking HTTPS to a public service (mcp.notion.com, api.githubcopilot.com/mcp
...). The catalogue `detections/remote/endpoints.yaml` (schema `schemas/remote-endpoints.schema.json`, checked by
`tests/remote/test_endpoints.py`) says which host names and URL paths belong to which service and whether the host
is **dedicated** to MCP or **shared** with ordinary traffic. `make catalogue` writes the sensors' data from it;
`mcpeeker catalogue update FILE [--catalogue PATH] [--sensors DIR] [--dry-run]` merges a newer list a site downloads
(validated first; reports added, changed and removed hosts; entries with `source: local` are the site's own and stay).

| sensor placement | sees | dedicated host (`mcp.<vendor>`) | shared host (`api.githubcopilot.com`, `hf.co`, `*.googleapis.com`) |
|---|---|---|---|
| network sensor on the client side (DNS + TLS) | DNS query, TLS ClientHello (SNI, JA3/JA4); the certificate only before TLS 1.3 | sid 9400300 (DNS), 9400301 (SNI); Zeek `mcp_remote.log` seen `dns`, `tls_sni`, and `certificate` (CN and SAN) up to TLS 1.2, unless the client's SNI named another host | nothing: the name is ordinary API traffic |
| forward proxy, without TLS inspection | `CONNECT host:443` | sid 9400302; Zeek seen `http_host` | nothing |
| TLS-inspecting gateway, proxy URL log, or cleartext HTTP | the full URL | sid 9400302 | sid 9400303 (host in the shared dataset and a path segment `mcp`/`sse`); Zeek seen `url` |

- **Suricata** (`suricata/mcp-remote.rules`, SIDs 9400300–9400399, `mcpeeker_detection remote_mcp_service`,
  `mcpeeker_seen dns|tls_sni|http_host|url`): the rules match `dns.query`, `tls.sni` and `http.host` against two
  datasets generated beside them, `mcp-remote-dedicated.lst` and `mcp-remote-shared.lst` (`dataset:isset`, `type
  string`, one base64-encoded name per line; Suricata 7 loads them relative to the rule file, so copy them with it).
  A site adds a host without editing a rule: `printf %s mcp.example.com | base64 >> mcp-remote-dedicated.lst`.
  Names match exactly and case-sensitively. The JA3 and JA4 of every TLS client are in the eve `tls` record
  (`suricata/suricata-test.yaml`): context about the client software, never a reason to alert.
- **Zeek** (`zeek/scripts/mcp/remote.zeek` with the generated table `remote-endpoints.zeek`): every dedicated host is
  an `Intel::DOMAIN` item and every MCP path of a shared host an `Intel::URL` item (host + path), with `meta.source`
  `mcpeeker-remote-mcp`, seen in DNS requests, TLS SNI, certificates, HTTP Host headers (proxy CONNECT included) and
  URLs. A server certificate is in clear only up to TLS 1.2 (TLS 1.3 encrypts it); its CN and each SAN name give a
  `certificate` line, except when the client's SNI asked for another name (a multi-name certificate that also lists
  `mcp.<vendor>` is no sighting), so the sighting matters most for a client that sends no SNI (one connecting by
  address). Suricata has no certificate rule: Suricata 7 has no SAN buffer (`tls.subjectaltname` is 8.0) and cannot
  compare the SNI with the certificate's names. Hits go to `mcp_remote.log` (service, indicator, how it was seen,
  dedicated or not) and not to `intel.log`, so threat-intel pipelines never mistake a sanctioned SaaS for an indicator
  of compromise; an indicator that a site's own intel also lists still reaches `intel.log`. A site adds an endpoint
  with `redef MCP::remote_endpoints += { ["mcp.example.com"] = "example dedicated /mcp" };`. Zeek 7 computes no
  JA3/JA4 itself (a JA4 package's ssl.log fields share the uid).
- **Test traffic** (`tests/pcaps/remote/`, `tests/pcaps/generate.py`): dnsmasq, the MCP Python SDK over verified TLS
  with a throw-away CA (TLS 1.3, or capped at 1.2 so the certificate is on the wire, with SNI or by address without
  it), Squid for CONNECT (its access.log is kept beside the pcap), and negatives (the vendors' ordinary sites, names
  that merely contain `mcp`, shared hosts without an MCP path, a multi-name certificate under another SNI).
- **Ingest**: Suricata alerts of these rules, Zeek's `mcp_remote.log`, `mcpeeker ingest squid` lines and
  `mcpeeker ingest kong` requests (Kong Gateway's request log, docs/ingest.md says why Kong) become
  context evidence with `mcpeeker.remote` (`service`, `host`, `seen`, `dedicated`) and the client in `source.ip`;
  never an MCP server instance (a DNS sighting's destination is the resolver, a CONNECT's the proxy). `mcpeeker
  replay` runs `mcp.rules` and `mcp-remote.rules` together, with the dataset files copied beside the merged rules.

### Finding: remote MCP service used

Correlation (`ingest_python/mcpeeker/correlate/remote.py`) makes one finding per **(client host, service)**, key
`remote:<client>:<service>` (`mcpeeker.model.remote_key`; the client is the agent's host id when an agent reports
the address, else the address), `instance.kind: remote`. It carries `first_seen`/`last_seen`, `remote.service`,
`remote.name`, `remote.vendor`, `remote.host`, `remote.dedicated`, every sensor kind (`remote.seen_kinds`) and the
strongest sighting (`remote.seen`), weakest first:

| `remote.seen` | from | score (`configs/scoring.yaml` `remote`) | unapproved |
|---|---|---|---|
| `dns` | a DNS lookup of a dedicated host (`seen` dns) | 3 | suspect |
| `tls` | a TLS session to it (`tls_sni`, `certificate`) or a proxy CONNECT (`http_host`, `proxy_connect`) | 6 | suspect |
| `proxy_url` | a URL on a known MCP path (`url`, `proxy_url`, `gateway_url`): proxy or gateway log, TLS inspection, cleartext | 9 | unauthorized |

The registry approves a service by id or host name, for every client or for a group (`mcpeeker registry add
--remote-service linear [--clients HOST ...]`, docs/registry.md); an active approval subtracts `registry_approved`
and classifies the use as authorized. Every cycle rebuilds all of these findings (hosts x services used is small)
and writes only those that changed, so an approval, revocation or expiry takes effect at the next cycle. The HTML
report (`mcpeeker report`) has a **Remote MCP services** matrix: services x client hosts, unapproved first.
Done-when test: `tests/remote/test_findings.py` (each positive capture or Squid log gives exactly one finding per
(host, service), no negative gives any, approval makes it authorized).
"""


def render_remote_docs(cat: Any) -> str:
    out = [REMOTE_DOCS]
    out.append(
        f"\n### Remote MCP endpoints\n\n{len(cat.endpoints)} endpoints ({len(cat.dedicated())} dedicated, "
        f"{len(cat.shared())} shared), from: "
        + "; ".join(
            f"[{k}]({s.url})" + (f" ({s.file} at {s.commit[:12]})" if s.commit else "") for k, s in cat.sources.items()
        )
        + ".\n\n| service | host | dedicated | paths | transport | auth | vendor | source |\n"
        "|---|---|---|---|---|---|---|---|\n"
    )
    for e in sorted(cat.endpoints, key=lambda x: (not x.dedicated, x.service)):
        out.append(
            f"| `{e.service}` | `{e.host}` | {'yes' if e.dedicated else 'no'} | "
            + "<br>".join(_code(p) for p in e.paths)
            + f" | {', '.join(e.transport)} | {', '.join(e.auth)} | {_cell(e.vendor)} | {e.source} |\n"
        )
    return "".join(out)


def remote_files(root: Path = DETECTIONS) -> dict[Path, str]:
    remote = remote_module()
    cat = load_remote(root)
    datasets = {DETECTIONS.parent / "suricata" / name: text for name, text in remote.sensor_files(cat).items()}
    datasets = {p: t for p, t in datasets.items() if p.suffix == ".lst"}
    return datasets | {ZEEK_DIR / remote.ZEEK_TABLE_FILE: remote.zeek_table_text(cat)}


def generated(root: Path = DETECTIONS) -> dict[Path, str]:
    """Every generated file and the text it should have now."""
    vocabulary, entries, indicators = load_vocabulary(root), load_entries(root), load_indicators(root)
    rules = render_rules(RULES.read_text(encoding="utf-8"), indicators)
    return {
        ZEEK_OUT: render_zeek(indicators),
        RULES: rules,
        DOCS_OUT: render_docs(entries, vocabulary, indicators, rules) + render_remote_docs(load_remote(root)),
        **remote_files(root),
    }


def stale(root: Path = DETECTIONS) -> Iterator[Path]:
    for path, text in generated(root).items():
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            yield path


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--check", action="store_true", help="write nothing; exit 1 if a generated file is stale")
    args = ap.parse_args(argv)
    try:
        files = generated()
    except CatalogueError as exc:
        print(f"catalogue: {exc}", file=sys.stderr)
        return 2
    changed = [p for p, t in files.items() if not p.is_file() or p.read_text(encoding="utf-8") != t]
    for path in changed:
        rel = path.relative_to(REPO)
        if args.check:
            print(f"stale: {rel} (run `make catalogue`)", file=sys.stderr)
        else:
            path.write_text(files[path], encoding="utf-8")
            print(f"wrote {rel}")
    return 1 if args.check and changed else 0


if __name__ == "__main__":
    sys.exit(main())
