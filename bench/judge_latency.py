#!/usr/bin/env python3
"""The local judge's latency per instance: p50 / p95 / max of LocalModel.judge over every example input of
data/judge/evidence.jsonl (is-MCP verdict plus every tool's poisoning score and reasons), after a warm-up.

    .venv/bin/python bench/judge_latency.py [--rounds 5]

Target: p95 <= 5 ms per instance. With an LLM backend configured (configs/judge.yaml backend: llm) the same
inputs are sent to it with --llm, and its p50 / p95 printed (the seeds' target: <= 400 ms).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "ingest_python"))

from mcpeeker.judge.config import JudgeConfig  # noqa: E402
from mcpeeker.judge.inputs import JudgeInput  # noqa: E402
from mcpeeker.judge.llm import LLMJudge  # noqa: E402
from mcpeeker.judge.local import shipped  # noqa: E402


def percentiles(samples: list[float]) -> str:
    ordered = sorted(samples)
    p = statistics.quantiles(ordered, n=100)
    return f"p50 {p[49] * 1000:.2f} ms  p95 {p[94] * 1000:.2f} ms  max {ordered[-1] * 1000:.2f} ms  (n={len(ordered)})"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--llm", action="store_true", help="also time the configured LLM backend")
    args = parser.parse_args()
    inputs = [
        JudgeInput.from_dict(json.loads(line)["input"])
        for line in (ROOT / "data" / "judge" / "evidence.jsonl").read_text().splitlines()
    ]
    started = time.perf_counter()
    model = shipped()
    print(f"model load {(time.perf_counter() - started) * 1000:.0f} ms ({model.model_id} {model.version})")
    for judged in inputs[:20]:
        model.judge(judged)  # warm-up
    # Wall time and this thread's CPU time: on a shared, loaded machine the wall-time tail is mostly waiting for a
    # core; the CPU time is what the judge costs.
    cold, warm, cold_cpu = [], [], []
    for _ in range(args.rounds):
        for judged in inputs:
            model._tool_cache.cache_clear()  # type: ignore[attr-defined]
            t0, c0 = time.perf_counter(), time.thread_time()
            model.judge(judged)
            cold.append(time.perf_counter() - t0)
            cold_cpu.append(time.thread_time() - c0)
            t0 = time.perf_counter()
            model.judge(judged)  # the same tool definitions again: scored from the per-process cache
            warm.append(time.perf_counter() - t0)
    tools = sum(len(j.tools) for j in inputs) / len(inputs)
    print(f"{len(inputs)} inputs, {tools:.1f} tools each on average, load average {os.getloadavg()[0]:.1f}")
    print(f"local judge per instance, tools scored afresh: {percentiles(cold)}")
    print(f"local judge per instance, tools seen before:  {percentiles(warm)}")
    print(f"CPU time per instance, tools scored afresh:   {percentiles(cold_cpu)}")
    if args.llm:
        config = JudgeConfig.load()
        if config.backend != "llm":
            print("no LLM backend configured (configs/judge.yaml backend: llm)")
            return 0
        llm = LLMJudge(config.llm)
        timings = []
        for judged in inputs[: config.llm.budget]:
            t0 = time.perf_counter()
            llm.judge(judged)
            timings.append(time.perf_counter() - t0)
        print(f"LLM {config.llm.model} per instance: {percentiles(timings)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
