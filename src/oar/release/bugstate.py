"""The release's bug list in OAR's database (``oar_release_bugs``), for
:class:`oar.release.state.ReleaseState`.

A run's update is one transaction: lock the release's row (PostgreSQL; SQLite's write
transaction already excludes other writers), read the list, apply
:func:`oar.release.buglist.merge`, upsert the records that differ. The (release, key)
primary key is what makes a run unable to record a bug twice.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from oar.db import insert_for
from oar.db.models import ReleaseBugRecord, ReleaseRecord
from oar.release.buglist import BugListUpdate, BugRecord, merge
from oar.release.bugs import Bug, Severity, key_order


def _record(row: ReleaseBugRecord) -> BugRecord:
    flags = {
        Severity.CVE_TRACKER: row.cve_tracker,
        Severity.CRITICAL: row.critical,
        Severity.CUSTOMER_CASE: row.customer_case,
    }
    return BugRecord(
        release=row.release,
        key=row.key,
        summary=row.summary,
        status=row.status,
        qa_contact=row.qa_contact,
        assignee=row.assignee,
        priority=row.priority,
        severity=frozenset(s for s, on in flags.items() if on),
        advisories=tuple(int(a) for a in row.advisories or ()),
        shipment_files=tuple(str(p) for p in row.shipment_files or ()),
        attached=row.attached,
        new=row.new,
        first_seen=row.first_seen,
        last_changed=row.last_changed,
        detached_at=row.detached_at,
    )


def _values(record: BugRecord) -> dict[str, object]:
    return {
        "release": record.release,
        "key": record.key,
        "summary": record.summary,
        "status": record.status,
        "qa_contact": record.qa_contact,
        "assignee": record.assignee,
        "priority": record.priority,
        "cve_tracker": record.cve_tracker,
        "critical": record.critical,
        "customer_case": record.customer_case,
        "advisories": list(record.advisories),
        "shipment_files": list(record.shipment_files),
        "attached": record.attached,
        "new": record.new,
        "first_seen": record.first_seen,
        "last_changed": record.last_changed,
        "detached_at": record.detached_at,
    }


async def load(session: AsyncSession, release: str) -> list[BugRecord]:
    """The release's recorded bugs, in key order."""
    rows = (
        await session.scalars(select(ReleaseBugRecord).where(ReleaseBugRecord.release == release))
    ).all()
    return sorted((_record(r) for r in rows), key=lambda r: key_order(r.key))


async def record(
    session: AsyncSession,
    dialect: str,
    release: str,
    observed: Sequence[Bug],
    *,
    attached: Iterable[str],
    now: datetime,
) -> BugListUpdate:
    """Apply one run's observation to the release's list (the release's row must exist)."""
    await session.execute(
        select(ReleaseRecord.release).where(ReleaseRecord.release == release).with_for_update()
    )
    update = merge(
        await load(session, release), observed, attached=attached, release=release, now=now
    )
    for written in update.written:
        stmt = insert_for(dialect, ReleaseBugRecord).values(**_values(written))
        columns = {k: v for k, v in _values(written).items() if k not in ("release", "key")}
        await session.execute(
            stmt.on_conflict_do_update(index_elements=["release", "key"], set_=columns)
        )
    return update
