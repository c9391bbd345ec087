"""Training the local judge from the labelled data the repository holds (data/judge/, docs/judge.md).

Deterministic: inputs sorted by id, duplicates dropped, fixed solver and seeds, so `make judge-model` over the same
data writes the same model. The held-out split is fixed by a hash of each example's group (a capture, or a tool
definition's text), so every view of one capture lands on the same side and no example is ever trained on and
scored. Analyst feedback (feedback.jsonl) only ever joins the training side.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ..errors import MCPeekerError
from .inputs import JudgeInput, ToolText
from .local import INSTALL_HINT, META_FILE, MODEL_FILE, TRUSTED, LocalModel
from .features import compile_indicators

MODEL_ID = "mcpeeker-judge-local"
HELD_OUT_MOD = 4  # one group in four is held out
SEED = 0
# A tool counts as poisoned from this score (p >= 0.4): chosen by 5-fold grouped cross-validation on the training
# side (F1 0.90 there against 0.79 at 0.5), never on the held-out set.
POISONED_AT = 40


@dataclass(frozen=True)
class Example:
    id: str
    group: str
    label: int  # 1: mcp / poisoned
    source: str
    text: str


@dataclass
class Dataset:
    mcp: list[Example] = field(default_factory=list)
    tools: list[Example] = field(default_factory=list)

    def split(self, examples: list[Example]) -> tuple[list[Example], list[Example]]:
        train = [e for e in examples if not held_out(e.group)]
        test = [e for e in examples if held_out(e.group)]
        return train, test


def held_out(group: str) -> bool:
    return int(hashlib.sha256(group.encode()).hexdigest()[:8], 16) % HELD_OUT_MOD == 0


def _jsonl(path: Path) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    if not path.exists():
        return rows
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if line.strip():
            try:
                rows.append(json.loads(line))
            except ValueError as exc:
                raise MCPeekerError(f"{path}:{number}: not JSON: {exc}") from exc
    return rows


def evidence_example(row: dict[str, Any], where: str) -> Example:
    try:
        label = {"mcp": 1, "not_mcp": 0}[row["label"]]
        text = JudgeInput.from_dict(row["input"]).protocol_text()
        return Example(str(row["id"]), str(row.get("group") or row["id"]), label, str(row["source"]), text)
    except KeyError as exc:
        raise MCPeekerError(f"{where}: missing or unknown field {exc} (label mcp|not_mcp, id, source, input)") from exc


def load(data_dir: Path, with_feedback: bool = True) -> Dataset:
    data = Dataset()
    for number, row in enumerate(_jsonl(data_dir / "evidence.jsonl"), 1):
        data.mcp.append(evidence_example(row, f"{data_dir / 'evidence.jsonl'}:{number}"))
    if with_feedback:
        for number, row in enumerate(_jsonl(data_dir / "feedback.jsonl"), 1):
            example = evidence_example(row, f"{data_dir / 'feedback.jsonl'}:{number}")
            # feedback trains only: it never enters (or moves) the fixed held-out set
            data.mcp.append(
                Example(example.id, "feedback:" + _train_group(example.id), example.label, example.source, example.text)
            )
    labels = yaml.safe_load((data_dir / "pcap_tool_labels.yaml").read_text()) or {}
    poisoned = {(pcap, name) for pcap, names in (labels.get("poisoned") or {}).items() for name in names}
    tools: dict[str, Example] = {}
    for row in _jsonl(data_dir / "pcap_tools.jsonl"):
        text = ToolText(row["name"], row["description"]).text()
        label = 1 if (row["pcap"], row["name"]) in poisoned else 0
        tools.setdefault(text, Example(f"{row['pcap']}:{row['name']}", text, label, row["source"], text))
    published = yaml.safe_load((data_dir / "tools_published.yaml").read_text())["tools"]
    for number, row in enumerate(published, 1):
        if row.get("label") not in ("poisoned", "clean") or not row.get("source"):
            raise MCPeekerError(
                f"{data_dir / 'tools_published.yaml'}: tool {number}: needs label poisoned|clean and a source"
            )
        text = ToolText(str(row["name"]), str(row["description"])).text()
        label = 1 if row["label"] == "poisoned" else 0
        tools.setdefault(text, Example(f"published:{number}:{row['name']}", text, label, str(row["source"]), text))
    data.tools = sorted(tools.values(), key=lambda e: e.id)
    data.mcp.sort(key=lambda e: e.id)
    return data


def _train_group(example_id: str) -> str:
    # a group name that is never held out, whatever the hash of the id
    suffix = 0
    while held_out(f"{example_id}#{suffix}"):
        suffix += 1
    return f"{example_id}#{suffix}"


# --- fitting -------------------------------------------------------------------------------------------------------


def _sklearn() -> Any:
    try:
        import skops.io as sio
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import FeatureUnion
    except ImportError as exc:
        raise MCPeekerError(f"training the judge needs scikit-learn and skops: {INSTALL_HINT} ({exc})") from exc
    return sio, TfidfVectorizer, LogisticRegression, FeatureUnion


def fit(data: Dataset, indicator_patterns: dict[str, tuple[str, bool]]) -> tuple[bytes, dict[str, Any]]:
    """Train on the training side; return the skops bytes and judge.json's content (metrics on the held-out side)."""
    sio, Tfidf, LogReg, Union = _sklearn()
    mcp_train, mcp_test = data.split(data.mcp)
    tool_train, tool_test = data.split(data.tools)
    if len({e.label for e in mcp_train}) < 2 or len({e.label for e in tool_train}) < 2:
        raise MCPeekerError("judge training needs both labels on the training side of each set")
    mcp_vec = Union(
        [
            ("tokens", Tfidf(token_pattern=r"[^ ]+", lowercase=False, sublinear_tf=True)),
            ("chars", Tfidf(analyzer="char_wb", ngram_range=(2, 4), sublinear_tf=True, min_df=1)),
        ]
    )
    mcp_clf = LogReg(C=10.0, class_weight="balanced", solver="liblinear", random_state=SEED, max_iter=1000)
    mcp_clf.fit(mcp_vec.fit_transform([e.text for e in mcp_train]), [e.label for e in mcp_train])
    tool_vec = Union(
        [
            ("words", Tfidf(ngram_range=(1, 2), sublinear_tf=True)),
            ("chars", Tfidf(analyzer="char_wb", ngram_range=(3, 5), sublinear_tf=True)),
        ]
    )
    tool_vec.fit([e.text for e in tool_train])
    indicators = compile_indicators(indicator_patterns)
    partial = LocalModel(mcp_vec, mcp_clf, tool_vec, None, indicators, MODEL_ID, "")
    tool_clf = LogReg(C=10.0, class_weight="balanced", solver="liblinear", random_state=SEED, max_iter=1000)
    tool_clf.fit(partial.tool_features([e.text for e in tool_train]), [e.label for e in tool_train])
    model = LocalModel(mcp_vec, mcp_clf, tool_vec, tool_clf, indicators, MODEL_ID, "")
    for union in (mcp_vec, tool_vec):
        for _, vectorizer in union.transformer_list:
            # id() of the stop-word list, a fit-time cache (read with getattr): it would make every archive differ
            vectorizer.__dict__.pop("_stop_words_id", None)
    blob = _stable_zip(sio.dumps({"mcp_vec": mcp_vec, "mcp_clf": mcp_clf, "tool_vec": tool_vec, "tool_clf": tool_clf}))
    untrusted = sorted(set(sio.get_untrusted_types(data=blob)) - set(TRUSTED))
    if untrusted:
        raise MCPeekerError(f"judge model holds types the loader does not trust: {untrusted} (local.TRUSTED)")
    digest = hashlib.sha256(blob).hexdigest()
    meta = {
        "model_id": MODEL_ID,
        "version": digest[:16],
        "sha256": digest,
        "unsure_below": 0.6,
        "poisoned_at": POISONED_AT,
        "indicators": {k: [p, i] for k, (p, i) in sorted(indicator_patterns.items())},
        "data": {
            "mcp": {"train": len(mcp_train), "held_out": len(mcp_test), "sources": _sources(data.mcp)},
            "tools": {"train": len(tool_train), "held_out": len(tool_test), "sources": _sources(data.tools)},
            "fingerprint": data_fingerprint(data),
        },
        "held_out": evaluate(model, data),
    }
    return blob, meta


