"""Benign look-alike: the Language Server Protocol over HTTP (no MCP anywhere).

    lsp_http.py server --port N
    lsp_http.py client --url http://host:N/lsp

LSP opens with a JSON-RPC `initialize` carrying `capabilities` and `clientInfo`, answered with
`capabilities` and `serverInfo`, like MCP's 2025 handshake, but without `protocolVersion`.

server: a real pygls `LanguageServer` (hover, completion, didOpen) whose JSON-RPC protocol is fed
by a small aiohttp endpoint: each POST body is parsed with the protocol's own `structure_message`
and handed to `handle_message`; what the protocol writes back is the HTTP answer (204 for
notifications). pygls ships stdio/TCP/WebSocket transports, not HTTP.

client: every message is an lsprotocol type (InitializeRequest, InitializedNotification,
DidOpenTextDocumentNotification, HoverRequest, CompletionRequest, ShutdownRequest)
serialised with lsprotocol's cattrs converter and posted with requests; answers are structured back
into the lsprotocol response types.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from typing import Any

from lsprotocol import types


def server(port: int) -> None:
    from aiohttp import web
    from pygls.lsp.server import LanguageServer

    ls = LanguageServer("config-lang-server", "v0.4.2")

    @ls.feature(types.TEXT_DOCUMENT_HOVER)
    def hover(params: types.HoverParams) -> types.Hover:
        line = params.position.line
        return types.Hover(
            contents=types.MarkupContent(
                kind=types.MarkupKind.Markdown, value=f"**key** on line {line + 1}: a string setting"
            )
        )

    @ls.feature(types.TEXT_DOCUMENT_COMPLETION, types.CompletionOptions(trigger_characters=["."]))
    def completion(params: types.CompletionParams) -> types.CompletionList:
        items = [
            types.CompletionItem(label=k, kind=types.CompletionItemKind.Property)
            for k in ("listen_address", "log_level", "max_connections", "timeout")
        ]
        return types.CompletionList(is_incomplete=False, items=items)

    @ls.feature(types.TEXT_DOCUMENT_DID_OPEN)
    def did_open(params: types.DidOpenTextDocumentParams) -> None:
        ls.window_log_message(
            types.LogMessageParams(type=types.MessageType.Info, message=f"opened {params.text_document.uri}")
        )

    protocol = ls.protocol
    outbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

    class QueueWriter:
        def write(self, data: bytes) -> None:
            outbox.put_nowait(json.loads(data))

        def close(self) -> None:
            pass

    protocol.set_writer(QueueWriter(), include_headers=False)

    async def handle(request: web.Request) -> web.Response:
        body = await request.read()
        while not outbox.empty():  # drop server-initiated messages nobody polls for
            outbox.get_nowait()
        message = json.loads(body, object_hook=protocol.structure_message)
        protocol.handle_message(message)
        msg_id = json.loads(body).get("id")
        if msg_id is None:
            await asyncio.sleep(0.05)
            return web.Response(status=204)
        while True:
            out = await asyncio.wait_for(outbox.get(), timeout=10)
            if out.get("id") == msg_id and "method" not in out:
                return web.Response(body=json.dumps(out).encode(), content_type="application/json")

    app = web.Application()
    app.router.add_post("/lsp", handle)
    web.run_app(app, host="127.0.0.1", port=port, print=None)


def client(url: str) -> None:
    import requests
    from lsprotocol.converters import get_converter

    conv = get_converter()
    http = requests.Session()
    uri = "file:///home/dev/projects/gateway/config/gateway.conf"

    def post(msg: Any, answer_type: type | None = None) -> Any:
        r = http.post(
            url,
            data=json.dumps(conv.unstructure(msg)),
            headers={"Content-Type": "application/vscode-jsonrpc; charset=utf-8"},
            timeout=15,
        )
        r.raise_for_status()
        if answer_type is None:
            return None
        answer = conv.structure(r.json(), answer_type)
        print(type(answer).__name__, conv.unstructure(answer.result) if answer.result is not None else None)
        return answer

    init = types.InitializeParams(
        process_id=4242,
        client_info=types.ClientInfo(name="config-editor", version="1.8.0"),
        root_uri="file:///home/dev/projects/gateway",
        capabilities=types.ClientCapabilities(
            text_document=types.TextDocumentClientCapabilities(
                hover=types.HoverClientCapabilities(content_format=[types.MarkupKind.Markdown]),
                completion=types.CompletionClientCapabilities(
                    completion_item=types.ClientCompletionItemOptions(snippet_support=False)
                ),
            ),
            workspace=types.WorkspaceClientCapabilities(workspace_folders=True),
        ),
        workspace_folders=[types.WorkspaceFolder(uri="file:///home/dev/projects/gateway", name="gateway")],
    )
    post(types.InitializeRequest(id=1, params=init), types.InitializeResponse)
    post(types.InitializedNotification(params=types.InitializedParams()))
    post(
        types.DidOpenTextDocumentNotification(
            params=types.DidOpenTextDocumentParams(
                text_document=types.TextDocumentItem(
                    uri=uri, language_id="ini", version=1, text="listen_address = 0.0.0.0:8443\nlog_level = info\n"
                )
            )
        )
    )
    pos = types.TextDocumentIdentifier(uri=uri)
    post(
        types.HoverRequest(
            id=2, params=types.HoverParams(text_document=pos, position=types.Position(line=1, character=3))
        ),
        types.HoverResponse,
    )
    post(
        types.CompletionRequest(
            id=3, params=types.CompletionParams(text_document=pos, position=types.Position(line=2, character=0))
        ),
        types.CompletionResponse,
    )
    post(types.ShutdownRequest(id=4), types.ShutdownResponse)
    # No `exit` notification: pygls answers it with sys.exit() inside the handler, which would drop
    # the HTTP answer; the generator stops the server instead.


def main() -> None:
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="role", required=True)
    s = sub.add_parser("server")
    s.add_argument("--port", type=int, default=2087)
    c = sub.add_parser("client")
    c.add_argument("--url", required=True)
    args = ap.parse_args()
    if args.role == "server":
        server(args.port)
    else:
        client(args.url)


if __name__ == "__main__":
    main()
