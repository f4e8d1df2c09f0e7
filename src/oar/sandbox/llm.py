"""An OpenAI-compatible model stand-in for the real ``openai.AsyncOpenAI`` client.

``POST /v1/chat/completions`` answers deterministically, plain or streamed as server-sent
events (``chat.completion.chunk`` objects, then ``data: [DONE]``), so tests can check what
the assistant was sent. Behaviour rules make chosen requests slow, trickle, hang or fail —
only those whose last user message contains a marker, when a rule says so — while the
others answer normally. See docs/sandbox-slack.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from pydantic import BaseModel, Field
from starlette.types import ASGIApp, Receive, Scope, Send

from oar.sandbox.server import StandIn

_CONTROL = "/_sandbox/llm/"
_RECEIVE = "oar.sandbox.receive"  # the server's own receive, to notice a client hanging up


class Behaviour(BaseModel):
    """What to do to a request; the first rule that matches wins."""

    match: str | None = Field(
        default=None, description="Substring of the last user message; null: every request."
    )
    delay: float = Field(default=0.0, ge=0, le=600, description="Seconds before the first byte.")
    chunk_delay: float = Field(default=0.0, ge=0, le=60, description="Seconds between chunks.")
    hang: bool = Field(default=False, description="Never answer (until the client hangs up).")
    status: int | None = Field(default=None, ge=400, le=599, description="Answer this error.")
    retry_after: float | None = Field(default=None, ge=0)
    times: int | None = Field(default=None, ge=1, description="How many requests (null: all).")

    def matches(self, last_user_message: str) -> bool:
        return self.match is None or self.match in last_user_message


def answer_for(messages: Sequence[dict[str, Any]]) -> str:
    """The deterministic answer: the last user message, and how many messages came with it."""
    conversation = [m for m in messages if m.get("role") not in ("system", "developer")]
    return (
        f"Sandbox answer to: {last_user_text(messages)[:200]} "
        f"(context: {len(conversation)} messages)"
    )


def last_user_text(messages: Iterable[dict[str, Any]]) -> str:
    text = ""
    for message in messages:
        if message.get("role") == "user":
            text = content_text(message.get("content"))
    return text


def content_text(content: Any) -> str:
    """Message content as text: a string, or the text parts of a list of parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(
            str(p.get("text", ""))
            for p in content
            if isinstance(p, dict) and p.get("type") == "text"
        )
    return ""


def _error(status: int, message: str, kind: str, code: str | None) -> JSONResponse:
    return JSONResponse(
        {"error": {"message": message, "type": kind, "param": None, "code": code}},
        status_code=status,
    )