def _stable_zip(blob: bytes) -> bytes:
    """The skops archive made reproducible: its array files are named after object ids (id()) and stamped with the
    time; here they are numbered in the order schema.json names them and stamped 1980-01-01, so the same model
    gives the same bytes (and version)."""
    source = zipfile.ZipFile(io.BytesIO(blob))
    schema = source.read("schema.json").decode()
    names = sorted((n for n in source.namelist() if n != "schema.json"), key=lambda n: schema.find(n.split(".")[0]))
    renamed = {n: f"a{i:05d}.{n.split('.', 1)[1]}" for i, n in enumerate(names)}
    for old, new in renamed.items():
        schema = schema.replace(old, new)
    ids: dict[str, str] = {}
    schema = re.sub(r'("__id__": )(\d+)', lambda m: m.group(1) + ids.setdefault(m.group(2), str(len(ids) + 1)), schema)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for name in ["schema.json", *names]:
            fixed = zipfile.ZipInfo(renamed.get(name, name), date_time=(1980, 1, 1, 0, 0, 0))
            fixed.compress_type = zipfile.ZIP_DEFLATED
            target.writestr(fixed, schema.encode() if name == "schema.json" else source.read(name))
    return out.getvalue()


def _sources(examples: list[Example]) -> dict[str, int]:
    kinds: dict[str, int] = {}
    for e in examples:
        kind = "feedback" if e.group.startswith("feedback:") else e.source.split(" ")[0].split("/blob/")[0]
        kind = "tests/pcaps" if kind.startswith("tests/pcaps/") else kind
        kinds[kind] = kinds.get(kind, 0) + 1
    return dict(sorted(kinds.items()))


