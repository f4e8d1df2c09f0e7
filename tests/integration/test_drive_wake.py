"""A waiting drive looks again at once when its release changes, on SQLite and PostgreSQL:
a resolved blocker and a task marked by a person wake a drive that would otherwise look
again only in an hour; a look that changes nothing wakes nobody (no drive wakes itself)."""

from __future__ import annotations

from oar.engine import LocalRun
from oar.release.checklist import TaskStatus
from oar.release.drive import DriveRequest, start_drive
from oar.release.follows import FollowInfo, Follows, FollowStatus
from oar.release.state import ReleaseState
from oar.release.versions import ReleaseVersion
from oar.service import Service
from oar.settings import Settings
from tests.waiting import eventually

HOUR = 3600.0  # the drive's interval: any look before it is a wake
WOKEN = "check now asked by a change of the release via change-feed"
TASK = "analyze-candidate-build"  # a manual task: the drive never runs a command for it


async def held_drive(service: Service, settings: Settings, release: str) -> tuple[str, int]:
    """A drive of ``release`` up to analyze-candidate-build, held by a blocker of it after
    its first look; returns the drive's ID and the blocker's."""
    state = ReleaseState(service.db)
    await state.set_task_status(
        release, "create-test-report", TaskStatus.PASS, actor="qe", interface="cli"
    )
    blocker = await state.add_issue(
        release, "the candidate's payload fails its tests", related_tasks=[TASK], actor="qe"
    )
    request = DriveRequest(
        release=ReleaseVersion.parse(release),
        until=TASK,
        email=None,
        actor="alice",
        interface="cli",
        interval=HOUR,
    )
    drive, created = await start_drive(settings, service.db, service.tasks, request)
    assert created
    await eventually(
        lambda: says(service, drive.id, f"{TASK} waits on blocker"),
        timeout=20,
        what=f"the drive of {release} to stop at the blocker",
    )
    return drive.id, blocker.id


async def says(service: Service, drive_id: str, text: str) -> FollowInfo | None:
    follow = await Follows(service.db, service.tasks).get(drive_id)
    return follow if text in "\n".join(follow.log) else None


async def waiting(service: Service, drive_id: str) -> bool:
    return await service.tasks.running_here(drive_id) is LocalRun.WAITING


def wakes(follow: FollowInfo) -> int:
    return sum(WOKEN in line for line in follow.log)


async def test_a_resolved_blocker_and_a_marked_task_wake_the_drive_at_once(
    settings: Settings,
) -> None:
    async with Service(settings, roles=("worker",)) as service:
        follows = Follows(service.db, service.tasks)
        state = ReleaseState(service.db)
        drive_id, blocker = await held_drive(service, settings, "4.19.3")
        assert (await follows.get(drive_id)).checks == 1
        await eventually(lambda: waiting(service, drive_id), what="the drive to wait")

        await state.resolve_issue("4.19.3", blocker, "the payload was fixed", actor="qe")
        resumed = await eventually(
            lambda: says(service, drive_id, f"{TASK} waits on manual"),
            timeout=20,
            what="the drive to look again after the blocker was resolved",
        )
        # The second look came from the wake, an hour before the interval's.
        assert resumed.checks == 2
        assert wakes(resumed) == 1

        await eventually(lambda: waiting(service, drive_id), what="the drive to wait again")
        await state.set_task_status(
            "4.19.3", TASK, TaskStatus.PASS, actor="qe", interface="cli", note="analysed"
        )

        async def finished() -> FollowInfo | None:
            follow = await follows.get(drive_id)
            return None if follow.status is FollowStatus.RUNNING else follow

        done = await eventually(finished, timeout=20, what="the drive to finish")
        assert done.status is FollowStatus.SUCCEEDED, done.log
        assert (done.checks, wakes(done)) == (3, 2)


async def test_a_look_that_changes_nothing_wakes_no_drive(settings: Settings) -> None:
    async with Service(settings, roles=("worker",)) as service:
        assert service.drive_waker is not None
        follows = Follows(service.db, service.tasks)
        state = ReleaseState(service.db)
        first, _ = await held_drive(service, settings, "4.19.3")
        sentinel, _ = await held_drive(service, settings, "4.18.7")
        await eventually(lambda: waiting(service, first), what="the first drive to wait")
        await eventually(lambda: waiting(service, sentinel), what="the sentinel to wait")

        # A release no drive follows changes: neither drive is woken (the count below).
        await state.add_issue("4.17.9", "an unrelated note", blocker=False, actor="qe")
        # The first drive's release changes: one wake, one look, which changes nothing.
        await state.add_issue("4.19.3", "a note on the release", blocker=False, actor="qe")
        woken = await eventually(
            lambda: says(service, first, "check #2"), timeout=20, what="the first drive's wake"
        )
        assert woken.checks == 2
        await eventually(lambda: waiting(service, first), what="the first drive to wait again")

        # Sentinel: a change of the other release, made after the woken look was recorded
        # and the drive waits again. The waker hears changes in order, so once it woke the
        # sentinel it had heard anything that look did too; the first drive was not woken.
        before = wakes(await follows.get(sentinel))
        await state.add_issue("4.18.7", "a note on the sentinel", blocker=False, actor="qe")

        async def sentinel_woken() -> bool:
            return wakes(await follows.get(sentinel)) > before

        await eventually(sentinel_woken, timeout=20, what="the sentinel's wake")
        # The waker counts a wake once the drive's log line is written: wait for the count.
        await eventually(
            lambda: service.drive_waker.woken >= 2, what="the waker to count the sentinel's wake"
        )
        again = await follows.get(first)
        assert (again.checks, wakes(again)) == (2, 1), again.log
        assert service.drive_waker.woken == 2
        for drive_id in (first, sentinel):
            await follows.cancel(drive_id, actor="test")
