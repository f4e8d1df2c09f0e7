"""The common machinery of every stand-in: a real HTTP server on 127.0.0.1, a journal of
the calls it received, and fault knobs (delay, hang, HTTP errors with ``Retry-After``).

A stand-in is a small stateful FastAPI app that speaks one external system's real paths
and shapes closely enough for that system's real client library. Tests, ``oarctl sandbox``
and ``oarctl demo`` run the same servers.

Control API (every stand-in):

* ``GET /_sandbox/journal`` — the calls received, oldest first; ``DELETE`` clears it;
* ``POST /_sandbox/faults`` — ``{"path": regex, "method": "POST", "status": 429,
  "retry_after": 1, "delay": 2.5, "hang": false, "times": 1}``; ``DELETE`` clears them;
* ``POST /_sandbox/reset`` — back to the seed data.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import copy
import hmac
import re
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from fastapi import FastAPI, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.types import ASGIApp, Receive, Scope, Send

from oar.logs import get_logger

log = get_logger(__name__)

_CONTROL = "/_sandbox/"


@dataclass(kw_only=True)
class Call:
    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes
    at: float = field(default_factory=time.time)

    def to_dict(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "path": self.path,
            "query": self.query,
            "headers": self.headers,
            "body": self.body.decode("utf-8", errors="replace"),
            "at": self.at,
        }


class Fault(BaseModel):
    """What to do to matching requests, instead of (or before) answering them."""

    path: str = Field(description="Regular expression matched against the request path.")
    method: str | None = None
    status: int | None = Field(default=None, ge=400, le=599)
    retry_after: float | None = Field(default=None, ge=0)
    delay: float = Field(default=0.0, ge=0, le=600)
    hang: bool = False
    times: int | None = Field(default=1, ge=1, description="How many requests (null: all).")
    body: Any = None

    def matches(self, method: str, path: str) -> bool:
        return (self.method is None or self.method.upper() == method) and bool(
            re.search(self.path, path)
        )


def basic_auth_matches(authorization: str, *, user: str, token: str) -> bool:
    """Whether an ``Authorization: Basic …`` header carries ``user`` and ``token``."""
    if not authorization.lower().startswith("basic "):
        return False
    try:
        given_user, _, given_token = base64.b64decode(authorization[6:]).decode().partition(":")
    except ValueError:
        return False
    return given_user == user and hmac.compare_digest(given_token, token)


def take_fault(faults: list[Fault], method: str, path: str) -> Fault | None:
    """The first fault matching a request, used up by one (``times``)."""
    for fault in faults:
        if fault.matches(method, path):
            if fault.times is not None:
                fault.times -= 1
                if fault.times <= 0:
                    faults.remove(fault)
            return fault
    return None


class StandIn:
    """Base class: subclasses add their routes in ``routes()`` and data in ``reset()``."""

    name = "stand-in"

    def __init__(self) -> None:
        self.journal: list[Call] = []
        self.faults: list[Fault] = []
        self.app = FastAPI(title=f"OAR sandbox: {self.name}", docs_url=None, redoc_url=None)
        self._add_control_routes()
        self.routes()
        self.reset()

    # --- for subclasses ----------------------------------------------------------------
    def routes(self) -> None:
        """Add the system's routes to ``self.app``."""

    def reset(self) -> None:
        """Restore the seed data."""

    def environment(self, base_url: str) -> dict[str, str]:
        """The variables that point OAR at this stand-in served at ``base_url``.

        ``oarctl sandbox`` prints the union of every stand-in's environment; a fresh OAR
        configured with it talks to the sandbox instead of the real systems.
        """
        return {}

    # Not the system's state: the call journal, injected faults, the web app, settings.
    SNAPSHOT_SKIPS: frozenset[str] = frozenset({"journal", "faults", "app"})

    def snapshot(self) -> dict[str, Any]:
        """The system's state as a deep copy (public attributes but the call journal, the
        faults and the app): two snapshots are equal when nothing changed it, so a test
        can prove a dry run changed nothing."""
        return {
            name: copy.deepcopy(value)
            for name, value in vars(self).items()
            if not name.startswith("_") and name not in self.SNAPSHOT_SKIPS
        }

    def fault_body(self, status: int) -> Any:
        """The body of an injected error without its own: subclasses answer in their API's
        error shape, which some client libraries parse."""
        return {"error": f"injected {status}"}

    # --- journal and faults ------------------------------------------------------------
    def calls(self, path: str | None = None, method: str | None = None) -> list[Call]:
        return [
            c
            for c in self.journal
            if (path is None or re.search(path, c.path))
            and (method is None or c.method == method.upper())
        ]

    def add_fault(self, **fault: Any) -> None:
        self.faults.append(Fault(**fault))

    def _take_fault(self, method: str, path: str) -> Fault | None:
        return take_fault(self.faults, method, path)

    def _add_control_routes(self) -> None:
        app = self.app

        @app.get(_CONTROL + "journal")
        async def journal() -> dict[str, Any]:
            return {"calls": [c.to_dict() for c in self.journal]}

        @app.delete(_CONTROL + "journal")
        async def clear_journal() -> dict[str, bool]:
            self.journal.clear()
            return {"ok": True}

        @app.post(_CONTROL + "faults")
        async def add_fault(fault: Fault) -> dict[str, bool]:
            self.faults.append(fault)
            return {"ok": True}

        @app.delete(_CONTROL + "faults")
        async def clear_faults() -> dict[str, bool]:
            self.faults.clear()
            return {"ok": True}

        @app.post(_CONTROL + "reset")
        async def reset() -> dict[str, bool]:
            self.journal.clear()
            self.faults.clear()
            self.reset()
            return {"ok": True}

    # --- serving ----------------------------------------------------------------------------
    def asgi(self) -> ASGIApp:
        """The app wrapped with the journal and fault injection."""
        return _JournalAndFaults(self.app, self)

    @contextlib.asynccontextmanager
    async def serving(self, port: int = 0, host: str = "127.0.0.1") -> AsyncIterator[str]:
        """Serve on ``host:port`` (0: any free port) in this loop; yield the base URL."""
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            sock.close()
            raise
        config = uvicorn.Config(
            self.asgi(),
            log_config=None,
            access_log=False,
            lifespan="off",
            # A request held by a ``hang`` fault never ends by itself: cancel it on
            # shutdown instead of leaving its connection open.
            timeout_graceful_shutdown=1,
        )
        server = _QuietServer(config)
        task = asyncio.create_task(server.serve(sockets=[sock]), name=f"sandbox-{self.name}")
        while not server.started:
            if task.done():
                task.result()
            await asyncio.sleep(0.01)
        bound_port = sock.getsockname()[1]
        try:
            yield f"http://{host}:{bound_port}"
        finally:
            server.should_exit = True
            with contextlib.suppress(Exception):
                async with asyncio.timeout(5):
                    await task
            sock.close()


