"""The local judge: scikit-learn models shipped in the package (judge/model/), no network, a few milliseconds.

* "is this MCP?": logistic regression over word and character n-grams of the input's protocol view (methods,
  header names, result shapes, names; JudgeInput.protocol_text), never the tool descriptions.
* "poisoned?": logistic regression over word and character n-grams of each tool's name and description plus the
  catalogue's indicator groups as 0/1 features; the server's score is its most poisoned tool's.

The model file is a skops archive (no pickle): it loads only after its sha256 matches judge.json, and skops
refuses any type outside TRUSTED. scikit-learn and skops are the `judge` extra.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass
from functools import cached_property, lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, Callable

from ..errors import MCPeekerError
from .features import Indicator, compile_indicators, indicator_matrix, matches
from .inputs import JudgeInput
from .verdict import Judgement, ToolScore

INSTALL_HINT = "pip install 'mcpeeker[judge]'"
MODEL_FILE = "judge.skops"
META_FILE = "judge.json"
# Every type the shipped model holds (skops.io.get_untrusted_types of judge.skops); anything else is refused.
TRUSTED = [
    "builtins.getattr",
    "numpy.dtype",
    "numpy.float64",
    "numpy.int64",
    "numpy.ndarray",
    "scipy.sparse._csr.csr_matrix",
    "sklearn.feature_extraction.text.TfidfTransformer",
    "sklearn.feature_extraction.text.TfidfVectorizer",
    "sklearn.linear_model._logistic.LogisticRegression",
    "sklearn.pipeline.FeatureUnion",
]


def model_dir() -> Path:
    return Path(str(resources.files("mcpeeker.judge") / "model"))


def _require() -> Any:
    try:
        import sklearn  # noqa: F401
        import skops.io as sio
    except ImportError as exc:
        raise MCPeekerError(f"the local judge needs scikit-learn and skops: {INSTALL_HINT} ({exc})") from exc
    return sio


class LinearScorer:
    """A fitted FeatureUnion of TfidfVectorizers + LogisticRegression, evaluated directly for one text: the same
    numbers (sublinear tf times idf, L2-normalised per vectorizer, dot the coefficients, logistic) without
    scikit-learn's per-call validation and sparse-matrix building, which cost milliseconds for a single input.
    tests/judge/test_model.py checks it agrees with predict_proba on every example."""

    def __init__(self, union: Any, clf: Any) -> None:
        coef = [float(c) for c in clf.coef_[0]]
        sign = 1.0 if list(clf.classes_).index(1) == 1 else -1.0  # predict_proba's column for label 1
        self.sign, self.intercept = sign, float(clf.intercept_[0])
        self.parts: list[tuple[Any, dict[str, tuple[float, float]], bool]] = []
        offset = 0
        for _, vectorizer in union.transformer_list:
            idf = vectorizer.idf_
            weights = {term: (float(idf[i]), coef[offset + i]) for term, i in vectorizer.vocabulary_.items()}
            self.parts.append((vectorizer.build_analyzer(), weights, bool(vectorizer.sublinear_tf)))
            offset += len(vectorizer.vocabulary_)
        self.extra = coef[offset:]

    def probability(self, text: str, extra: list[float] | None = None) -> float:
        z = self.intercept
        for analyze, weights, sublinear in self.parts:
            counts: dict[str, int] = {}
            for term in analyze(text):
                if term in weights:
                    counts[term] = counts.get(term, 0) + 1
            if not counts:
                continue
            dot = norm = 0.0
            for term, count in counts.items():
                idf, c = weights[term]
                value = ((1.0 + math.log(count)) if sublinear else float(count)) * idf
                dot += value * c
                norm += value * value
            z += dot / math.sqrt(norm)
        if extra:
            z += sum(x * c for x, c in zip(extra, self.extra))
        return 1.0 / (1.0 + math.exp(-self.sign * z))


@dataclass(frozen=True)
class LocalModel:
    mcp_vec: Any
    mcp_clf: Any
    tool_vec: Any
    tool_clf: Any
    indicators: tuple[Indicator, ...]
    model_id: str
    version: str
    unsure_below: float = 0.6
    poisoned_at: int = 40  # a tool scoring this or more counts as poisoned (train.POISONED_AT)

    @classmethod
    def load(cls, directory: Path | None = None) -> "LocalModel":
        sio = _require()
        directory = directory or model_dir()
        meta_path, model_path = directory / META_FILE, directory / MODEL_FILE
        try:
            meta = json.loads(meta_path.read_text())
            data = model_path.read_bytes()
        except OSError as exc:
            raise MCPeekerError(f"judge model: cannot read {exc.filename}: {exc.strerror} (make judge-model)") from exc
        digest = hashlib.sha256(data).hexdigest()
        if digest != meta.get("sha256"):
            raise MCPeekerError(
                f"judge model: {model_path} has sha256 {digest}, {meta_path} says {meta.get('sha256')}: "
                "refusing a model file that is not the one trained with it (make judge-model)"
            )
        parts = sio.loads(data, trusted=TRUSTED)
        indicators = compile_indicators({k: (v[0], bool(v[1])) for k, v in meta["indicators"].items()})
        return cls(
            parts["mcp_vec"],
            parts["mcp_clf"],
            parts["tool_vec"],
            parts["tool_clf"],
            indicators,
            str(meta["model_id"]),
            str(meta["version"]),
            float(meta.get("unsure_below", 0.6)),
            int(meta.get("poisoned_at", 40)),
        )

    # --- the two questions -----------------------------------------------------------------
    @cached_property
    def _fast_mcp(self) -> LinearScorer:
        return LinearScorer(self.mcp_vec, self.mcp_clf)

    @cached_property
    def _fast_tools(self) -> LinearScorer:
        return LinearScorer(self.tool_vec, self.tool_clf)

    def fast_p_mcp(self, text: str) -> float:
        return self._fast_mcp.probability(text)

    def fast_p_poisoned(self, text: str) -> float:
        return self._fast_tools.probability(text, [float(v) for v in indicator_matrix(self.indicators, [text])[0]])

    @cached_property
    def _tool_cache(self) -> Callable[[str, str], ToolScore]:
        # The same tool definitions come back on many instances and every cycle: score each text once per process.
        return lru_cache(maxsize=4096)(self.tool_score)

    def tool_score(self, name: str, text: str) -> ToolScore:
        """One tool's poisoning score and reasons, with one pass of the indicator patterns for both."""
        found = matches(self.indicators, text)
        names = {indicator for indicator, _ in found}
        extra = [1.0 if indicator.name in names else 0.0 for indicator in self.indicators]
        score = self._fast_tools.probability(text, extra)
        return ToolScore(name, round(score * 100), tuple(f"{indicator} '{phrase}'" for indicator, phrase in found))

    def p_mcp(self, texts: list[str]) -> list[float]:
        probabilities = self.mcp_clf.predict_proba(self.mcp_vec.transform(texts))
        column = list(self.mcp_clf.classes_).index(1)
        return [float(p[column]) for p in probabilities]

    def tool_features(self, texts: list[str]) -> Any:
        from scipy.sparse import csr_matrix, hstack

        return hstack([self.tool_vec.transform(texts), csr_matrix(indicator_matrix(self.indicators, texts))]).tocsr()

    def p_poisoned(self, texts: list[str]) -> list[float]:
        if not texts:
            return []
        probabilities = self.tool_clf.predict_proba(self.tool_features(texts))
        column = list(self.tool_clf.classes_).index(1)
        return [float(p[column]) for p in probabilities]

    def judge(self, judged: JudgeInput) -> Judgement:
        text = judged.protocol_text()
        if not text:
            return Judgement("unsure", 0.0, 0, (), ("no protocol evidence to judge",), self.model_id, self.version)
        p = self.fast_p_mcp(text)
        verdict, confidence = ("mcp", p) if p >= 0.5 else ("not_mcp", 1.0 - p)
        if confidence < self.unsure_below:
            verdict = "unsure"
        reasons = [f"{verdict} p(mcp)={p:.2f}"] + _protocol_reasons(judged)
        tools = tuple(self._tool_cache(tool.name, tool.text()) for tool in judged.tools)
        poisoning = max((t.poisoning for t in tools), default=0)
        return Judgement(verdict, round(confidence, 4), poisoning, tools, tuple(reasons), self.model_id, self.version)


def _protocol_reasons(judged: JudgeInput) -> list[str]:
    """The structure that most often decides: MCP's own methods, headers and handshake shapes."""
    marks = [m for m in judged.methods if m in ("initialize", "tools/list", "tools/call", "resources/list")]
    marks += [h for h in judged.header_names if h.startswith("mcp-")]
    marks += [s for s in judged.result_shapes if s in ("result.serverInfo", "result.tools", "params.clientInfo")]
    return [f"saw {', '.join(marks[:8])}"] if marks else []


@lru_cache(maxsize=1)
def shipped() -> LocalModel:
    """The model shipped in the package, loaded once per process."""
    return LocalModel.load()
