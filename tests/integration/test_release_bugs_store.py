"""The release's recorded bug list on SQLite, PostgreSQL and the in-memory fake: one record
per bug however often update-bug-list runs, what changed said each time, a bug no longer
attached marked detached (never deleted)."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from oar.db import Database
from oar.errors import ReleaseNotFoundError
from oar.release.buglist import ChangeKind
from oar.release.bugs import Bug, Severity
from oar.release.state import ReleaseState
from oar.sandbox import seed
from oar.testing import reset_database
from oar.testing.release import FakeReleaseStore
from tests.conftest import require_postgres

RELEASE = seed.RELEASE
Store = ReleaseState | FakeReleaseStore


@pytest.fixture(params=["sqlite", "postgres", "fake"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    if request.param == "fake":
        yield FakeReleaseStore()
        return
    if request.param == "postgres":
        url = require_postgres()
        await reset_database(url)
    else:
        url = f"sqlite:///{tmp_path / 'oar.db'}"
    async with Database(url) as db:
        await db.upgrade()
        yield ReleaseState(db)


def bug(key: str, status: str = "ON_QA", **changes: object) -> Bug:
    base = Bug(
        key=key,
        summary=f"summary of {key}",
        status=status,
        priority="Major",
        qa_contact="qa.alice@example.com",
        assignee="dev.carol@example.com",
        advisories=(150101,),
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


FIRST = [
    bug("OCPBUGS-2", summary="CVE-2026-1 tracker", shipment_files=("ship.yaml",)),
    bug("OCPBUGS-10", "Verified", priority="Blocker", sfdc_cases_counter=1.0),
]


async def test_first_run_records_every_bug_as_new(store: Store) -> None:
    update = await store.record_bugs(RELEASE, FIRST, attached=["OCPBUGS-2", "OCPBUGS-10"])
    assert [c.kind for c in update.changes] == [ChangeKind.NEW, ChangeKind.NEW]
    records = await store.bugs(RELEASE)
    assert [r.key for r in records] == ["OCPBUGS-2", "OCPBUGS-10"]
    tracker, critical = records
    assert tracker.new
    assert tracker.attached
    assert tracker.severity == {Severity.CVE_TRACKER}
    assert tracker.sources == ("advisory 150101", "shipment ship.yaml")
    assert tracker.qa_contact == "qa.alice@example.com"
    assert critical.severity == {Severity.CRITICAL, Severity.CUSTOMER_CASE}
    assert critical.first_seen == critical.last_changed
    assert records == list(update.records)


async def test_a_second_identical_run_records_no_duplicate_and_no_change(store: Store) -> None:
    await store.record_bugs(RELEASE, FIRST, attached=["OCPBUGS-2", "OCPBUGS-10"])
    first = await store.bugs(RELEASE)
    update = await store.record_bugs(RELEASE, FIRST, attached=["OCPBUGS-2", "OCPBUGS-10"])
    assert update.changes == ()
    again = await store.bugs(RELEASE)
    assert [r.key for r in again] == ["OCPBUGS-2", "OCPBUGS-10"]
    assert [r.new for r in again] == [False, False]  # seen again: no longer new
    assert [r.last_changed for r in again] == [r.last_changed for r in first]
    assert [r.first_seen for r in again] == [r.first_seen for r in first]
    third = await store.record_bugs(RELEASE, FIRST, attached=["OCPBUGS-2", "OCPBUGS-10"])
    assert third.written == ()


async def test_status_changes_detached_and_new_bugs_are_reported(store: Store) -> None:
    await store.record_bugs(RELEASE, FIRST, attached=["OCPBUGS-2", "OCPBUGS-10"])
    second = [
        bug("OCPBUGS-2", "Verified", summary="CVE-2026-1 tracker", shipment_files=("ship.yaml",)),
        bug("OCPBUGS-11", qa_contact="qa.bob@example.com"),
    ]
    update = await store.record_bugs(RELEASE, second, attached=["OCPBUGS-2", "OCPBUGS-11"])
    assert {(c.key, c.kind) for c in update.changes} == {
        ("OCPBUGS-2", ChangeKind.STATUS),
        ("OCPBUGS-10", ChangeKind.DETACHED),
        ("OCPBUGS-11", ChangeKind.NEW),
    }
    status = update.of_kind(ChangeKind.STATUS)[0]
    assert (status.before, status.after) == ("ON_QA", "Verified")
    records = {r.key: r for r in await store.bugs(RELEASE)}
    assert set(records) == {"OCPBUGS-2", "OCPBUGS-10", "OCPBUGS-11"}  # never deleted
    assert records["OCPBUGS-10"].attached is False
    assert records["OCPBUGS-10"].detached_at is not None
    assert records["OCPBUGS-10"].sources == ("advisory 150101",)  # where it was
    assert records["OCPBUGS-2"].status == "Verified"
    assert records["OCPBUGS-11"].new is True

    back = await store.record_bugs(RELEASE, [*second, FIRST[1]], attached=["OCPBUGS-10"])
    assert [(c.key, c.kind) for c in back.changes] == [("OCPBUGS-10", ChangeKind.REATTACHED)]
    again = {r.key: r for r in await store.bugs(RELEASE)}["OCPBUGS-10"]
    assert again.attached
    assert again.new
    assert again.detached_at is None


async def test_other_field_changes_are_updates(store: Store) -> None:
    await store.record_bugs(RELEASE, FIRST, attached=["OCPBUGS-2", "OCPBUGS-10"])
    moved = [
        dataclasses.replace(FIRST[0], qa_contact="qa.bob@example.com", advisories=(150102,)),
        FIRST[1],
    ]
    update = await store.record_bugs(RELEASE, moved, attached=["OCPBUGS-2", "OCPBUGS-10"])
    assert [c.describe() for c in update.changes] == ["OCPBUGS-2: QA contact, advisories changed"]
    record = (await store.bugs(RELEASE))[0]
    assert (record.qa_contact, record.advisories) == ("qa.bob@example.com", (150102,))


async def test_a_bug_jira_hides_keeps_its_record(store: Store) -> None:
    await store.record_bugs(RELEASE, FIRST, attached=["OCPBUGS-2", "OCPBUGS-10"])
    update = await store.record_bugs(
        RELEASE, FIRST[1:], attached=["OCPBUGS-2", "OCPBUGS-10", "OCPBUGS-99"]
    )
    assert update.changes == ()
    assert update.unreadable == ("OCPBUGS-2", "OCPBUGS-99")
    records = await store.bugs(RELEASE)
    assert [r.key for r in records] == ["OCPBUGS-2", "OCPBUGS-10"]  # 99: nothing to record
    assert records[0].attached


async def test_bugs_of_an_unknown_release_is_a_clear_error(store: Store) -> None:
    with pytest.raises(ReleaseNotFoundError):
        await store.bugs("4.19.9")
    await store.record_bugs(RELEASE, [], attached=[])
    assert await store.bugs(RELEASE) == []


async def test_concurrent_runs_never_record_a_bug_twice(store: Store) -> None:
    bugs = [bug(f"OCPBUGS-{n}") for n in range(1, 9)]
    keys = [b.key for b in bugs]
    await asyncio.gather(*(store.record_bugs(RELEASE, bugs, attached=keys) for _ in range(4)))
    records = await store.bugs(RELEASE)
    assert [r.key for r in records] == keys
