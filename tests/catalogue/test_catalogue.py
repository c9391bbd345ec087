"""The detection catalogue (detections/) against everything that implements or reads it.

One test module validates every entry (schema, ids, vocabulary), checks that each implementation exists in its
sensor's files and that every sensor rule is claimed by an entry, that each detection has a sample, that the
generated files (Zeek indicators, Suricata pcre alternations, docs/detections.md) are current, that the indicator
lists do what their examples say in both sensors' renderings, and that no Suricata pcre branch is unreachable.
"""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
import subprocess
import sys
from collections import Counter
from functools import lru_cache
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from paths import LABELS, REPO_ROOT

DETECTIONS = REPO_ROOT / "detections"
RULES = REPO_ROOT / "suricata" / "mcp.rules"
ZEEK_SCRIPTS = REPO_ROOT / "zeek" / "scripts" / "mcp"
SIGMA = REPO_ROOT / "sigma"
AGENT_CODE = REPO_ROOT / "agent" / "mcpeeker_agent"
AGENT_SCHEMA = REPO_ROOT / "schemas" / "agent-event.schema.json"
SCHEMA = REPO_ROOT / "schemas" / "detection.schema.json"


def _script() -> Any:
    spec = importlib.util.spec_from_file_location("catalogue_script", REPO_ROOT / "scripts" / "catalogue.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


gen = _script()
VOCAB = gen.load_vocabulary()
ENTRIES = gen.load_entries()
INDICATORS = gen.load_indicators()
BY_ID = {e["id"]: e for e in ENTRIES}


@lru_cache(maxsize=1)
def _rules() -> list[Any]:
    import suricata.update.rule as surule

    return surule.parse_file(str(RULES))


def _meta(rule: Any) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for item in rule["metadata"]:
        key, _, value = item.partition(" ")
        out.setdefault(key, []).append(value)
    return out


def _labels() -> list[dict[str, Any]]:
    return json.loads(LABELS.read_text())["pcaps"]


def _claims(sensor: str) -> Counter:
    return Counter(x for e in ENTRIES for x in (e.get("implementations") or {}).get(sensor) or [])


def _agent_risks_in_schema() -> set[str]:
    schema = json.loads(AGENT_SCHEMA.read_text())
    risk = schema["properties"]["evidence"]["items"]["properties"]["risk"]
    return set(risk["items"]["enum"])


def _agent_risks_in_code() -> set[str]:
    text = "\n".join(p.read_text() for p in sorted(AGENT_CODE.glob("*.py")))
    found = set(re.findall(r'\brisk\.append\("([a-z_]+)"\)', text))
    found |= set(re.findall(r'"risk":[^\n]*?\["([a-z_]+)"\]', text))
    return found


# --- entries -------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", gen.entry_paths(), ids=lambda p: p.stem)
def test_entry_matches_schema_and_file_name(path: Path) -> None:
    entry = yaml.safe_load(path.read_text())
    validator = jsonschema.Draft202012Validator(json.loads(SCHEMA.read_text()))
    errors = [f"{'.'.join(map(str, e.absolute_path)) or '(top)'}: {e.message}" for e in validator.iter_errors(entry)]
    assert not errors, f"{path.name}: " + "; ".join(errors)
    assert path.stem == entry["id"], f"{path.name}: the file must be named after its id"


def test_schema_is_valid() -> None:
    jsonschema.Draft202012Validator.check_schema(json.loads(SCHEMA.read_text()))


def test_ids_are_unique_and_numbered_by_kind() -> None:
    ids = [e["id"] for e in ENTRIES]
    assert len(ids) == len(set(ids))
    prefix = {"network": "NET", "endpoint": "END", "attack": "ATK", "posture": "POS"}
    wrong = [e["id"] for e in ENTRIES if e["id"].split("-")[1] != prefix[e["evidence"]]]
    assert not wrong, f"id prefix does not match the evidence kind: {wrong}"


@pytest.mark.parametrize("entry", ENTRIES, ids=lambda e: e["id"])
def test_entry_uses_the_vocabulary(entry: dict[str, Any]) -> None:
    assert entry["evidence"] in VOCAB["evidence"]
    needs_attack = VOCAB["evidence"][entry["evidence"]]["scores_as"] == "attack"
    assert ("attack_type" in entry) == needs_attack, "attack and posture entries name an attack type, others never"
    if "attack_type" in entry:
        assert entry["attack_type"] in VOCAB["attack_types"]
    else:
        assert entry["severity"] in VOCAB["severities"]
    assert set(entry["implementations"]) <= set(VOCAB["sensors"])
    for name in entry.get("indicators") or []:
        assert name in INDICATORS, f"unknown indicator list {name!r}"


def test_vocabulary_is_consistent() -> None:
    assert set(VOCAB["evidence"]) == {"network", "endpoint", "attack", "posture"}
    assert {v["scores_as"] for v in VOCAB["evidence"].values()} <= {"network", "endpoint", "attack"}
    assert all(a["severity"] in VOCAB["severities"] for a in VOCAB["attack_types"].values())
    assert set(VOCAB["sensors"]) == set(gen.SENSORS)
    used = {e["attack_type"] for e in ENTRIES if "attack_type" in e}
    assert used == set(VOCAB["attack_types"]), f"attack types no detection uses: {set(VOCAB['attack_types']) - used}"


# --- implementations exist, and every sensor rule is claimed --------------------------------------------------------


def test_suricata_sids_exist_and_are_claimed_once() -> None:
    sids = {r["sid"] for r in _rules()}
    claims = _claims("suricata")
    assert set(claims) - sids == set(), f"catalogue names sids not in mcp.rules: {sorted(set(claims) - sids)}"
    assert sids - set(claims) == set(), f"rules no catalogue entry claims: {sorted(sids - set(claims))}"
    assert [s for s, n in claims.items() if n > 1] == []


def test_zeek_notices_exist_and_are_claimed_once() -> None:
    declared = set(gen.zeek_notices(ZEEK_SCRIPTS))
    ours = {n for n in declared if n.startswith("MCP::")}
    claims = _claims("zeek")
    assert set(claims) - declared == set(), f"catalogue names undeclared notices: {sorted(set(claims) - declared)}"
    assert ours - set(claims) == set(), f"MCP:: notices no catalogue entry claims: {sorted(ours - set(claims))}"
    assert [s for s, n in claims.items() if n > 1] == []


def test_sigma_rule_ids_exist_and_are_claimed_once() -> None:
    rules = gen.sigma_rules(SIGMA / "rules")
    claims = _claims("sigma")
    assert set(claims) - set(rules) == set(), f"catalogue names unknown Sigma ids: {sorted(set(claims) - set(rules))}"
    assert set(rules) - set(claims) == set(), "Sigma rules no catalogue entry claims: " + ", ".join(
        rules[r]["file"] for r in sorted(set(rules) - set(claims))
    )
    assert [s for s, n in claims.items() if n > 1] == []


def test_agent_risk_names_exist_and_are_claimed_once() -> None:
    schema, code = _agent_risks_in_schema(), _agent_risks_in_code()
    claims = _claims("agent")
    assert code <= schema, f"the agent raises risks its report schema does not allow: {sorted(code - schema)}"
    assert set(claims) - schema == set(), f"catalogue names unknown agent risks: {sorted(set(claims) - schema)}"
    assert set(claims) - code == set(), f"catalogue names risks the agent never raises: {sorted(set(claims) - code)}"
    assert schema - set(claims) == set(), f"agent risks no catalogue entry claims: {sorted(schema - set(claims))}"
    assert [s for s, n in claims.items() if n > 1] == []


def test_sigma_evidence_file_is_gone() -> None:
    assert not (SIGMA / "evidence.yaml").exists(), "Sigma weights come from the catalogue (keyed by rule id)"


# --- what the sensors' own metadata says agrees with the catalogue -------------------------------------------------


def _mitre_ids(values: list[str]) -> set[str]:
    return {v.strip() for v in values}


def test_suricata_metadata_agrees_with_the_catalogue() -> None:
    by_sid = {sid: e for e in ENTRIES for sid in (e["implementations"].get("suricata") or [])}
    problems = []
    for rule in _rules():
        entry, meta = by_sid.get(rule["sid"]), _meta(rule)
        if entry is None or rule["noalert"]:
            continue
        where = f"sid {rule['sid']} ({entry['id']})"
        scores_as = VOCAB["evidence"][entry["evidence"]]["scores_as"]
        if meta.get("mcpeeker_evidence") != [scores_as]:
            problems.append(
                f"{where}: mcpeeker_evidence {meta.get('mcpeeker_evidence')} but the entry weighs as {scores_as}"
            )
        detection = (meta.get("mcpeeker_detection") or [""])[0]
        expected = {entry["attack_type"]} if "attack_type" in entry else set(VOCAB["network_detections"])
        if detection not in expected:
            problems.append(f"{where}: mcpeeker_detection {detection!r}, expected one of {sorted(expected)}")
        for key, field in (("mitre_technique_id", "attack"), ("mitre_atlas_technique_id", "atlas")):
            missing = _mitre_ids(meta.get(key, [])) - set(entry["mitre"][field])
            if missing:
                problems.append(
                    f"{where}: rule metadata {key} {sorted(missing)} missing from the entry's mitre.{field}"
                )
    assert not problems, "\n".join(problems)


def test_sigma_tags_and_levels_agree_with_the_catalogue() -> None:
    rules = gen.sigma_rules(SIGMA / "rules")
    levels = {"informational": "info", "low": "low", "medium": "medium", "high": "high", "critical": "critical"}
    problems = []
    for entry in ENTRIES:
        for rid in entry["implementations"].get("sigma") or []:
            rule = rules[rid]
            techniques = {
                t.split(".", 1)[1].upper() for t in rule["tags"] if re.fullmatch(r"attack\.t\d{4}(\.\d{3})?", t)
            }
            if techniques - set(entry["mitre"]["attack"]):
                problems.append(f"{entry['id']}: {rule['file']} tags {sorted(techniques)} not in mitre.attack")
            if "severity" in entry and levels[rule["level"]] != entry["severity"]:
                problems.append(f"{entry['id']}: {rule['file']} level {rule['level']} but severity {entry['severity']}")
    assert not problems, "\n".join(problems)


# --- samples -------------------------------------------------------------------------------------------------------


def _samples(entry: dict[str, Any]) -> dict[str, list[str]]:
    """Implementation -> the samples that exercise it (labelled pcaps, Sigma test data, agent tests)."""
    impl = entry["implementations"]
    labels = _labels()
    out: dict[str, list[str]] = {}
    helpers = {r["sid"] for r in _rules() if r["noalert"]}
    for sid in impl.get("suricata") or []:
        if sid not in helpers:
            out[f"sid {sid}"] = [e["file"] for e in labels if str(sid) in e.get("suricata_sids", {})]
    for note in impl.get("zeek") or []:
        out[note] = [e["file"] for e in labels if note in e.get("zeek_notices", [])]
    rules = gen.sigma_rules(SIGMA / "rules")
    for rid in impl.get("sigma") or []:
        stem = rules[rid]["file"].removesuffix(".yml")
        positive = SIGMA / "test-data" / stem / "positive.json"
        out[f"sigma {stem}"] = [str(positive.relative_to(REPO_ROOT))] if positive.is_file() else []
    agent_tests = {p.name: p.read_text() for p in sorted((REPO_ROOT / "tests" / "agent").glob("test_*.py"))}
    for risk in impl.get("agent") or []:
        out[f"risk {risk}"] = [name for name, text in agent_tests.items() if f'"{risk}"' in text]
    return out


@pytest.mark.parametrize("entry", ENTRIES, ids=lambda e: e["id"])
def test_every_implementation_has_a_sample(entry: dict[str, Any]) -> None:
    samples = _samples(entry)
    assert any(samples.values()), f"{entry['id']}: no sample at all"
    missing = [k for k, v in samples.items() if not v]
    assert not missing, f"{entry['id']}: implementations without a sample: {missing}"


def test_label_tags_are_in_the_vocabulary() -> None:
    known = set(VOCAB["attack_types"]) | set(VOCAB["network_detections"])
    odd = {t for e in _labels() for t in e["expected"] if t not in known and not t.startswith("mcp_")}
    assert not odd, f"labels.json tags outside the vocabulary: {sorted(odd)}"


# --- readers of the catalogue --------------------------------------------------------------------------------------


def test_normalisers_read_the_catalogue() -> None:
    from mcpeeker import catalogue
    from mcpeeker.ingest.normalise import agent, suricata, zeek

    assert zeek.MCP_NOTICES == catalogue.implementations("zeek")
    assert set(zeek.MCP_NOTICES) == set(_claims("zeek"))
    assert suricata.ATTACK_TYPES == frozenset(VOCAB["attack_types"])
    assert agent.RISK_ATTACKS == {r: BY_ID_RISK[r]["attack_type"] for r in BY_ID_RISK if "attack_type" in BY_ID_RISK[r]}


BY_ID_RISK = {risk: e for e in ENTRIES for risk in e["implementations"].get("agent") or []}


def test_sigma_weights_are_keyed_by_rule_id() -> None:
    from mcpeeker import catalogue

    weights = catalogue.implementations("sigma")
    for entry in ENTRIES:
        for rid in entry["implementations"].get("sigma") or []:
            assert weights[rid] == (VOCAB["evidence"][entry["evidence"]]["scores_as"], entry.get("attack_type"))


def test_scoring_severities_come_from_the_vocabulary(tmp_path: Path) -> None:
    from mcpeeker.correlate.scoring import ScoringConfig
    from mcpeeker.errors import ConfigError

    config = ScoringConfig.load()
    assert set(config.attack_severity) == set(VOCAB["attack_types"])
    data = yaml.safe_load((REPO_ROOT / "configs" / "scoring.yaml").read_text())
    assert set(data.get("attack_severity") or {}) <= set(VOCAB["attack_types"])
    data["attack_severity"] = {"rug_pull": "critical"}
    path = tmp_path / "scoring.yaml"
    path.write_text(yaml.safe_dump(data))
    assert ScoringConfig.load(path).attack_severity["rug_pull"] == "critical"
    data["attack_severity"] = {"rugpull": "critical"}
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(ConfigError, match="rugpull"):
        ScoringConfig.load(path)


# --- generated files -----------------------------------------------------------------------------------------------


def test_generated_files_are_current() -> None:
    stale = [
        str(p.relative_to(REPO_ROOT))
        for p, text in gen.generated().items()
        if not p.is_file() or p.read_text(encoding="utf-8") != text
    ]
    assert not stale, f"stale generated files (run `make catalogue`): {stale}"


def test_zeek_indicators_are_zeek_format_clean(tmp_path: Path) -> None:
    fmt = Path(sys.executable).with_name("zeek-format")
    if not fmt.exists():
        pytest.skip("zeek-format not installed in the venv (pip install zeekscript)")
    copy = tmp_path / "indicators.zeek"
    copy.write_text(gen.render_zeek(INDICATORS))
    subprocess.run([str(fmt), "-i", str(copy)], check=True, capture_output=True)
    assert copy.read_text() == gen.render_zeek(INDICATORS)


def test_every_suricata_template_is_used_and_names_existing_groups() -> None:
    templates = gen.rule_templates(RULES.read_text())
    sids = {r["sid"] for r in _rules()}
    assert set(templates) <= sids
    used = set()
    for ts in templates.values():
        for _, template in ts:
            for ref in gen.TEMPLATE_REF.findall(template):
                gen.render_reference(ref, "suricata", INDICATORS)  # raises on an unknown list or group
                used.add(ref.split(".")[0])
    zeek = {name for name, ind in INDICATORS.items() if ind.get("zeek")}
    assert used | zeek == set(INDICATORS), f"indicator lists no sensor uses: {set(INDICATORS) - used - zeek}"


# --- indicator lists do what their examples say, in both sensors ---------------------------------------------------


def _bytes(text: str) -> str:
    """The UTF-8 bytes of a text, one character per byte: what the sensors' byte-level patterns see (they are
    rendered as byte escapes, which Python's str patterns read as U+0000..U+00FF)."""
    return text.encode("utf-8").decode("latin-1")


def _ascii_escaped(text: str) -> str:
    """A text whose non-ASCII characters are JSON \\u escapes (Python's json.dumps, the 2.x SDK's 2026 transport):
    how Zeek sees it after json_unescape, which leaves those escapes alone."""
    return "".join(c if ord(c) < 128 else json.dumps(c)[1:-1] for c in text)


def _zeek_views(text: str) -> list[str]:
    return [_bytes(text)] if text.isascii() else [_bytes(text), _ascii_escaped(text)]


def _raw_variants(text: str) -> list[str]:
    """How a decoded string can look in a raw JSON body: JSON-escaped, also with escaped slashes, with Go's <>&
    escapes, and (non-ASCII text) with every non-ASCII character as a \\u escape."""
    raw = json.dumps(text, ensure_ascii=False)[1:-1]  # quotes, backslashes, line breaks and tabs escaped
    out = [raw, raw.replace("/", "\\/"), raw.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")]
    if not text.isascii():
        out.append(_ascii_escaped(raw))
    return [_bytes(v) for v in out]


GROUPS = [(name, g) for name, ind in INDICATORS.items() for g in ind["groups"]]


@pytest.mark.parametrize(("name", "group"), GROUPS, ids=[f"{n}.{g}" for n, g in GROUPS])
def test_indicator_examples(name: str, group: str) -> None:
    ind = INDICATORS[name]
    spec = ind["groups"][group]
    flags = re.IGNORECASE if ind["zeek"].get("case_insensitive") else 0
    assert spec["examples"], "every group needs examples"
    zeek_body = gen.zeek_constant(ind, INDICATORS)[1:].rsplit("/", 1)[0]
    zeek_re = re.compile(zeek_body, flags)
    suricata_re = re.compile(gen.render_group(ind, group, "suricata", INDICATORS), flags)
    problems = []
    for example in spec["examples"]:
        problems += [f"Zeek misses {v!r}" for v in _zeek_views(example) if not zeek_re.search(v)]
        problems += [f"Suricata misses raw {v!r}" for v in _raw_variants(example) if not suricata_re.search(v)]
    for example in spec.get("counter_examples") or []:
        problems += [f"Zeek matches counter-example {v!r}" for v in _zeek_views(example) if zeek_re.search(v)]
        raw = _raw_variants(example)
        problems += [f"Suricata matches counter-example {v!r}" for v in [raw[0], *raw[3:]] if suricata_re.search(v)]
    assert not problems, "\n".join(problems)


def _zeek_binary() -> str | None:
    return shutil.which("zeek") or next((str(p) for p in [Path("/opt/zeek/bin/zeek")] if p.exists()), None)


@pytest.mark.zeek
def test_indicator_examples_in_real_zeek(tmp_path: Path) -> None:
    """The generated indicators.zeek, loaded by Zeek itself, matches every example and no counter-example."""
    zeek = _zeek_binary()
    if not zeek:
        pytest.skip("zeek not found")

    def literal(text: str) -> str:
        """A Zeek string literal of the text's UTF-8 bytes (Zeek strings are bytes; it has no \\u escape)."""
        return (
            '"'
            + "".join(chr(b) if 32 <= b < 127 and chr(b) not in '"\\' else f"\\x{b:02x}" for b in text.encode("utf-8"))
            + '"'
        )

    lines = [f"@load {ZEEK_SCRIPTS / 'indicators.zeek'}", "event zeek_init()", "\t{"]
    for name, ind in INDICATORS.items():
        const = f"MCP::{ind['zeek']['constant']}"
        for group, spec in ind["groups"].items():
            for ex in spec["examples"]:
                for view in [ex] if ex.isascii() else [ex, _ascii_escaped(ex)]:
                    lines.append(
                        f'\tif ( {const} !in {literal(view)} ) print "miss", {literal(f"{name}.{group}: {view}")};'
                    )
            for ex in spec.get("counter_examples") or []:
                for view in [ex] if ex.isascii() else [ex, _ascii_escaped(ex)]:
                    lines.append(
                        f'\tif ( {const} in {literal(view)} ) print "match", {literal(f"{name}.{group}: {view}")};'
                    )
    lines += ['\tprint "done";', "\t}"]
    script = tmp_path / "check.zeek"
    script.write_text("\n".join(lines) + "\n")
    out = subprocess.run([zeek, "-b", str(script)], check=False, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "done", out.stdout + out.stderr


# --- every pcre branch of every Suricata rule can fire on its own --------------------------------------------------

# Contents that say which MCP message a rule looks at (the result of a handshake, a tool list, a tools/call ...):
# every branch of the rule's pcre is about such a message, so they may be required without being in the pcre.
# Any other content in the buffer of a pcre must be implied by every branch, or that branch could only fire
# together with it (sid 9400100 once required "important" and so never fired on a lone <system> tag).
MESSAGE_SHAPE = {
    '"clientInfo"',
    '"jsonrpc"',
    'serverInfo"',
    '"capabilities"',
    '"protocolVersion"',
    '"description"',
    '"inputSchema"',
    '"server-error"',
    "resources/read",
    '"result"',
}
BUFFERS = (
    "http.method",
    "http.uri",
    "http.header_names",
    "http.header",
    "http.request_body",
    "http.response_body",
    "file.data",
    "http.content_type",
    "http.stat_code",
    "http.accept",
)


def _options(raw: str) -> list[tuple[str, str]]:
    body = raw[raw.index("(") + 1 : raw.rindex(")")]
    out, cur, quoted, i = [], "", False, 0
    while i < len(body):
        c = body[i]
        if c == "\\" and i + 1 < len(body):
            cur += body[i : i + 2]
            i += 2
            continue
        if c == '"':
            quoted = not quoted
        if c == ";" and not quoted:
            key, _, value = cur.strip().partition(":")
            out.append((key.strip(), value.strip()))
            cur = ""
        else:
            cur += c
        i += 1
    return out


def _content_text(value: str) -> str:
    text = value.strip().removeprefix("!").strip('"')
    return re.sub(r"\|([0-9a-fA-F ]+)\|", lambda m: bytes.fromhex(m.group(1)).decode("latin-1"), text)


def _buffers(raw: str) -> dict[str, tuple[list[tuple[str, bool]], list[tuple[str, str]]]]:
    """Sticky buffer -> ([(content, nocase)], [(pcre body, flags)]) of the positive contents and the pcres."""
    out: dict[str, tuple[list, list]] = {}
    buf, last = "", None
    for key, value in _options(raw):
        if key in BUFFERS:
            buf = key
            continue
        contents, pcres = out.setdefault(buf, ([], []))
        if key == "content":
            last = None
            if not value.startswith("!"):
                contents.append([_content_text(value), False])
                last = contents[-1]
        elif key == "nocase" and last is not None:
            last[1] = True
        elif key == "pcre":
            body, _, flags = value.strip('"')[1:].rpartition("/")
            pcres.append((body, flags))
    return out


def _branch_examples(pattern: str, flags: int) -> list[tuple[str, str]]:
    """(label, example) for every alternative of every alternation in the pattern: a string the pattern matches
    through that alternative, all other alternations taking their first one."""
    import re._constants as C
    import re._parser as P

    tree = P.parse(pattern, flags)
    branches: list[tuple[int, int]] = []

    def walk(sub: Any) -> None:
        for op, av in sub:
            if op is C.BRANCH:
                for k, alt in enumerate(av[1]):
                    branches.append((id(av), k))
                    walk(alt)
            elif op is C.SUBPATTERN:
                walk(av[3])
            elif op in (C.MAX_REPEAT, C.MIN_REPEAT, C.POSSESSIVE_REPEAT):
                walk(av[2])

    def char_in(items: list) -> str:
        negate = any(op is C.NEGATE for op, _ in items)
        for op, av in items:
            if op is C.LITERAL and not negate:
                return chr(av)
            if op is C.RANGE and not negate:
                return chr(av[0])
            if op is C.CATEGORY and not negate:
                return {"CATEGORY_SPACE": " ", "CATEGORY_DIGIT": "0"}.get(str(av), "a")
        for c in " axz09":  # a gap is a space where the class allows one, so word boundaries around it hold
            if re.fullmatch(pattern_of(items), c):
                return c
        return "a"

    def pattern_of(items: list) -> str:
        return (
            "["
            + "".join(
                "^"
                if op is C.NEGATE
                else re.escape(chr(av))
                if op is C.LITERAL
                else f"{re.escape(chr(av[0]))}-{re.escape(chr(av[1]))}"
                if op is C.RANGE
                else {"CATEGORY_SPACE": r"\s", "CATEGORY_DIGIT": r"\d"}.get(str(av), r"\w")
                for op, av in items
            )
            + "]"
        )

    def gen_(sub: Any, force: tuple[int, int]) -> str:
        out = ""
        for op, av in sub:
            if op is C.LITERAL:
                out += chr(av)
            elif op is C.NOT_LITERAL:
                out += "a" if chr(av) == " " else " "
            elif op is C.ANY:
                out += " "
            elif op is C.IN:
                out += char_in(av)
            elif op is C.CATEGORY:
                out += {"CATEGORY_SPACE": " ", "CATEGORY_DIGIT": "0"}.get(str(av), "a")
            elif op is C.BRANCH:
                k = force[1] if force[0] == id(av) else 0
                out += gen_(av[1][k], force)
            elif op is C.SUBPATTERN:
                out += gen_(av[3], force)
            elif op in (C.MAX_REPEAT, C.MIN_REPEAT, C.POSSESSIVE_REPEAT):
                out += gen_(av[2], force) * max(av[0], 1)
        return out

    walk(tree)
    if not branches:
        return [("(whole pattern)", gen_(tree, (0, 0)))]
    number = {bid: i for i, bid in enumerate(dict.fromkeys(bid for bid, _ in branches), 1)}
    return [(f"alternative {k + 1} of alternation {number[bid]}", gen_(tree, (bid, k))) for bid, k in branches]


def test_every_pcre_branch_can_fire_alone() -> None:
    problems = []
    for rule in _rules():
        for buf, (contents, pcres) in _buffers(rule["raw"]).items():
            for n, (body, flags) in enumerate(pcres):
                py_flags = (
                    (re.IGNORECASE if "i" in flags else 0)
                    | (re.DOTALL if "s" in flags else 0)
                    | (re.MULTILINE if "m" in flags else 0)
                )
                others = [ex for m, (b, f) in enumerate(pcres) if m != n for _, ex in _branch_examples(b, 0)]
                for label, example in _branch_examples(body, py_flags):
                    for content, nocase in contents:
                        if content in MESSAGE_SHAPE:
                            continue
                        texts = [example, *others]
                        hit = any(
                            (content.lower() in t.lower()) if (nocase or py_flags & re.IGNORECASE) else (content in t)
                            for t in texts
                        )
                        if not hit:
                            problems.append(
                                f"sid {rule['sid']} {buf} pcre {n + 1}: {label} ({example[:60]!r}) can only "
                                f"fire together with content {content!r}"
                            )
    assert not problems, "\n".join(problems)


def test_branch_examples_match_their_pcre() -> None:
    """The examples the reachability check reasons about really are matches of the pcre (keeps the check honest)."""
    bad = []
    for rule in _rules():
        for _, pcres in _buffers(rule["raw"]).values():
            for body, flags in pcres:
                py_flags = (
                    (re.IGNORECASE if "i" in flags else 0)
                    | (re.DOTALL if "s" in flags else 0)
                    | (re.MULTILINE if "m" in flags else 0)
                )
                for label, example in _branch_examples(body, py_flags):
                    if not re.search(body, example, py_flags) and not re.search(body, example + " ", py_flags):
                        bad.append(f"sid {rule['sid']}: {label}: {example!r}")
    assert not bad, "\n".join(bad)


def test_data_model_lists_the_attack_types() -> None:
    """docs/data-model.md names the attack types in its field table: the same ones as the vocabulary."""
    row = next(
        ln
        for ln in (REPO_ROOT / "docs" / "data-model.md").read_text().splitlines()
        if ln.startswith("| `mcpeeker.attack.type` |")
    )
    listed = set(re.findall(r"`([a-z_]+)`", row.split("|")[2]))
    assert listed == set(VOCAB["attack_types"])


def test_btest_generator_agrees_with_the_catalogue() -> None:
    """zeek/tests/Scripts/gen-pcap-tests maps label tags to the notices the catalogue says implement them."""
    from importlib.machinery import SourceFileLoader

    path = REPO_ROOT / "zeek" / "tests" / "Scripts" / "gen-pcap-tests"
    loader = SourceFileLoader("gen_pcap_tests", str(path))
    module = importlib.util.module_from_spec(importlib.util.spec_from_loader(loader.name, loader))
    loader.exec_module(module)
    notices_by_tag: dict[str, set[str]] = {}
    for entry in ENTRIES:
        tag = entry.get("attack_type") or {"MCP-NET-001": "mcp_server", "MCP-NET-006": "oauth_discovery"}.get(
            entry["id"]
        )
        if tag:
            notices_by_tag.setdefault(tag, set()).update(entry["implementations"].get("zeek") or [])
    wrong = {
        tag: notice
        for tag, notice in module.NOTICE_FOR_TAG.items()
        if tag in notices_by_tag and notice not in notices_by_tag[tag]
    }
    assert not wrong, f"gen-pcap-tests maps tags to notices no catalogue entry of that tag names: {wrong}"
