"""Release approval against the sandbox stand-ins with the real clients.

The operator (approved now / scheduled / already scheduled) and the durable watch run in
a Service with a worker in this process; the release controller's metadata URL is made
live on demand through its control API.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from oar.db.models import NotificationRecord
from oar.errors import ReleaseNotFoundError
from oar.integrations.errata import AdvisoryState, ErrataClient, SecurityAlerts
from oar.integrations.gitlab import GitLabClient
from oar.release.approval import ApprovalOperator, ApprovalResult
from oar.release.state import ReleaseState
from oar.release.watch import Watches, WatchRequest, WatchStatus, payload_inspector
from oar.sandbox import releaseconfig, seed
from oar.sandbox.registry import Sandbox
from oar.service import Service
from oar.settings import Settings, load_settings
from tests.approval_world import RHCOS, RPM, set_metadata, states, summaries, thread_text
from tests.conftest import fast_environment


@pytest.fixture
async def sandbox() -> AsyncIterator[Sandbox]:
    async with Sandbox(base_port=0) as running:
        yield running


def make_settings(sandbox: Sandbox, database_url: str, tmp_path: Path, **extra: str) -> Settings:
    env = {
        **sandbox.environment(),
        **releaseconfig.write_config(tmp_path / "config"),
        **fast_environment(database_url, tmp_path / "data"),
        "OAR_APPROVAL_WATCH_INTERVAL": "0.3",
        "OAR_APPROVAL_WATCH_DEADLINE": "30",
        **extra,
    }
    return load_settings(environ=env)


async def poll(predicate: Any, timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = await predicate()
        if result:
            return result
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.1)


async def finished(watches: Watches, watch_id: str) -> Any:
    """The watch once it is no longer running."""

    async def done() -> Any:
        watch = await watches.get(watch_id)
        return watch if watch.status is not WatchStatus.RUNNING else None

    return await poll(done)


async def approval_task(state: ReleaseState, status: str) -> Any:
    """The release's change-advisory-status task once it shows ``status`` (else None).

    The watch records the task right after finishing its own row, so tests wait for it.
    """
    try:
        info = await state.get(seed.RELEASE)
    except ReleaseNotFoundError:  # the watch records the release with its outcome
        return None
    task = next(t for t in info.tasks if t.name == "change-advisory-status")
    return task if task.status.value == status else None


def request(settings: Settings, **kwargs: Any) -> WatchRequest:
    values: dict[str, Any] = {
        "release": seed.RELEASE,
        "y_stream": seed.Y_STREAM,
        "advisories": seed.ADVISORIES[seed.RELEASE],
        "channel": "#team-qe-release",
        "group": "4.19-qe-leads",
        "started_by": "tester",
        "interval": settings.approval_watch_interval,
        "deadline": settings.approval_watch_deadline,
        **kwargs,
    }
    return WatchRequest(**values)


async def approve(service: Service, settings: Settings, **kwargs: Any) -> Any:
    async with (
        ErrataClient.from_settings(settings) as errata,
        GitLabClient.from_settings(settings) as gitlab,
    ):
        operator = ApprovalOperator(
            release=seed.RELEASE,
            y_stream=seed.Y_STREAM,
            advisories=seed.ADVISORIES[seed.RELEASE],
            shipment_mr=seed.SHIPMENT_MR_URL,
            errata=errata,
            gitlab=gitlab,
            payloads=payload_inspector(settings),
            watches=Watches(service.db, service.tasks),
            request=request(settings, **kwargs),
        )
        return await operator.approve_release()


async def test_live_url_approves_at_once(
    sandbox: Sandbox, database_url: str, tmp_path: Path
) -> None:
    """Metadata URL live: the QE advisories move to REL_PREP now, no watch is started."""
    settings = make_settings(sandbox, database_url, tmp_path)
    await set_metadata(sandbox, live=True)
    async with Service(settings, roles=()) as service:
        approval = await approve(service, settings)
        assert approval.result is ApprovalResult.APPROVED
        assert states(sandbox) == {RPM: AdvisoryState.REL_PREP, RHCOS: AdvisoryState.REL_PREP}
        assert await Watches(service.db, service.tasks).list() == []


async def test_watch_moves_advisories_at_third_check_and_notifies(
    sandbox: Sandbox, database_url: str, tmp_path: Path
) -> None:
    """Not live: scheduled; live at the third check: moved, Pass, summary + thread log."""
    settings = make_settings(sandbox, database_url, tmp_path)
    slack = sandbox.servers["slack"]
    root = await slack.post_message(
        "#team-qe-release", seed.RELEASE_OWNER, "oar change-advisory-status"
    )  # type: ignore[attr-defined]
    async with Service(settings, roles=("worker",)) as service:
        state = ReleaseState(service.db)
        run_id = await state.start_task(
            seed.RELEASE, "change-advisory-status", actor="tester", interface="slack"
        )
        # 404 for the operator's call and the watch's first two checks: live at its third
        # (the second approve below finds the watch running and does not check the URL)
        await set_metadata(sandbox, live_after=3)
        approval = await approve(
            service,
            settings,
            slack_channel="C0QERELEAS",
            slack_thread=root,
            interface="slack",
            run_id=run_id,
        )
        assert approval.result is ApprovalResult.SCHEDULED
        assert approval.watch.id == f"approve-release:{seed.Y_STREAM}"
        again = await approve(service, settings, started_by="someone-else")
        assert again.result is ApprovalResult.ALREADY_SCHEDULED
        assert "started by tester" in again.message
        assert root in again.message
        watches = Watches(service.db, service.tasks)
        watch = await finished(watches, approval.watch.id)
        assert watch.status is WatchStatus.SUCCEEDED
        assert watch.checks == 3
        assert states(sandbox) == {RPM: AdvisoryState.REL_PREP, RHCOS: AdvisoryState.REL_PREP}
        task = await poll(lambda: approval_task(state, "Pass"))
        assert "check #3: payload metadata URL is now accessible" in (task.log or "")

        def delivered() -> Any:
            return summaries(sandbox) and len(slack.thread("C0QERELEAS", root)) > 1  # type: ignore[attr-defined]

        await poll(lambda: asyncio.sleep(0, delivered()))
        assert any(
            f"Release approval completed for {seed.RELEASE}." in text for text in summaries(sandbox)
        )
        thread = "\n".join(m["text"] for m in slack.thread("C0QERELEAS", root))  # type: ignore[attr-defined]
        assert "check #1" in thread
        assert "check #3" in thread
        assert len(await watches.list()) == 1


async def test_deadline_passes_records_fail_and_timeout_summary(
    sandbox: Sandbox, database_url: str, tmp_path: Path
) -> None:
    settings = make_settings(sandbox, database_url, tmp_path, OAR_APPROVAL_WATCH_DEADLINE="1")
    async with Service(settings, roles=("worker",)) as service:
        approval = await approve(service, settings)
        assert approval.result is ApprovalResult.SCHEDULED
        watches = Watches(service.db, service.tasks)
        watch = await finished(watches, approval.watch.id)
        assert watch.status is WatchStatus.TIMED_OUT
        assert states(sandbox) == {RPM: AdvisoryState.QE, RHCOS: AdvisoryState.QE}
        await poll(lambda: approval_task(ReleaseState(service.db), "Fail"))
        await poll(lambda: asyncio.sleep(0, summaries(sandbox)))
        assert any("Release approval timeout for 4.19.3" in t for t in summaries(sandbox))


async def test_blocking_security_alert_fails_with_the_error(
    sandbox: Sandbox, database_url: str, tmp_path: Path
) -> None:
    settings = make_settings(sandbox, database_url, tmp_path)
    errata = sandbox.servers["errata"].errata  # type: ignore[attr-defined]
    # Only RHSA advisories are checked (oar.release.secalerts): the seed's rpm one is.
    errata.alerts[RPM] = SecurityAlerts(blocking=True, alerts=("CVE-2026-0001 embargo",))
    slack = sandbox.servers["slack"]
    root = await slack.post_message(  # type: ignore[attr-defined]
        "#team-qe-release", seed.RELEASE_OWNER, "oar change-advisory-status"
    )
    async with Service(settings, roles=("worker",)) as service:
        await set_metadata(sandbox, live_after=1)
        approval = await approve(
            service, settings, slack_channel="C0QERELEAS", slack_thread=root, interface="slack"
        )
        assert approval.result is ApprovalResult.SCHEDULED
        watches = Watches(service.db, service.tasks)
        watch = await finished(watches, approval.watch.id)
        assert watch.status is WatchStatus.FAILED
        assert "blocking security alert" in (watch.error or "")
        assert states(sandbox) == {RPM: AdvisoryState.QE, RHCOS: AdvisoryState.QE}

        def failure_summary() -> bool:
            return any(
                "Release approval failed for 4.19.3. Error:" in t and "CVE-2026-0001" in t
                for t in summaries(sandbox)
            )

        await poll(lambda: asyncio.sleep(0, failure_summary()))
        await poll(
            lambda: asyncio.sleep(0, "CVE-2026-0001" in thread_text(sandbox, "C0QERELEAS", root))
        )
        thread = thread_text(sandbox, "C0QERELEAS", root)
        assert "moving the advisories failed" in thread
        assert "Release approval failed for 4.19.3. Error:" in thread


async def test_two_watches_at_the_same_instant_start_one(
    sandbox: Sandbox, database_url: str, tmp_path: Path
) -> None:
    settings = make_settings(sandbox, database_url, tmp_path, OAR_APPROVAL_WATCH_DEADLINE="600")
    async with Service(settings, roles=()) as one, Service(settings, roles=()) as two:
        results = await asyncio.gather(
            Watches(one.db, one.tasks).start(request(settings, started_by="a")),
            Watches(two.db, two.tasks).start(request(settings, started_by="b")),
        )
        assert sorted(created for _, created in results) == [False, True]
        assert {watch.id for watch, _ in results} == {f"approve-release:{seed.Y_STREAM}"}
        running = await Watches(one.db, one.tasks).list(status=WatchStatus.RUNNING)
        assert len(running) == 1


async def test_a_kernel_stop_shipped_while_the_watch_waits_fails_it(
    sandbox: Sandbox, database_url: str, tmp_path: Path
) -> None:
    settings = make_settings(sandbox, database_url, tmp_path)
    async with Service(settings, roles=("worker",)) as service:
        await set_metadata(sandbox, live_after=2)
        approval = await approve(service, settings)
        assert approval.result is ApprovalResult.SCHEDULED
        kernel = seed.RHCOS_KERNELS[seed.RELEASE]
        sandbox.servers["brew"].tags[kernel] = ["early-kernel-stop-ship"]  # type: ignore[attr-defined]
        watches = Watches(service.db, service.tasks)
        watch = await finished(watches, approval.watch.id)
        assert watch.status is WatchStatus.FAILED
        assert f"kernel {kernel}" in (watch.error or "")
        assert states(sandbox) == {RPM: AdvisoryState.QE, RHCOS: AdvisoryState.QE}


async def test_slack_down_at_the_end_loses_nothing(
    sandbox: Sandbox, database_url: str, tmp_path: Path
) -> None:
    """The summary fails after its retries: the outcome stands, the failure is recorded."""
    settings = make_settings(sandbox, database_url, tmp_path, OAR_INTEGRATION_RETRIES="1")
    slack = sandbox.servers["slack"]
    slack.add_fault(path="/api/chat.postMessage", status=503, times=None)  # type: ignore[attr-defined]
    async with Service(settings, roles=("worker",)) as service:
        await set_metadata(sandbox, live_after=1)
        approval = await approve(service, settings)
        watch = await finished(Watches(service.db, service.tasks), approval.watch.id)
        assert watch.status is WatchStatus.SUCCEEDED
        assert states(sandbox) == {RPM: AdvisoryState.REL_PREP, RHCOS: AdvisoryState.REL_PREP}
        await poll(lambda: approval_task(ReleaseState(service.db), "Pass"))

        async def recorded() -> Any:
            async with service.db.session() as session:
                rows = (await session.scalars(select(NotificationRecord))).all()
            return [r for r in rows if r.source == watch.id]

        (record,) = await poll(recorded)
        assert record.status == "failed"
        assert record.attempts == 2  # the first try and one retry
        assert "Release approval completed" in record.text
        assert len(slack.calls(path="/api/chat.postMessage")) == 2  # type: ignore[attr-defined]
