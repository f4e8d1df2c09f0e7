"""The Slack stand-in served over HTTP and WebSocket: the Web API, the Socket Mode link,
file uploads, response URLs, the control API and the web page.
"""

from __future__ import annotations

import contextlib
import json
from typing import Any

from fastapi import Request, WebSocket, WebSocketDisconnect
from fastapi.responses import (
    JSONResponse,
    PlainTextResponse,
    Response,
)

from oar.sandbox.slack.control import add_control_routes
from oar.sandbox.slack.page import add_page_routes
from oar.sandbox.slack.webapi import SlackWebApi, multipart_fields, parse_params
from oar.sandbox.slack.workspace import SLACK_APP_ID, SlackError, _Socket


class SlackStandIn(SlackWebApi):
    """Slack for OAR's tests and sandbox (see the package docstring)."""

    def routes(self) -> None:
        app = self.app

        @app.api_route("/api/{method}", methods=["GET", "POST"])
        async def web_api(method: str, request: Request) -> Any:
            params = parse_params(
                request.headers.get("content-type", ""), request.url.query, await request.body()
            )
            try:
                self._authenticate(request, params, method)
                return self._call(method, params, str(request.base_url).rstrip("/"))
            except SlackError as exc:
                return {"ok": False, "error": exc.code}

        @app.post("/_upload/{file_id}")
        async def upload(file_id: str, request: Request) -> Response:
            stored = self.files.get(file_id)
            if stored is None:
                return PlainTextResponse("file not found", status_code=404)
            body = await request.body()
            content_type = request.headers.get("content-type", "")
            if content_type.startswith("multipart/form-data"):
                parts = list(multipart_fields(content_type, body).values())
                body = next((v for v in parts if isinstance(v, bytes)), b"")
            stored["content"] = body
            return PlainTextResponse(f"OK - {len(body)}")

        @app.post("/_response/{response_id}")
        async def respond(response_id: str, request: Request) -> Any:
            if response_id not in self._pending_responses:
                return JSONResponse({"ok": False, "error": "expired_url"}, status_code=404)
            self._respond(response_id, await request.json())
            return {"ok": True}

        @app.websocket("/_ws/link")
        async def link(ws: WebSocket) -> None:
            if ws.query_params.get("ticket") not in self._tickets:
                await ws.close(code=1008)  # before accept: the handshake gets HTTP 403
                return
            await ws.accept()
            sock = _Socket(ws)
            await sock.send(
                {
                    "type": "hello",
                    "num_connections": len(self._sockets) + 1,
                    "debug_info": {
                        "host": "applink-sandbox",
                        "build_number": 1,
                        "approximate_connection_time": 18060,
                    },
                    "connection_info": {"app_id": SLACK_APP_ID},
                }
            )
            self._sockets.append(sock)
            self.sockets_opened += 1
            self._socket_joined.set()
            try:
                while True:
                    with contextlib.suppress(ValueError):
                        frame = json.loads(await ws.receive_text())
                        if isinstance(frame, dict):
                            self._on_ack(frame)
            except (WebSocketDisconnect, RuntimeError):
                pass
            finally:
                self._drop_socket(sock)

        add_control_routes(self)
        add_page_routes(self)