def data_fingerprint(data: Dataset) -> str:
    rows = [(e.id, e.group, e.label, e.text) for e in data.mcp + data.tools]
    return hashlib.sha256(json.dumps(rows, sort_keys=True).encode()).hexdigest()


@dataclass(frozen=True)
class Scores:
    precision: float
    recall: float
    f1: float
    tp: int
    fp: int
    fn: int
    tn: int
    n: int

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def scores(truth: list[int], predicted: list[int]) -> Scores:
    tp = sum(1 for t, p in zip(truth, predicted) if t and p)
    fp = sum(1 for t, p in zip(truth, predicted) if not t and p)
    fn = sum(1 for t, p in zip(truth, predicted) if t and not p)
    tn = len(truth) - tp - fp - fn
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return Scores(round(precision, 4), round(recall, 4), round(f1, 4), tp, fp, fn, tn, len(truth))


def evaluate(model: LocalModel, data: Dataset) -> dict[str, Any]:
    """Scores on the fixed held-out side: is-MCP (p >= 0.5 counts as mcp) and poisoned (score >= POISONED_AT)."""
    _, mcp_test = data.split(data.mcp)
    _, tool_test = data.split(data.tools)
    mcp_pred = [int(p >= 0.5) for p in model.p_mcp([e.text for e in mcp_test])] if mcp_test else []
    tool_pred = [int(round(p * 100) >= POISONED_AT) for p in model.p_poisoned([e.text for e in tool_test])]
    return {
        "is_mcp": scores([e.label for e in mcp_test], mcp_pred).as_dict(),
        "poisoned": scores([e.label for e in tool_test], tool_pred).as_dict(),
        "errors": sorted(
            [e.id for e, p in zip(mcp_test, mcp_pred) if e.label != p]
            + [e.id for e, p in zip(tool_test, tool_pred) if e.label != p]
        ),
    }


def write(directory: Path, blob: bytes, meta: dict[str, Any]) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / MODEL_FILE).write_bytes(blob)
    (directory / META_FILE).write_text(json.dumps(meta, indent=1, sort_keys=True) + "\n")


def dumps_check(blob: bytes) -> None:
    """The archive loads back with only the trusted types (what LocalModel.load will do)."""
    sio, *_ = _sklearn()
    sio.load(io.BytesIO(blob), trusted=TRUSTED)
