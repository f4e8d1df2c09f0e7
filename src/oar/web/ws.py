"""``/ws``: the seed-002 WebSocket protocol for approvals.

Server → client envelopes: ``{event_type, timestamp, run_id, session_id, data}`` with
``approval_requested``, ``approval_received``, ``approval_expired``,
``approval_cancelled``, ``pong`` and ``error``.

Client → server messages: ``{"type": "resolve_approval" | "approval_response",
"approval_id", "resolution" | "approved", "feedback", "modifications", "user"}``,
``{"type": "request_state"}`` and ``{"type": "ping"}``.

On connect (and on ``request_state``) the client receives every pending approval it may
see, read from the database: a refreshed page never loses a prompt. ``?run_id=`` and
``?session_id=`` narrow what a client sees. A malformed message gets an ``error`` event
and the connection stays open. With ``OAR_API_TOKEN`` set, connect with ``?token=`` or an
``Authorization: Bearer`` header.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, WebSocket, WebSocketDisconnect, status

from oar.engine.approvals import ApprovalInfo, ApprovalManager, ApprovalStatus
from oar.engine.changes import Change
from oar.errors import ApprovalNotFoundError, InvalidResolutionError, OarError
from oar.logs import get_logger
from oar.service import Service

log = get_logger(__name__)
router = APIRouter(tags=["websocket"])

_EVENTS = {
    ApprovalStatus.PENDING: "approval_requested",
    ApprovalStatus.RESOLVED: "approval_received",
    ApprovalStatus.EXPIRED: "approval_expired",
    ApprovalStatus.CANCELLED: "approval_cancelled",
}
_QUEUE_LIMIT = 1000


def envelope(event_type: str, data: dict[str, Any], info: ApprovalInfo | None = None) -> str:
    return json.dumps(
        {
            "event_type": event_type,
            "timestamp": datetime.now(UTC).isoformat(),
            "run_id": info.run_id if info else None,
            "session_id": info.session_id if info else None,
            "data": data,
        }
    )


def approval_event(info: ApprovalInfo) -> str:
    """The event that tells a client where ``info`` stands."""
    data: dict[str, Any] = {"approval_id": info.id, **info.to_dict()}
    if info.status is ApprovalStatus.PENDING:
        data["options"] = ["approved", "rejected", "modified"]
        data["description"] = info.approval_type
    return envelope(_EVENTS[info.status], data, info)


def error_event(message: str, **data: Any) -> str:
    return envelope("error", {"message": message, **data})


def parse_modifications(value: Any) -> Any:
    """A dict as is; a JSON string decoded; any other string kept as ``{"raw": …}``."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return {"raw": value}
    return value


def _authorized(websocket: WebSocket, service: Service) -> bool:
    token = service.settings.api_token
    if token is None:
        return True
    given = websocket.query_params.get("token", "")
    header = websocket.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        given = header[7:].strip()
    return hmac.compare_digest(given.encode(), token.get_secret_value().encode())


class _Client:
    """One connected client: its filters and an outbox drained by one sender."""

    def __init__(self, websocket: WebSocket, approvals: ApprovalManager) -> None:
        self.websocket = websocket
        self.approvals = approvals
        self.run_id = websocket.query_params.get("run_id")
        self.session_id = websocket.query_params.get("session_id")
        self.outbox: asyncio.Queue[str | None] = asyncio.Queue(maxsize=_QUEUE_LIMIT)
        self.overflowed = False

    def may_see(self, info: ApprovalInfo) -> bool:
        return (self.run_id is None or info.run_id == self.run_id) and (
            self.session_id is None or info.session_id == self.session_id
        )

    def send(self, text: str) -> None:
        if self.overflowed:
            return
        try:
            self.outbox.put_nowait(text)
        except asyncio.QueueFull:
            # A client this far behind cannot catch up: close it; on reconnect it gets
            # the pending approvals from the database again.
            self.overflowed = True
            log.warning("ws.client_too_slow", queued=_QUEUE_LIMIT)
            while not self.outbox.empty():
                self.outbox.get_nowait()
            self.outbox.put_nowait(None)

    async def sender(self) -> None:
        while (text := await self.outbox.get()) is not None:
            await self.websocket.send_text(text)
        await self.websocket.close(code=status.WS_1013_TRY_AGAIN_LATER)

    async def send_pending(self) -> None:
        pending = await self.approvals.list(
            status=ApprovalStatus.PENDING,
            run_id=self.run_id,
            session_id=self.session_id,
            limit=1000,
        )
        for info in reversed(pending):  # oldest first
            self.send(approval_event(info))

    async def on_change(self, change: Change) -> None:
        try:
            info = await self.approvals.get(change.id)
        except ApprovalNotFoundError:
            return
        if self.may_see(info):
            self.send(approval_event(info))

    async def handle(self, raw: str) -> None:
        try:
            message = json.loads(raw)
        except ValueError as exc:
            self.send(error_event(f"malformed JSON: {exc}"))
            return
        if not isinstance(message, dict):
            self.send(error_event("a message must be a JSON object with a 'type'"))
            return
        kind = message.get("type")
        if kind in ("resolve_approval", "approval_response"):
            await self._resolve(message)
        elif kind == "request_state":
            await self.send_pending()
        elif kind == "ping":
            self.send(envelope("pong", {}))
        else:
            self.send(
                error_event(
                    f"unknown message type {kind!r}: use resolve_approval, approval_response,"
                    " request_state or ping"
                )
            )

    async def _resolve(self, message: dict[str, Any]) -> None:
        approval_id = message.get("approval_id")
        if not isinstance(approval_id, str) or not approval_id:
            self.send(error_event("resolve_approval needs an approval_id"))
            return
        try:
            decided = await self.approvals.resolve_approval(
                approval_id,
                message.get("resolution"),
                str(message.get("feedback") or ""),
                parse_modifications(message.get("modifications")),
                approved=message.get("approved") if "resolution" not in message else None,
                resolved_by=str(message.get("user") or "websocket"),
                interface="websocket",
            )
        except InvalidResolutionError as exc:
            self.send(error_event(exc.message, approval_id=approval_id))
            return
        except OarError as exc:
            self.send(error_event(exc.message, approval_id=approval_id))
            return
        if not decided:
            try:
                info = await self.approvals.get(approval_id)
                reason = f"it is {info.status.value}"
                if info.resolution:
                    reason += f" ({info.resolution.value} by {info.resolved_by})"
            except ApprovalNotFoundError:
                reason = "no such approval"
            self.send(
                error_event(
                    f"approval {approval_id} was not resolved: {reason}", approval_id=approval_id
                )
            )


@router.websocket("/ws")
async def approvals_socket(websocket: WebSocket) -> None:
    service: Service = websocket.app.state.service
    if not _authorized(websocket, service):
        await websocket.close(
            code=status.WS_1008_POLICY_VIOLATION, reason="a valid API token is required"
        )
        return
    await websocket.accept()
    client = _Client(websocket, service.approvals)
    pending_changes: set[asyncio.Task[None]] = set()

    def on_change(change: Change) -> None:
        task = asyncio.create_task(client.on_change(change))
        pending_changes.add(task)
        task.add_done_callback(pending_changes.discard)

    unsubscribe = service.feed.subscribe("approval", on_change)
    sender = asyncio.create_task(client.sender())
    try:
        await client.send_pending()
        while True:
            await client.handle(await websocket.receive_text())
    except WebSocketDisconnect:
        pass
    finally:
        unsubscribe()
        sender.cancel()
        for task in list(pending_changes):
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await sender
