"""`mcpeeker judge run | train --from-feedback | explain FILE`."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from rich.console import Console

from ..client import make_client
from ..errors import MCPeekerError
from ..roles import authorize
from ..settings import add_connection_arguments, resolve
from ..judge.config import JudgeConfig
from ..judge.inputs import JudgeInput
from ..judge.learn import check_data_dir, feedback_examples, retrain
from ..judge.run import Judge, JudgeRun

console = Console(stderr=True, soft_wrap=True)


def print_run(run: JudgeRun, out: Console = console) -> None:
    verdicts = ", ".join(f"{k} {v}" for k, v in sorted(run.verdicts.items())) or "none"
    out.print(
        f"judge: {run.selected} selected, {run.judged} judged ({verdicts}), {run.cached} cached, "
        f"{run.over_budget} over budget, {run.scoring} scoring, {run.fallbacks} LLM fallbacks, {run.seconds:.2f}s",
        highlight=False,
    )


def cmd_run(args: argparse.Namespace) -> int:
    settings = resolve(args)
    authorize(settings, "correlation.run")
    judge = Judge(settings, make_client(settings), JudgeConfig.load(args.judge_config))
    print_run(judge.run_once())
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    if not args.from_feedback:
        raise MCPeekerError(
            "judge train: only --from-feedback retrains here; `make judge-model` retrains from data/judge"
        )
    settings = resolve(args)
    authorize(settings, "correlation.run")
    client = make_client(settings)
    data_dir = check_data_dir(Path(args.data))
    judge = Judge(settings, client, JudgeConfig.load(args.judge_config))
    rows = feedback_examples(settings, client, judge)
    result = retrain(rows, data_dir, Path(args.model_dir) if args.model_dir else None)
    for question in ("is_mcp", "poisoned"):
        b, a = result.before[question], result.after[question]
        print(
            f"{question}: held-out F1 {b['f1']} -> {a['f1']} (n={a['n']}, tp {a['tp']} fp {a['fp']} fn {a['fn']} tn {a['tn']})"
        )
    print(f"feedback examples: {len(rows)} from verdicts, {result.added} new; model {result.version}: {result.reason}")
    return 0 if result.replaced or result.added == 0 else 1


def cmd_explain(args: argparse.Namespace) -> int:
    """Judge one input file (the JSON of JudgeInput.as_dict) with the local model; no cluster needed."""
    from ..judge.local import shipped

    try:
        judged = JudgeInput.from_dict(json.loads(Path(args.file).read_text()))
    except (OSError, ValueError) as exc:
        raise MCPeekerError(f"{args.file}: {exc}") from exc
    result = shipped().judge(judged)
    print(
        json.dumps(
            {
                "verdict": result.verdict,
                "confidence": result.confidence,
                "poisoning": result.poisoning,
                "tools": [{"name": t.name, "poisoning": t.poisoning, "reasons": list(t.reasons)} for t in result.tools],
                "reasons": list(result.reasons),
                "model": {"id": result.model_id, "version": result.model_version},
            },
            indent=2,
        )
    )
    return 0


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "judge", help="a second opinion on uncertain instances: is it MCP, are its tools poisoned"
    )
    actions = parser.add_subparsers(dest="judge_action", required=True)
    run = actions.add_parser("run", help="judge the selected instances once and write judge evidence")
    run.add_argument("--judge-config", help="judge config (default: the site's judge.yaml)")
    add_connection_arguments(run)
    run.set_defaults(func=cmd_run)
    learn = actions.add_parser("train", help="retrain the local model from analyst verdicts")
    learn.add_argument("--from-feedback", action="store_true", help="turn true/false positive verdicts into examples")
    learn.add_argument("--data", default="data/judge", help="the labelled data directory (default data/judge)")
    learn.add_argument("--model-dir", help="where the model is read and replaced (default: the package's)")
    learn.add_argument("--judge-config", help="judge config (default: the site's judge.yaml)")
    add_connection_arguments(learn)
    learn.set_defaults(func=cmd_train)
    explain = actions.add_parser("explain", help="judge one input JSON file with the local model")
    explain.add_argument("file")
    explain.set_defaults(func=cmd_explain)
