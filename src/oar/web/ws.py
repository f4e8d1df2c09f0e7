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
and the connection stays open. Who may connect is the access middleware's decision
(:mod:`oar.web.access`); a resolution is recorded as made by the identity the connection
authenticated as, and the message's ``user`` is kept in the audit log as ``on_behalf_of``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, WebSocket, WebSocketDisconnect, status

from oar.engine.approvals import ApprovalInfo, ApprovalManager, ApprovalStatus
from oar.engine.changes import Change
from oar.errors import ApprovalNotFoundError, OarError
from oar.jsonvalue import json_problem
from oar.logs import get_logger
from oar.service import Service
from oar.web.auth import identity_of

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
        except (ValueError, RecursionError):
            return {"raw": value}
    return value


# The same bounds as the HTTP API's (oar.web.approvals): a message over them gets an
# error event before anything reaches the database.
_LIMITS = {"approval_id": 200, "user": 200, "feedback": 10_000}


def message_problem(message: dict[str, Any]) -> str | None:
    """Why a client message cannot be acted on (naming the field), or ``None``."""
    if problem := json_problem(message, "message"):
        return problem
    for name, limit in _LIMITS.items():
        value = message.get(name)
        if value is not None and not isinstance(value, str):
            return f"{name} must be a string"
        if isinstance(value, str) and len(value) > limit:
            return f"{name} is longer than {limit} characters"
    return None


class _Client:
    """One connected client: its filters and an outbox drained by one sender."""

    def __init__(self, websocket: WebSocket, approvals: ApprovalManager, identity: str) -> None:
        self.websocket = websocket
        self.approvals = approvals
        self.identity = identity
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
        except RecursionError:
            self.send(error_event("malformed JSON: it nests too deeply"))
            return
        if not isinstance(message, dict):
            self.send(error_event("a message must be a JSON object with a 'type'"))
            return
        if problem := message_problem(message):
            self.send(error_event(problem))
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
                message.get("feedback") or "",
                parse_modifications(message.get("modifications")),
                approved=message.get("approved") if "resolution" not in message else None,
                resolved_by=self.identity,
                on_behalf_of=message.get("user"),
                interface="websocket",
            )
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
    await websocket.accept()
    client = _Client(websocket, service.approvals, identity_of(websocket))
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
            raw = await websocket.receive_text()
            try:
                await client.handle(raw)
            except Exception:
                # One message must not end the connection (or hide why): log it, tell the
                # client, keep serving.
                log.exception("ws.message_failed")
                client.send(error_event("the server failed to handle this message (logged)"))
    except WebSocketDisconnect:
        pass
    finally:
        unsubscribe()
        sender.cancel()
        for task in list(pending_changes):
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await sender
