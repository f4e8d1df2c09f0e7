"""The access middleware: applies :mod:`oar.web.access` to every request, caps bodies.

A pure ASGI middleware, so it runs before any route and before a body is read: an
unauthenticated or oversized request costs a header parse, not a body parse.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

from fastapi import Request
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from oar.service import Service
from oar.web.access import AccessPolicy, Refused, RequestHead

IDENTITY_KEY = "oar.identity"


def service_of(request: HTTPConnection) -> Service:
    service: Service = request.app.state.service
    return service


def identity_of(connection: HTTPConnection) -> str:
    """Who the access middleware authenticated this request as (the actor to record)."""
    identity = connection.scope.get(IDENTITY_KEY)
    if not isinstance(identity, str):
        raise RuntimeError("AccessMiddleware is not installed: requests are not authenticated")
    return identity


async def caller(request: Request) -> str:
    """FastAPI dependency: the authenticated identity, recorded as the actor."""
    return identity_of(request)


class AccessMiddleware:
    """Refuse what the policy refuses; cap request bodies at ``max_body_bytes``."""

    def __init__(self, app: ASGIApp, *, policy: AccessPolicy, max_body_bytes: int) -> None:
        self.app = app
        self.policy = policy
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        verdict = self.policy.decide(_head(scope))
        if isinstance(verdict, Refused):
            if scope["type"] == "websocket":
                await _refuse_websocket(scope, receive, send, verdict)
            else:
                await _respond(send, verdict)
            return
        scope = {**scope, IDENTITY_KEY: verdict.identity}
        if scope["type"] == "http" and verdict.limit_body:
            body = await self._read_body(scope, receive, send)
            if body is None:
                return
            receive = _replay(body, receive)
        await self.app(scope, receive, send)

    async def _read_body(self, scope: Scope, receive: Receive, send: Send) -> bytes | None:
        """The whole body, or None after answering 413 (or when the client went away)."""
        limit = self.max_body_bytes
        too_large = Refused(
            status=413,
            kind="RequestTooLarge",
            message=f"the request body is over {limit} bytes (OAR_MAX_BODY_BYTES)",
        )
        for name, value in scope["headers"]:
            if name == b"content-length" and value.isdigit() and int(value) > limit:
                await _respond(send, too_large)
                return None
        body = bytearray()
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return None
            body += message.get("body", b"")
            if len(body) > limit:
                await _respond(send, too_large)
                return None
            if not message.get("more_body", False):
                return bytes(body)


def _head(scope: Scope) -> RequestHead:
    headers: dict[str, tuple[bytes, ...]] = {}
    for name, value in scope["headers"]:
        key = name.decode("latin-1").lower()
        headers[key] = (*headers.get(key, ()), value)
    server = scope.get("server")
    return RequestHead(
        kind=scope["type"],
        method=scope.get("method", "GET"),
        path=scope["path"],
        query_string=scope.get("query_string", b""),
        headers=headers,
        scheme=scope.get("scheme", "http"),
        server_host=str(server[0]) if server else None,
        server_port=int(server[1]) if server and server[1] is not None else None,
    )


def _replay(body: bytes, receive: Receive) -> Receive:
    """A receive that gives the buffered body once, then waits on the client (disconnect)."""
    sent = False

    async def replayed() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replayed


def _error_body(refused: Refused) -> bytes:
    return json.dumps({"error": {"type": refused.kind, "message": refused.message}}).encode()


def _raw_headers(refused: Refused, body: bytes) -> Iterable[tuple[bytes, bytes]]:
    yield b"content-type", b"application/json"
    yield b"content-length", str(len(body)).encode()
    for name, value in refused.headers:
        yield name.encode("latin-1"), value.encode("latin-1")


async def _respond(send: Send, refused: Refused, prefix: str = "http") -> None:
    body = _error_body(refused)
    await send(
        {
            "type": f"{prefix}.response.start",
            "status": refused.status,
            "headers": list(_raw_headers(refused, body)),
        }
    )
    await send({"type": f"{prefix}.response.body", "body": body})


async def _refuse_websocket(scope: Scope, receive: Receive, send: Send, refused: Refused) -> None:
    """Refuse the handshake with the HTTP status and message where the server can send
    one (the ASGI ``websocket.http.response`` extension), else close it (HTTP 403)."""
    message = await receive()
    if message["type"] != "websocket.connect":
        return
    if "websocket.http.response" in scope.get("extensions", {}):
        await _respond(send, refused, prefix="websocket.http")
    else:
        await send({"type": "websocket.close", "code": 1008, "reason": refused.message[:120]})