class LLMStandIn(StandIn):
    name = "llm"

    def __init__(
        self,
        *,
        api_key: str = "sandbox-llm-key",
        model: str = "sandbox-model",
        behaviours: Sequence[Behaviour | dict[str, Any]] = (),
        chunk_size: int = 12,
    ) -> None:
        self.api_key = api_key
        self.model = model
        self.chunk_size = chunk_size
        self._initial = [b if isinstance(b, Behaviour) else Behaviour(**b) for b in behaviours]
        self.behaviours: list[Behaviour] = []
        self.requests: list[dict[str, Any]] = []
        self.in_flight = 0
        self._stopping = asyncio.Event()
        super().__init__()

    def reset(self) -> None:
        self.behaviours = [b.model_copy() for b in self._initial]
        self.requests = []

    def environment(self, base_url: str) -> dict[str, str]:
        return {
            "MODEL_API_BASE": base_url,
            "MODEL_API_KEY": self.api_key,
            "MODEL_API_NAME": self.model,
        }

    def add_behaviour(self, **rule: Any) -> Behaviour:
        """Add a rule after the existing ones (``match``, ``delay``, ``hang``, ``status``…)."""
        behaviour = Behaviour(**rule)
        self.behaviours.append(behaviour)
        return behaviour

    def clear_behaviours(self) -> None:
        self.behaviours.clear()

    async def wait_for(
        self, predicate: Callable[[], Any], timeout: float = 10.0, what: str = "condition"
    ) -> Any:
        """Poll ``predicate`` until it returns something truthy (returned) or time runs out."""
        deadline = time.monotonic() + timeout
        while not (result := predicate()):
            if time.monotonic() > deadline:
                raise TimeoutError(f"llm stand-in: no {what} within {timeout}s")
            await asyncio.sleep(0.02)
        return result

    @contextlib.asynccontextmanager
    async def serving(self, port: int = 0, host: str = "127.0.0.1") -> AsyncIterator[str]:
        self._stopping = asyncio.Event()
        async with super().serving(port, host) as url:
            try:
                yield url
            finally:
                self._stopping.set()  # hanging and delayed requests give up: the server stops

    def asgi(self) -> ASGIApp:
        inner = super().asgi()

        async def keep_receive(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] == "http":
                scope[_RECEIVE] = receive
            await inner(scope, receive, send)

        return keep_receive

    def _take(self, last_user: str) -> Behaviour | None:
        for behaviour in self.behaviours:
            if behaviour.matches(last_user):
                if behaviour.times is not None:
                    behaviour.times -= 1
                    if behaviour.times <= 0:
                        self.behaviours.remove(behaviour)
                return behaviour
        return None

    async def _pause(self, seconds: float | None, request: Request) -> bool:
        """Wait ``seconds`` (None: forever); False when the client hung up or we stop."""
        waits: list[asyncio.Future[Any]] = [asyncio.ensure_future(self._stopping.wait())]
        receive: Callable[[], Awaitable[dict[str, Any]]] | None = request.scope.get(_RECEIVE)
        if receive is not None:
            waits.append(asyncio.ensure_future(_disconnected(receive)))
        try:
            done, _ = await asyncio.wait(
                waits, timeout=seconds, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            for waiting in waits:
                waiting.cancel()
        return not done

    def routes(self) -> None:
        app = self.app

        @app.get("/v1/models")
        async def models(request: Request) -> Any:
            if not self._authorized(request):
                return _bad_key()
            return {
                "object": "list",
                "data": [
                    {"id": self.model, "object": "model", "created": 0, "owned_by": "oar-sandbox"}
                ],
            }

        @app.post("/v1/chat/completions")
        async def completions(request: Request) -> Response:
            if not self._authorized(request):
                return _bad_key()
            try:
                body = json.loads(await request.body())
                messages = body["messages"]
                if not isinstance(messages, list) or not messages:
                    raise ValueError("messages must be a non-empty list")
            except (ValueError, KeyError, TypeError) as exc:
                return _error(400, f"Invalid request: {exc}", "invalid_request_error", None)
            stream = bool(body.get("stream"))
            model = str(body.get("model") or self.model)
            self.requests.append(
                {"model": model, "messages": messages, "stream": stream, "at": time.time()}
            )
            self.in_flight += 1
            try:
                return await self._complete(request, body, messages, model, stream)
            except BaseException:
                self.in_flight -= 1
                raise

        @app.post(_CONTROL + "behaviour")
        async def add(behaviour: Behaviour) -> dict[str, Any]:
            self.behaviours.append(behaviour)
            return {"ok": True, "behaviours": len(self.behaviours)}

        @app.get(_CONTROL + "behaviour")
        async def listed() -> dict[str, Any]:
            return {"behaviours": [b.model_dump() for b in self.behaviours]}

        @app.delete(_CONTROL + "behaviour")
        async def clear() -> dict[str, bool]:
            self.clear_behaviours()
            return {"ok": True}

        @app.get(_CONTROL + "requests")
        async def requests() -> dict[str, Any]:
            return {"requests": self.requests, "in_flight": self.in_flight}

    def _authorized(self, request: Request) -> bool:
        header = request.headers.get("authorization", "")
        token = header[7:].strip() if header.lower().startswith("bearer ") else ""
        return hmac.compare_digest(token.encode(), self.api_key.encode())

    async def _complete(
        self,
        request: Request,
        body: dict[str, Any],
        messages: list[dict[str, Any]],
        model: str,
        stream: bool,
    ) -> Response:
        """Apply the matching rule, then answer; ``in_flight`` drops when the answer is out."""
        rule = self._take(last_user_text(messages)) or Behaviour()
        if (rule.hang or rule.delay) and not await self._pause(
            None if rule.hang else rule.delay, request
        ):
            self.in_flight -= 1  # the client gave up (or the server stops): nobody to answer
            return Response(status_code=499)
        if rule.status is not None:
            self.in_flight -= 1
            response = _error(
                rule.status, f"Sandbox error {rule.status}", "server_error", str(rule.status)
            )
            if rule.retry_after is not None:
                response.headers["Retry-After"] = f"{rule.retry_after:g}"
            return response
        text = answer_for(messages)
        completion_id = "chatcmpl-" + uuid.uuid4().hex[:24]
        created = int(time.time())
        usage = {
            "prompt_tokens": sum(len(content_text(m.get("content")).split()) for m in messages),
            "completion_tokens": len(text.split()),
        }
        usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
        if not stream:
            self.in_flight -= 1
            return JSONResponse(
                {
                    "id": completion_id,
                    "object": "chat.completion",
                    "created": created,
                    "model": model,
                    "choices": [
                        {
                            "index": 0,
                            "message": {"role": "assistant", "content": text, "refusal": None},
                            "logprobs": None,
                            "finish_reason": "stop",
                        }
                    ],
                    "usage": usage,
                }
            )
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))

        def chunk(delta: dict[str, Any], finish: str | None) -> bytes:
            data: dict[str, Any] = {
                "id": completion_id,
                "object": "chat.completion.chunk",
                "created": created,
                "model": model,
                "choices": [
                    {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
                ],
            }
            return f"data: {json.dumps(data)}\n\n".encode()

        async def events() -> AsyncIterator[bytes]:
            try:
                yield chunk({"role": "assistant", "content": ""}, None)
                for start in range(0, len(text), self.chunk_size):
                    if rule.chunk_delay and not await self._pause(rule.chunk_delay, request):
                        return
                    yield chunk({"content": text[start : start + self.chunk_size]}, None)
                yield chunk({}, "stop")
                if include_usage:
                    tail: dict[str, Any] = {"id": completion_id, "object": "chat.completion.chunk"}
                    tail |= {"created": created, "model": model, "choices": [], "usage": usage}
                    yield f"data: {json.dumps(tail)}\n\n".encode()
                yield b"data: [DONE]\n\n"
            finally:
                self.in_flight -= 1

        return StreamingResponse(events(), media_type="text/event-stream")


async def _disconnected(receive: Callable[[], Awaitable[dict[str, Any]]]) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


def _bad_key() -> JSONResponse:
    return _error(
        401,
        "Incorrect API key provided. The sandbox key is in MODEL_API_KEY.",
        "invalid_request_error",
        "invalid_api_key",
    )
