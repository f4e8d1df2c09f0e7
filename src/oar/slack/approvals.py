"""Approval requests in Slack: announced with Approve / Reject buttons; a click resolves
through the approval manager (allowed users only, idempotent), and the message then shows
the outcome and who decided — also when the approval was decided elsewhere or expired.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any

from oar.engine.approvals import ANNOUNCING, ApprovalInfo, ApprovalManager, ApprovalStatus
from oar.engine.changes import Change, ChangeFeed
from oar.errors import ApprovalNotFoundError
from oar.integrations.slack import SlackNotifier
from oar.logs import get_logger
from oar.slack.access import AccessPolicy, Asker

log = get_logger(__name__)

APPROVE = "oar_approval_approve"
REJECT = "oar_approval_reject"
_CONTEXT_LIMIT = 2500


def request_blocks(info: ApprovalInfo) -> list[dict[str, Any]]:
    """The request as Block Kit: what is asked, until when, and the two buttons. Pure."""
    context = json.dumps(info.context, indent=2, sort_keys=True, default=str)
    if len(context) > _CONTEXT_LIMIT:
        context = context[:_CONTEXT_LIMIT] + "\n…"
    asked = [] if (message := request_message(info)) is None else [_section(message)]
    return [
        {
            "type": "section",
            "text": {
                "type": "mrkdwn",
                "text": f"*Approval requested:* `{info.approval_type}` for `{info.run_id}`\n"
                f"Requested by {info.requested_by}; expires"
                f" <!date^{int(info.expires_at.timestamp())}^{{date_short_pretty}}"
                f" {{time}}|{info.expires_at.isoformat()}>.",
            },
        },
        *asked,
        {"type": "section", "text": {"type": "mrkdwn", "text": f"```{context}```"}},
        {
            "type": "actions",
            "block_id": f"approval:{info.id}",
            "elements": [
                {
                    "type": "button",
                    "action_id": APPROVE,
                    "style": "primary",
                    "text": {"type": "plain_text", "text": "Approve"},
                    "value": info.id,
                },
                {
                    "type": "button",
                    "action_id": REJECT,
                    "style": "danger",
                    "text": {"type": "plain_text", "text": "Reject"},
                    "value": info.id,
                },
            ],
        },
    ]


def request_message(info: ApprovalInfo) -> str | None:
    """The question in people's words, when the requester gave one: the context's
    ``message`` (Slack mrkdwn, so a ``<@U…>`` mention notifies the person asked). Pure."""
    context = info.context
    message = context.get("message") if isinstance(context, dict) else None
    return message[:_CONTEXT_LIMIT] if isinstance(message, str) and message.strip() else None


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def outcome_text(info: ApprovalInfo) -> str:
    """One line saying how the approval ended. Pure."""
    subject = f"`{info.approval_type}` for `{info.run_id}`"
    if info.status is ApprovalStatus.RESOLVED and info.resolution is not None:
        icon = "✅" if info.resolution.approved else "❌"
        who = _who(info.resolved_by)
        return f"{icon} Approval {subject}: *{info.resolution.value}* by {who}."
    if info.status is ApprovalStatus.EXPIRED:
        return f"⌛ Approval {subject} expired: nobody decided in time."
    if info.status is ApprovalStatus.CANCELLED:
        return f"🚫 Approval {subject} was cancelled."
    return f"Approval {subject} is {info.status.value}."


def outcome_blocks(info: ApprovalInfo) -> list[dict[str, Any]]:
    """The request's message after the decision: no buttons any more. Pure."""
    blocks = [b for b in request_blocks(info) if b["type"] != "actions"]
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": outcome_text(info)}]})
    return blocks


def _who(resolved_by: str | None) -> str:
    if resolved_by and resolved_by.startswith("slack:"):
        return f"<@{resolved_by.removeprefix('slack:')}>"
    return resolved_by or "someone"


