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
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

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
        p = self.p_mcp([text])[0]
        verdict, confidence = ("mcp", p) if p >= 0.5 else ("not_mcp", 1.0 - p)
        if confidence < self.unsure_below:
            verdict = "unsure"
        reasons = [f"{verdict} p(mcp)={p:.2f}"] + _protocol_reasons(judged)
        tool_texts = [t.text() for t in judged.tools]
        scores = self.p_poisoned(tool_texts)
        tools = tuple(
            ToolScore(
                tool.name,
                round(score * 100),
                tuple(f"{name} '{phrase}'" for name, phrase in matches(self.indicators, tool.text())),
            )
            for tool, score in zip(judged.tools, scores)
        )
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
