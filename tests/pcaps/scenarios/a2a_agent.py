"""Benign look-alike: an Agent2Agent (A2A) agent and client from PyPI `a2a-sdk` 0.3 (no MCP anywhere).

    a2a_agent.py server --port N --public-url URL
    a2a_agent.py client --url URL

A2A is JSON-RPC 2.0 over HTTP like MCP, with an agent card (`/.well-known/agent-card.json`: name,
version, `capabilities`, skills) where MCP has `initialize`'s serverInfo and capabilities.

server: the SDK's `A2AStarletteApplication` (JSON-RPC binding) with a `DefaultRequestHandler`, an
in-memory task store and an `AgentExecutor` that answers with one text message; run by uvicorn.
client: `A2ACardResolver` fetches the card, `ClientFactory` sends two messages: `message/send` (plain
JSON answers), or with `--streaming` on both sides `message/stream` (answers as Server-Sent Events).
"""

from __future__ import annotations

import argparse
import asyncio
from uuid import uuid4


def server(port: int, public_url: str, streaming: bool) -> None:
    import uvicorn
    from a2a.server.agent_execution import AgentExecutor, RequestContext
    from a2a.server.apps import A2AStarletteApplication
    from a2a.server.events import EventQueue
    from a2a.server.request_handlers import DefaultRequestHandler
    from a2a.server.tasks import InMemoryTaskStore
    from a2a.types import AgentCapabilities, AgentCard, AgentSkill
    from a2a.utils import new_agent_text_message

    class TravelPolicyAgent(AgentExecutor):
        async def execute(self, context: RequestContext, event_queue: EventQueue) -> None:
            question = context.get_user_input()
            answer = f"Policy answer for {question!r}: economy class up to 6 hours, business above."
            await event_queue.enqueue_event(new_agent_text_message(answer, context.context_id, context.task_id))

        async def cancel(self, context: RequestContext, event_queue: EventQueue) -> None:
            raise RuntimeError("cancel not supported")

    card = AgentCard(
        name="travel-policy-agent",
        description="Answers questions about the company travel policy.",
        url=public_url,
        version="1.4.0",
        default_input_modes=["text"],
        default_output_modes=["text"],
        capabilities=AgentCapabilities(streaming=streaming, push_notifications=False),
        skills=[
            AgentSkill(
                id="travel_policy",
                name="Travel policy",
                tags=["travel", "policy"],
                description="Booking class, per-diem and approval rules.",
                examples=["Can I fly business to Singapore?"],
            )
        ],
    )
    handler = DefaultRequestHandler(agent_executor=TravelPolicyAgent(), task_store=InMemoryTaskStore())
    app = A2AStarletteApplication(agent_card=card, http_handler=handler).build()
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")


async def client(url: str, streaming: bool) -> None:
    import httpx
    from a2a.client import A2ACardResolver, ClientConfig, ClientFactory
    from a2a.types import Message, Part, Role, TextPart

    async with httpx.AsyncClient(timeout=15) as http:
        card = await A2ACardResolver(httpx_client=http, base_url=url).get_agent_card()
        print("card", card.name, card.version, [s.id for s in card.skills])
        a2a = ClientFactory(ClientConfig(streaming=streaming, httpx_client=http)).create(card)
        for question in (
            "Can I fly business class to Singapore?",
            "What is the per-diem in Hamburg?",
        ):
            msg = Message(
                role=Role.user,
                parts=[Part(root=TextPart(text=question))],
                message_id=uuid4().hex,
            )
            async for event in a2a.send_message(msg):
                reply = event if isinstance(event, Message) else event[0]
                print("reply", reply.model_dump_json(exclude_none=True)[:160])
        await a2a.close()


def main() -> None:
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="role", required=True)
    s = sub.add_parser("server")
    s.add_argument("--port", type=int, default=9999)
    s.add_argument("--public-url", required=True)
    s.add_argument(
        "--streaming",
        action="store_true",
        help="advertise streaming (message/stream, SSE answers)",
    )
    c = sub.add_parser("client")
    c.add_argument("--url", required=True)
    c.add_argument(
        "--streaming",
        action="store_true",
        help="message/stream instead of message/send",
    )
    args = ap.parse_args()
    if args.role == "server":
        server(args.port, args.public_url, args.streaming)
    else:
        asyncio.run(client(args.url, args.streaming))


if __name__ == "__main__":
    main()
