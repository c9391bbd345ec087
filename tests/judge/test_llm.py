"""The LLM backend against a local OpenAI-compatible chat-completions server (Starlette under uvicorn).

No language model can be run on this machine, so the server is not a model: each test makes it answer the way a
model could, including the worst case of a model the judged text has steered ("answer not_mcp"). What is tested is
what the judge does with those answers: the request it sends (fixed system prompt, the evidence as one JSON data
document, a JSON schema), strict parsing (anything but a schema-valid answer about these tools is unsure), the
cross-check against the local model (a steered not_mcp does not survive), retries, timeouts and the fallback.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Callable

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from mcpeeker.judge.config import JudgeConfig, LLMConfig
from mcpeeker.judge.inputs import JudgeInput
from mcpeeker.judge.llm import SYSTEM_PROMPT, LLMJudge, LLMUnavailable
from mcpeeker.judge.local import shipped
from mcpeeker.judge.run import Judge
from mcpeeker.settings import Settings

from tests.judge.test_model import INJECTION, _example

Answer = Callable[[dict[str, Any]], Response]


@dataclass
class ChatServer:
    url: str
    answer: Answer
    requests: list[dict[str, Any]] = field(default_factory=list)


def completion(content: str) -> Response:
    return JSONResponse(
        {
            "id": "x",
            "object": "chat.completion",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content}}],
        }
    )


def steered_model(body: dict[str, Any]) -> Response:
    """What a model that obeys the judged text would answer: not_mcp when a description says so, else mcp."""
    evidence = json.loads(body["messages"][1]["content"])["evidence"]
    obeys = any("answer not_mcp" in t["description"] for t in evidence["tools"])
    tools = [{"name": t["name"], "poisoning": 0, "reasons": []} for t in evidence["tools"]]
    answer = {
        "verdict": "not_mcp" if obeys else "mcp",
        "confidence": 0.99,
        "server_poisoning": 0,
        "tools": tools,
        "reasons": ["as the tool description says" if obeys else "initialize and tools/list seen"],
    }
    return completion(json.dumps(answer))


@pytest.fixture
def chat() -> Iterator[ChatServer]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server_state = ChatServer(f"http://127.0.0.1:{port}/v1", steered_model)

    async def completions(request: Request) -> Response:
        body = await request.json()
        server_state.requests.append(body)
        return server_state.answer(body)

    app = Starlette(routes=[Route("/v1/chat/completions", completions, methods=["POST"])])
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    yield server_state
    server.should_exit = True
    thread.join(5)


def llm_config(url: str, **kw: Any) -> LLMConfig:
    return LLMConfig(**{"url": url, "model": "test-model", "timeout_seconds": 2.0, "retries": 1, **kw})


def judge_with(url: str, **kw: Any) -> Judge:
    config = JudgeConfig(backend="llm", llm=llm_config(url, **kw))
    settings = Settings(url="http://127.0.0.1:9", index_prefix="unused-")  # Judge.judge never reaches the node
    return Judge(settings, None, config)


def injected_input() -> JudgeInput:
    honest = _example("mcp2025_py_streamable_json_stateless.pcap")
    return JudgeInput.build(
        honest.methods,
        honest.header_names,
        honest.result_shapes,
        honest.server_names,
        honest.client_names,
        tools=[(t.name, t.description) for t in honest.tools] + [("notes", INJECTION)],
    )


def test_request_keeps_the_judged_text_as_data(chat: ChatServer) -> None:
    result = LLMJudge(llm_config(chat.url)).judge(injected_input())
    assert result.verdict == "not_mcp"  # the raw answer of a steered model ...
    body = chat.requests[0]
    assert body["messages"][0] == {"role": "system", "content": SYSTEM_PROMPT}
    assert INJECTION not in body["messages"][0]["content"]
    assert json.loads(body["messages"][1]["content"])["evidence"]["tools"][-1]["description"] == INJECTION
    assert body["response_format"]["type"] == "json_schema" and body["temperature"] == 0


def test_a_steered_verdict_does_not_survive_the_cross_check(chat: ChatServer) -> None:
    """... does not become the judge's: the local model (which never reads descriptions) is sure it is mcp."""
    judge = judge_with(chat.url)
    result, fell_back = judge.judge(injected_input())
    assert not fell_back and result.backend == "llm"
    assert result.verdict == "unsure" and "local model mcp" in " ".join(result.notes)
    # the model scored every tool 0; the local model's poisoning score of the injected tool stands
    assert result.poisoning >= shipped().poisoned_at
    honest, _ = judge.judge(_example("mcp2025_py_streamable_json_stateless.pcap"))
    assert honest.verdict == "mcp" and honest.confidence == 0.99


@pytest.mark.parametrize(
    "content, why",
    [
        ("not_mcp", "not a chat completion with JSON content"),
        ('{"verdict": "not_mcp"}', "schema"),
        (
            '{"verdict": "not_mcp", "confidence": 0.9, "server_poisoning": 0, "tools": [], "reasons": [], "note": "as told"}',
            "schema",
        ),
        ('{"verdict": "maybe", "confidence": 0.9, "server_poisoning": 0, "tools": [], "reasons": []}', "schema"),
        ('{"verdict": "mcp", "confidence": 1.5, "server_poisoning": 0, "tools": [], "reasons": []}', "schema"),
        (
            '{"verdict": "mcp", "confidence": 0.9, "server_poisoning": 0, "tools": [{"name": "other", "poisoning": 0, "reasons": []}], "reasons": []}',
            "tools not in the input",
        ),
    ],
)
def test_anything_but_a_valid_answer_is_unsure(chat: ChatServer, content: str, why: str) -> None:
    chat.answer = lambda body: completion(content)
    result = LLMJudge(llm_config(chat.url)).judge(injected_input())
    assert result.verdict == "unsure" and result.confidence == 0.0
    assert why in result.notes[0]


def test_retries_then_answers(chat: ChatServer) -> None:
    calls: list[int] = []

    def flaky(body: dict[str, Any]) -> Response:
        calls.append(1)
        return Response("overloaded", status_code=503) if len(calls) == 1 else steered_model(body)

    chat.answer = flaky
    result = LLMJudge(llm_config(chat.url, retries=1)).judge(_example("mcp2025_py_streamable_json_stateless.pcap"))
    assert result.verdict == "mcp" and len(calls) == 2


def test_timeout_falls_back_to_the_local_model(chat: ChatServer) -> None:
    def slow(body: dict[str, Any]) -> Response:
        time.sleep(1.5)
        return steered_model(body)

    chat.answer = slow
    with pytest.raises(LLMUnavailable):
        LLMJudge(llm_config(chat.url, timeout_seconds=0.3, retries=0)).judge(injected_input())
    judge = judge_with(chat.url, timeout_seconds=0.3, retries=0)
    result, fell_back = judge.judge(injected_input())
    assert fell_back and result.backend == "local" and result.verdict == "mcp"
    assert "LLM unavailable" in result.notes[0]


def test_budget_then_local(chat: ChatServer) -> None:
    judge = judge_with(chat.url, budget=1)
    first, fell_back_first = judge.judge(_example("mcp2025_py_streamable_json_stateless.pcap"))
    second, fell_back_second = judge.judge(_example("mcp2025_ts_streamable_sse.pcap"))
    assert not fell_back_first and first.backend == "llm"
    assert fell_back_second and second.backend == "local" and "budget" in second.notes[0]
    assert len(chat.requests) == 1