class _QuietServer(uvicorn.Server):
    """A server that leaves the process's signal handlers alone (it runs inside tests)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class _JournalAndFaults:
    """Pure ASGI middleware (no BaseHTTPMiddleware): record, then maybe misbehave."""

    def __init__(self, app: ASGIApp, stand_in: StandIn) -> None:
        self.app = app
        self.stand_in = stand_in

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope["path"].startswith(_CONTROL):
            await self.app(control_scope(scope), receive, send)
            return
        body = bytearray()
        more = True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        method, path = scope["method"], scope["path"]
        self.stand_in.journal.append(
            Call(
                method=method,
                path=path,
                query=scope.get("query_string", b"").decode(),
                headers={k.decode().lower(): v.decode() for k, v in scope["headers"]},
                body=bytes(body),
            )
        )
        fault = self.stand_in._take_fault(method, path)
        if fault is not None:
            if fault.hang:
                # Never answers; the client's timeout must fire. Once it gives up and closes
                # the connection the request ends, so the server can stop without waiting.
                while (await receive())["type"] != "http.disconnect":
                    pass
                return
            if fault.delay:
                await asyncio.sleep(fault.delay)
            if fault.status is not None:
                headers = {}
                if fault.retry_after is not None:
                    headers["Retry-After"] = f"{fault.retry_after:g}"
                content = (
                    fault.body if fault.body is not None else self.stand_in.fault_body(fault.status)
                )
                response: Response = JSONResponse(
                    content, status_code=fault.status, headers=headers
                )
                await response(scope, _replay(bytes(body)), send)
                return
        await self.app(scope, _replay(bytes(body)), send)


def control_scope(scope: Scope) -> Scope:
    """The control API speaks JSON only: a body sent without a JSON content type (``curl
    -d '{"live": true}'`` sends ``application/x-www-form-urlencoded``) is read as JSON."""
    headers = [(k, v) for k, v in scope["headers"] if k.lower() != b"content-type"]
    given = dict(scope["headers"]).get(b"content-type", b"")
    if b"json" in given.lower():
        return scope
    return {**scope, "headers": [*headers, (b"content-type", b"application/json")]}


def _replay(body: bytes) -> Callable[[], Awaitable[dict[str, Any]]]:
    sent = False

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        await asyncio.Event().wait()  # the client will not send more; wait for disconnect
        return {"type": "http.disconnect"}

    return receive
