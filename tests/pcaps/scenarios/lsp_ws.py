"""Benign look-alike: the Language Server Protocol over WebSocket (no MCP anywhere).

    lsp_ws.py server --port N
    lsp_ws.py client --host HOST --port N

Browser-based editors (Monaco, Theia, code-server extensions) reach language servers over
WebSocket; LSP's `initialize` carries `capabilities` and `clientInfo` like MCP's 2025 handshake.

server: a pygls `LanguageServer` (hover, completion, didOpen) on pygls' own `start_ws` transport.
client: pygls' `LanguageClient` on a websockets connection without permessage-deflate (what its
`start_ws` does, minus compression), lsprotocol-typed requests: initialize, initialized, didOpen,
hover, completion, shutdown, exit.
"""

from __future__ import annotations

import argparse
import asyncio

from lsprotocol import types


def server(port: int) -> None:
    from pygls.lsp.server import LanguageServer

    ls = LanguageServer("yaml-schema-server", "v1.3.0")

    @ls.feature(types.TEXT_DOCUMENT_HOVER)
    def hover(params: types.HoverParams) -> types.Hover:
        return types.Hover(
            contents=types.MarkupContent(
                kind=types.MarkupKind.Markdown,
                value=f"`replicas` (line {params.position.line + 1}): integer, >= 1",
            )
        )

    @ls.feature(
        types.TEXT_DOCUMENT_COMPLETION,
        types.CompletionOptions(trigger_characters=[":"]),
    )
    def completion(params: types.CompletionParams) -> types.CompletionList:
        return types.CompletionList(
            is_incomplete=False,
            items=[
                types.CompletionItem(label=k, kind=types.CompletionItemKind.Property)
                for k in ("image", "replicas", "resources", "env")
            ],
        )

    @ls.feature(types.TEXT_DOCUMENT_DID_OPEN)
    def did_open(params: types.DidOpenTextDocumentParams) -> None:
        ls.window_log_message(
            types.LogMessageParams(
                type=types.MessageType.Info,
                message=f"opened {params.text_document.uri}",
            )
        )

    ls.start_ws("127.0.0.1", port)


async def client(host: str, port: int) -> None:
    import logging

    from pygls.io_ import run_websocket
    from pygls.lsp.client import LanguageClient
    from websockets.asyncio.client import connect

    lc = LanguageClient("web-editor", "2.7.0")
    # LanguageClient.start_ws, with permessage-deflate off: editor backends on Node's `ws` (vscode-ws-jsonrpc)
    # run without it by default, and uncompressed frames are the harder case for the sensors (JSON-RPC
    # readable in the server's frames).
    websocket = await connect(f"ws://{host}:{port}", compression=None)
    lc._async_tasks.append(
        asyncio.create_task(
            run_websocket(
                stop_event=lc._stop_event,
                websocket=websocket,
                protocol=lc.protocol,
                logger=logging.getLogger("lsp_ws"),
                error_handler=lc.report_server_error,
            )
        )
    )
    await asyncio.sleep(0)
    root = "file:///workspace/deploy"
    uri = f"{root}/service.yaml"
    result = await lc.initialize_async(
        types.InitializeParams(
            process_id=None,
            client_info=types.ClientInfo(name="web-editor", version="2.7.0"),
            root_uri=root,
            capabilities=types.ClientCapabilities(
                text_document=types.TextDocumentClientCapabilities(
                    hover=types.HoverClientCapabilities(content_format=[types.MarkupKind.Markdown])
                )
            ),
            workspace_folders=[types.WorkspaceFolder(uri=root, name="deploy")],
        )
    )
    print("server", result.server_info)
    lc.initialized(types.InitializedParams())
    lc.text_document_did_open(
        types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(
                uri=uri,
                language_id="yaml",
                version=1,
                text="image: registry.corp.example/api:1.8\nreplicas: 3\n",
            )
        )
    )
    doc = types.TextDocumentIdentifier(uri=uri)
    hover = await lc.text_document_hover_async(
        types.HoverParams(text_document=doc, position=types.Position(line=1, character=2))
    )
    print("hover", hover.contents if hover else None)
    items = await lc.text_document_completion_async(
        types.CompletionParams(text_document=doc, position=types.Position(line=2, character=0))
    )
    print("completion", [i.label for i in items.items] if items else None)
    await lc.shutdown_async(None)
    lc.exit(None)
    await asyncio.sleep(0.2)
    await lc.stop()


def main() -> None:
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="role", required=True)
    s = sub.add_parser("server")
    s.add_argument("--port", type=int, default=2089)
    c = sub.add_parser("client")
    c.add_argument("--host", required=True)
    c.add_argument("--port", type=int, default=2089)
    args = ap.parse_args()
    if args.role == "server":
        server(args.port)
    else:
        asyncio.run(client(args.host, args.port))


if __name__ == "__main__":
    main()