class SlackApprovals:
    """Announces approvals and handles button clicks; runs in the bot process."""

    def __init__(
        self,
        *,
        approvals: ApprovalManager,
        feed: ChangeFeed,
        notifier: SlackNotifier,
        access: AccessPolicy,
        default_channel: str | None,
        catch_up_interval: float = 30.0,
    ) -> None:
        self.approvals = approvals
        self.feed = feed
        self.notifier = notifier
        self.access = access
        self.default_channel = default_channel
        self.catch_up_interval = catch_up_interval
        self._unsubscribe: Any = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._loop_task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._unsubscribe = self.feed.subscribe("approval", self._on_change)
        self._loop_task = asyncio.create_task(self._catch_up_loop(), name="slack-approvals")

    async def stop(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
        tasks = [*self._tasks, *([self._loop_task] if self._loop_task else [])]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    def _on_change(self, change: Change) -> None:
        task = asyncio.create_task(self._changed(change.id, change.status))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _catch_up_loop(self) -> None:
        """Announce what was requested while no bot was running (and as a safety net)."""
        while True:
            try:
                for approval_id in await self.approvals.unannounced(
                    default_channel=self.default_channel
                ):
                    await self.announce(approval_id)
            except Exception as exc:  # keep the loop alive; the next round retries
                log.warning("slack.approvals_catch_up_failed", error=type(exc).__name__)
            await asyncio.sleep(self.catch_up_interval)

    async def _changed(self, approval_id: str, status: str) -> None:
        if status == ApprovalStatus.PENDING.value:
            await self.announce(approval_id)
        else:
            await self.show_outcome(approval_id)

    async def announce(self, approval_id: str) -> None:
        try:
            info = await self.approvals.get(approval_id)
        except ApprovalNotFoundError:
            return
        channel = info.announce_channel or self.default_channel
        if channel is None or info.status is not ApprovalStatus.PENDING:
            return
        if not await self.approvals.claim_announcement(approval_id, channel=channel):
            return  # another process announces it
        delivery = await self.notifier.post(
            channel,
            request_message(info) or f"Approval requested: {info.approval_type} for {info.run_id}",
            thread_ts=info.announce_thread,
            blocks=request_blocks(info),
            kind="approval",
            source=f"approval:{approval_id}",
        )
        if delivery.ok and delivery.ts:
            await self.approvals.set_announcement(
                approval_id, channel=delivery.channel, ts=delivery.ts
            )
            log.info("slack.approval_announced", approval_id=approval_id, channel=channel)
            # It may have been decided while we were posting.
            await self.show_outcome(approval_id)

    async def show_outcome(self, approval_id: str) -> None:
        try:
            info = await self.approvals.get(approval_id)
        except ApprovalNotFoundError:
            return
        if info.status is ApprovalStatus.PENDING:
            return
        if info.announce_channel and info.announce_ts and info.announce_ts != ANNOUNCING:
            await self.notifier.update(
                info.announce_channel,
                info.announce_ts,
                outcome_text(info),
                blocks=outcome_blocks(info),
            )

    async def click(self, *, approval_id: str, action_id: str, user: str, asker: Asker) -> bool:
        """A button click: resolve (if allowed and still pending); always refresh the
        message. True when this click decided the approval."""
        try:
            info = await self.approvals.get(approval_id)
        except ApprovalNotFoundError:
            log.warning("slack.approval_click_unknown", approval_id=approval_id)
            return False
        decision = self.access.decide(f"approve {info.approval_type}", asker)
        if not decision.allowed:
            if info.announce_channel:
                await self.notifier.post(
                    info.announce_channel,
                    f"🚫 <@{user}>: {decision.reason}.",
                    thread_ts=info.announce_thread or info.announce_ts,
                    kind="denied",
                )
            return False
        resolution = "approved" if action_id == APPROVE else "rejected"
        decided = await self.approvals.resolve_approval(
            approval_id, resolution, resolved_by=f"slack:{user}", interface="slack"
        )
        await self.show_outcome(approval_id)
        return decided
