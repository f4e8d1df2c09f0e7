"""The record of every delivery: the dedupe claim, the payload (stored once), our answer.

A claim whose quick handlers have not answered holds a lease. A redelivery within the
lease is told the first is still being answered; after it — the claiming process died
mid-handler, as a kill -9 or a power cut does — the redelivery takes the claim over,
once, with a compare-and-set, and answers it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, or_, select, update
from sqlalchemy.engine import Connection

from oar.db import Database, insert_for
from oar.db.models import WebhookDeliveryRecord
from oar.db.types import utcnow
from oar.errors import WebhookRequestError
from oar.github.webhooks import Delivery
from oar.jsonvalue import JSON

# Creates a delivery's tasks in the claim's transaction (synchronous: see claim()).
Enqueue = Callable[[Connection], list[str]]


@dataclass(frozen=True, kw_only=True)
class Claim:
    """The outcome of claiming a delivery ID: ours to process, or seen before."""

    new: bool
    task_ids: list[str]
    status_code: int | None = None
    response: JSON = None
    # A claim taken over from a process that never answered: its tasks exist already.
    taken_over: bool = False
    lease_expires_at: datetime | None = None


class DeliveryStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def claim(
        self,
        delivery: Delivery,
        enqueue: Enqueue,
        *,
        lease: float,
        answer: tuple[int, dict[str, JSON]] | None = None,
        task_ids: list[str] | None = None,
    ) -> Claim:
        """Record the delivery and enqueue its tasks in one transaction — or, if this
        delivery ID was seen before (a redelivery, or a concurrent duplicate), change
        nothing but the count and return what the first delivery got.

        When the answer is known up front (no handler runs before it), it is recorded in
        the same statement, so a delivery costs one transaction. Otherwise the claim holds
        a lease of ``lease`` seconds; an unanswered claim past its lease is taken over.

        The transaction runs whole on a worker thread (``Database.write_at_once``): on
        SQLite it holds the write lock only while its statements run, not while the busy
        event loop gets round to the next one, so ``enqueue`` is synchronous.
        """
        now = utcnow()
        status_code, response = answer if answer is not None else (None, None)
        expires = None if answer is not None else now + timedelta(seconds=lease)

        def claim(session: Connection) -> Claim:
            stmt = (
                insert_for(self.db.dialect, WebhookDeliveryRecord)
                .values(
                    id=delivery.delivery_id,
                    event=delivery.event,
                    action=delivery.action,
                    installation_id=delivery.installation_id,
                    hook_id=delivery.hook_id,
                    payload=delivery.payload,
                    received_at=now,
                    updated_at=now,
                    deliveries=1,
                    task_ids=task_ids or [],
                    status_code=status_code,
                    response=response,
                    claimed_at=now,
                    lease_expires_at=expires,
                )
                .on_conflict_do_nothing(index_elements=["id"])
            )
            inserted = bool(getattr(session.execute(stmt), "rowcount", 0))
            if inserted:
                created = enqueue(session)
                if created != (task_ids or []):
                    session.execute(
                        update(WebhookDeliveryRecord)
                        .where(WebhookDeliveryRecord.id == delivery.delivery_id)
                        .values(task_ids=created)
                    )
                return Claim(
                    new=True,
                    task_ids=created,
                    status_code=status_code,
                    response=response,
                    lease_expires_at=expires,
                )
            record = WebhookDeliveryRecord
            counted = {"deliveries": record.deliveries + 1, "updated_at": now}
            renewed = now + timedelta(seconds=lease)
            # Compare-and-set: of two redeliveries at once, one takes the claim over.
            # A record from before leases existed counts its lease from its arrival.
            takeover = session.execute(
                update(record)
                .where(
                    record.id == delivery.delivery_id,
                    record.status_code.is_(None),
                    or_(
                        record.lease_expires_at <= now,
                        and_(
                            record.lease_expires_at.is_(None),
                            record.received_at <= now - timedelta(seconds=lease),
                        ),
                    ),
                )
                .values(claimed_at=now, lease_expires_at=renewed, **counted)
            )
            taken = bool(getattr(takeover, "rowcount", 0))
            if not taken:
                session.execute(
                    update(record).where(record.id == delivery.delivery_id).values(**counted)
                )
            row = session.execute(
                select(
                    record.task_ids, record.status_code, record.response, record.lease_expires_at
                ).where(record.id == delivery.delivery_id)
            ).one()
            return Claim(
                new=taken,
                taken_over=taken,
                task_ids=list(row.task_ids or []),
                status_code=row.status_code,
                response=row.response,
                lease_expires_at=row.lease_expires_at,
            )

        return await self.db.write_at_once(claim)

    async def answer(self, delivery_id: str, status_code: int, response: dict[str, JSON]) -> bool:
        """Remember what we answered, to repeat it to redeliveries; the first answer
        stays (a claimer that was taken over and answers late changes nothing)."""
        async with self.db.transaction() as session:
            result = await session.execute(
                update(WebhookDeliveryRecord)
                .where(
                    WebhookDeliveryRecord.id == delivery_id,
                    WebhookDeliveryRecord.status_code.is_(None),
                )
                .values(
                    status_code=status_code,
                    response=response,
                    updated_at=utcnow(),
                )
            )
        return bool(getattr(result, "rowcount", 0))

    async def get(self, delivery_id: str) -> WebhookDeliveryRecord:
        async with self.db.session() as session:
            row = await session.get(WebhookDeliveryRecord, delivery_id)
        if row is None:
            raise WebhookRequestError(f"no delivery {delivery_id!r} was received")
        return row

    async def load(self, delivery_id: str) -> dict[str, Any]:
        """The delivery as a background task needs it."""
        row = await self.get(delivery_id)
        return {
            "event": row.event,
            "action": row.action,
            "delivery_id": row.id,
            "payload": row.payload,
            "installation_id": row.installation_id,
            "hook_id": row.hook_id,
        }
