"""``oar -r X change-advisory-status`` as a release engineer runs it: a real process that
returns at once, a detached worker it starts when none is alive, kill -9 of that worker
between two checks, and two invocations at the same instant. Every external system is a
sandbox stand-in in this test's event loop, reached by the real clients."""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from oar.cli.oarctl import programs
from oar.integrations.errata import AdvisoryState
from oar.release.checklist import TaskStatus
from oar.release.state import ReleaseState
from oar.release.watch import Watches, WatchInfo, WatchStatus, watch_key
from oar.sandbox import releaseconfig, seed
from oar.sandbox.registry import Sandbox
from oar.sandbox.server import Fault
from oar.sandbox.slack import SlackStandIn
from oar.service import Service
from oar.settings import load_settings
from tests.acceptance.conftest import kill9, oar, wait_for
from tests.approval_world import (
    COMPLETED,
    RHCOS,
    RPM,
    set_metadata,
    states,
    summaries,
    thread_text,
)

WATCH = watch_key(seed.Y_STREAM)
_PID = re.compile(r"\(pid (\d+),")
LEAD = "U0LEAD0001"  # a QE lead of 4.19 in the Slack stand-in
LEAD_NAME = "mlead"  # their Slack display name


@pytest.fixture
async def sandbox() -> AsyncIterator[Sandbox]:
    async with Sandbox(base_port=0) as running:
        yield running


@pytest.fixture
async def env(
    sandbox: Sandbox, subprocess_env: dict[str, str], tmp_path: Path
) -> AsyncIterator[dict[str, str]]:
    """The CLI's environment; afterwards every worker it started is stopped."""
    yield {
        **subprocess_env,
        **sandbox.environment(),
        **releaseconfig.write_config(tmp_path / "config"),
        "OAR_APPROVAL_WATCH_INTERVAL": "1",
        "OAR_APPROVAL_WATCH_DEADLINE": "120",
        "OAR_LOG_LEVEL": "INFO",
    }
    # Every background worker the commands started, registered yet or not (one still
    # starting would otherwise claim the executor ID of the next test).
    for pid in background_workers(subprocess_env["OAR_DATABASE_URL"]):
        with contextlib.suppress(ProcessLookupError):
            kill9(pid)


def background_workers(database_url: str) -> list[int]:
    """The ``python -m oar.cli.oarctl worker`` processes on ``database_url``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
            if b"oar.cli.oarctl" not in argv:
                continue
            environ = (entry / "environ").read_bytes().split(b"\0")
        except OSError:  # gone meanwhile, or not ours to read
            continue
        if f"OAR_DATABASE_URL={database_url}".encode() in environ:
            found.append(int(entry.name))
    return found


async def passed(client: Service, count: int) -> bool:
    """The watch records its outcome on the runs right after its own row: wait for them."""
    return [r.status for r in await runs(client)] == [TaskStatus.PASS] * count


def started_worker(stdout: str) -> int:
    match = _PID.search(stdout)
    assert match, f"no background worker started:\n{stdout}"
    return int(match[1])


async def finished(client: Service) -> WatchInfo:
    watches = Watches(client.db, client.tasks)

    async def done() -> bool:
        return (await watches.get(WATCH)).status is not WatchStatus.RUNNING

    await wait_for(done, timeout=90, what=f"watch {WATCH} to finish")
    return await watches.get(WATCH)


async def runs(client: Service) -> list[Any]:
    return await ReleaseState(client.db).runs(seed.RELEASE, task="change-advisory-status")


async def test_scheduled_from_the_cli_finishes_in_a_detached_worker_after_the_cli_exits(
    env: dict[str, str], sandbox: Sandbox, client: Service
) -> None:
    await set_metadata(sandbox, live_after=3)  # the command's check, then watch checks 1 and 2

    code, stdout, stderr = await oar("-r", seed.RELEASE, "change-advisory-status", env=env)

    assert code == 0, stderr
    assert f"scheduled: payload metadata URL of {seed.Y_STREAM} not live yet" in stdout
    assert "started a background worker" in stdout
    assert started_worker(stdout) in background_workers(env["OAR_DATABASE_URL"])
    gitlab = sandbox.servers["gitlab"].gitlab  # type: ignore[attr-defined]
    assert await gitlab.approved_by(seed.SHIPMENT_PROJECT, seed.SHIPMENT_MR_IID)
    (run,) = await runs(client)
    assert run.status is TaskStatus.IN_PROGRESS  # the CLI is gone; the watch holds the task

    watch = await finished(client)

    assert watch.status is WatchStatus.SUCCEEDED
    assert watch.checks == 3
    assert states(sandbox) == {RPM: AdvisoryState.REL_PREP, RHCOS: AdvisoryState.REL_PREP}
    await wait_for(lambda: passed(client, 1), timeout=30, what="the run to pass")
    (run,) = await runs(client)
    assert "check #3: payload metadata URL is now accessible" in (run.log or "")
    await wait_for(lambda: summaries(sandbox), timeout=30, what="the channel summary")
    assert any(COMPLETED in text for text in summaries(sandbox))

    code, stdout, _ = await oar("watches", "list", env=env, program="oarctl")
    assert code == 0
    assert WATCH in stdout
    assert "succeeded" in stdout


async def test_a_worker_killed_between_checks_is_restarted_and_the_watch_completes_once(
    env: dict[str, str], sandbox: Sandbox, client: Service
) -> None:
    await set_metadata(sandbox, live=False)
    code, stdout, stderr = await oar("-r", seed.RELEASE, "change-advisory-status", env=env)
    assert code == 0, stderr
    first_worker = started_worker(stdout)
    watches = Watches(client.db, client.tasks)

    async def checked_once() -> bool:
        return (await watches.get(WATCH)).checks >= 1

    await wait_for(checked_once, timeout=60, what="the watch's first check")
    before = await watches.get(WATCH)
    kill9(first_worker)  # between check 1 and check 2 (1 s apart)
    await set_metadata(sandbox, live=True)
    code, stdout, _ = await oar("watches", "show", WATCH, env=env, program="oarctl")
    assert code == 0
    engine = client.engine.client
    # The watch's workflow is held by the dead executor (or, once the engine put it back
    # in its queue, waits there): either way nothing alive runs it.
    assert re.search(r"executor: (test-executor \(NOT alive|none yet .* 0 live)", stdout), (
        stdout,
        [(w.workflow_id, w.status, w.executor_id) for w in await engine.list_workflows_async()],
        await client.engine.alive_workers(),
    )

    # The engineer runs the command again: the watch is still there, and the worker that
    # holds it is dead, so the command starts one with that executor ID, which resumes it.
    code, stdout, stderr = await oar("-r", seed.RELEASE, "change-advisory-status", env=env)
    assert code == 0, stderr
    assert "already scheduled: watch" in stdout
    assert "started by" in stdout
    assert started_worker(stdout) != first_worker

    watch = await finished(client)

    assert watch.status is WatchStatus.SUCCEEDED
    assert watch.deadline_at == before.deadline_at
    assert watch.started_at == before.started_at
    log = "\n".join(watch.log)
    assert log.count("watch started for") == 1
    assert log.count("check #1:") == 1
    assert "is now accessible" in log
    assert len(await watches.list()) == 1
    # Both runs, the one that started the watch and the one that joined it, pass with it.
    await wait_for(lambda: passed(client, 2), timeout=30, what="both runs to pass")
    await wait_for(lambda: summaries(sandbox), timeout=30, what="the channel summary")
    await asyncio.sleep(1)  # a second summary, if one were coming, would be here by now
    assert sum(COMPLETED in text for text in summaries(sandbox)) == 1


async def test_two_invocations_at_the_same_instant_start_one_watch(
    env: dict[str, str], sandbox: Sandbox, client: Service
) -> None:
    await set_metadata(sandbox, live=False)

    results = await asyncio.gather(
        oar("-r", seed.RELEASE, "change-advisory-status", env=env),
        oar("-r", seed.RELEASE, "change-advisory-status", env=env),
    )

    assert [code for code, _, _ in results] == [0, 0], results
    outputs = sorted(stdout.splitlines()[0].split(":")[0] for _, stdout, _ in results)
    assert outputs == ["already scheduled", "scheduled"]
    watches = Watches(client.db, client.tasks)
    (watch,) = await watches.list()
    assert watch.status is WatchStatus.RUNNING
    assert len(watch.joined_runs) == 1

    code, _, stderr = await oar("watches", "cancel", WATCH, env=env, program="oarctl")
    assert code == 0, stderr
    assert (await watches.get(WATCH)).status is WatchStatus.CANCELLED
    assert [r.status for r in await runs(client)] == [TaskStatus.CANCELLED, TaskStatus.CANCELLED]
    assert states(sandbox) == {RPM: AdvisoryState.QE, RHCOS: AdvisoryState.QE}


@contextlib.asynccontextmanager
async def bot_service(
    sandbox: Sandbox, environ: dict[str, str]
) -> AsyncIterator[tuple[Service, SlackStandIn]]:
    """The service as `oarctl serve` runs it with the Slack tokens set: worker and bot."""
    slack: SlackStandIn = sandbox.servers["slack"]  # type: ignore[assignment]
    connected = slack.connections
    async with Service(
        load_settings(environ=environ), roles={"worker", "bot"}, programs=programs()
    ) as service:
        assert service.bot is not None
        service.bot.runner.environ.update(environ)  # what the bot's own environment holds
        await slack.wait_for(lambda: slack.connections > connected, 10, "socket connection")
        yield service, slack


async def test_from_a_slack_thread_scheduled_at_once_and_completed_in_the_thread_across_a_restart(
    sandbox: Sandbox, env: dict[str, str]
) -> None:
    await set_metadata(sandbox, live=False)
    channel = seed.SLACK_CHANNELS["team-qe-release"]
    command = f"oar -r {seed.RELEASE} change-advisory-status"

    async with bot_service(sandbox, env) as (_, slack):
        root = await slack.post_message(channel, LEAD, command)

        def scheduled() -> bool:
            return "scheduled: payload metadata URL" in thread_text(sandbox, channel, root)

        await slack.wait_for(scheduled, 60, "the scheduled reply in the thread")
        await slack.wait_for(
            lambda: "finished" in thread_text(sandbox, channel, root), 30, "the command's end"
        )
        # Who started it is the Slack person (the lead's Slack name), not the bot's Unix user.
        shown = await slack.post_message(channel, LEAD, f"oarctl watches show {WATCH}")
        await slack.wait_for(
            lambda: f"started by {LEAD_NAME} via slack" in thread_text(sandbox, channel, shown),
            60,
            "the watch, shown in Slack",
        )
    # The service stops (a deploy, a crash) while the watch waits; the URL goes live.
    await set_metadata(sandbox, live=True)

    async with bot_service(sandbox, env) as (service, slack):

        def completed() -> bool:
            return COMPLETED in thread_text(sandbox, channel, root)

        await slack.wait_for(completed, 60, "the completion in the same thread")
        thread = thread_text(sandbox, channel, root)
        assert "check #1: payload metadata URL still not accessible" in thread
        assert "payload metadata URL is now accessible" in thread
        assert "moved to REL_PREP" in thread
        assert any(COMPLETED in text for text in summaries(sandbox))
        watch = await Watches(service.db, service.tasks).get(WATCH)
        assert watch.status is WatchStatus.SUCCEEDED
        assert (watch.slack_channel, watch.slack_thread) == (channel, root)
        assert states(sandbox) == {RPM: AdvisoryState.REL_PREP, RHCOS: AdvisoryState.REL_PREP}
        assert (watch.started_by, watch.interface) == (LEAD_NAME, "slack")
        (run,) = await ReleaseState(service.db).runs(seed.RELEASE, task="change-advisory-status")
        assert (run.actor, run.interface, run.slack_thread) == (LEAD_NAME, "slack", root)


async def test_the_errata_flow_approves_at_once_without_a_metadata_check(
    env: dict[str, str], sandbox: Sandbox, client: Service
) -> None:
    advisories = seed.ADVISORIES[seed.ERRATA_RELEASE]
    controller = sandbox.servers["release-controller"]

    code, stdout, stderr = await oar("-r", seed.ERRATA_RELEASE, "change-advisory-status", env=env)

    assert code == 0, stderr
    assert stdout.startswith("release approved; moved to REL_PREP:")
    errata = sandbox.servers["errata"].errata  # type: ignore[attr-defined]
    moved = {i for i in advisories.values() if errata.advisories[i].state is AdvisoryState.REL_PREP}
    assert moved == set(advisories.values()) - {advisories["microshift"]}
    assert controller.calls() == []  # type: ignore[attr-defined]
    assert await Watches(client.db, client.tasks).list() == []
    (run,) = await ReleaseState(client.db).runs(seed.ERRATA_RELEASE, task="change-advisory-status")
    assert run.status is TaskStatus.PASS


async def test_a_refused_advisory_move_is_one_clear_message_and_a_fail(
    env: dict[str, str], sandbox: Sandbox, client: Service
) -> None:
    await set_metadata(sandbox, live=True)
    errata = sandbox.servers["errata"]
    errata.faults.append(  # type: ignore[attr-defined]
        Fault(path="change_state", method="POST", status=401, times=None)
    )

    code, _, stderr = await oar("-r", seed.RELEASE, "change-advisory-status", env=env)

    assert code == 1
    assert "ERRATA_TOKEN" in stderr
    assert "recorded as Fail for change-advisory-status" in stderr
    assert "Traceback" not in stderr
    (run,) = await runs(client)
    assert run.status is TaskStatus.FAIL
    assert states(sandbox) == {RPM: AdvisoryState.QE, RHCOS: AdvisoryState.QE}


async def test_a_wrong_jira_token_fails_before_anything_changes(
    env: dict[str, str], sandbox: Sandbox, client: Service
) -> None:
    """JIRA_TOKEN is only used at the end (closing the QE subtasks); a wrong one must still
    stop the command before the MR is approved or an advisory moves."""
    await set_metadata(sandbox, live=True)

    code, _, stderr = await oar(
        "-r", seed.RELEASE, "change-advisory-status", env={**env, "JIRA_TOKEN": "wrong-token"}
    )

    assert code == 2, stderr
    assert "JIRA_TOKEN" in stderr
    assert "changed nothing" in stderr
    assert "Traceback" not in stderr
    assert states(sandbox) == {RPM: AdvisoryState.QE, RHCOS: AdvisoryState.QE}
    gitlab = sandbox.servers["gitlab"].gitlab  # type: ignore[attr-defined]
    assert await gitlab.approved_by(seed.SHIPMENT_PROJECT, seed.SHIPMENT_MR_IID) == []
    (run,) = await runs(client)
    assert run.status is TaskStatus.FAIL


async def test_a_later_failure_says_what_had_already_been_done(
    env: dict[str, str], sandbox: Sandbox, client: Service
) -> None:
    """The advisories move, then closing a QE subtask is refused: the message says both."""
    sandbox.servers["jira"].faults.append(  # type: ignore[attr-defined]
        Fault(path="/transitions$", method="POST", status=403, times=None)
    )

    code, _, stderr = await oar("-r", seed.ERRATA_RELEASE, "change-advisory-status", env=env)

    assert code == 1, stderr
    assert "JIRA_TOKEN" in stderr
    said = " ".join(stderr.split())  # the console may wrap long lines
    advisories = seed.ADVISORIES[seed.ERRATA_RELEASE]
    for impetus, advisory_id in advisories.items():
        moved = f"moved advisory {advisory_id} ({impetus}) to REL_PREP"
        assert (moved in said) is (impetus != "microshift"), said
    assert "had already" in said
    (run,) = await ReleaseState(client.db).runs(seed.ERRATA_RELEASE, task="change-advisory-status")
    assert run.status is TaskStatus.FAIL
    assert "moved advisory" in (run.log or "")


async def test_a_stop_ship_kernel_refuses_before_anything_changes(
    env: dict[str, str], sandbox: Sandbox, client: Service
) -> None:
    await set_metadata(sandbox, live=True)
    kernel = seed.RHCOS_KERNELS[seed.RELEASE]
    brew = sandbox.servers["brew"]
    brew.tags[kernel] = ["early-kernel-stop-ship"]  # type: ignore[attr-defined]

    code, _, stderr = await oar("-r", seed.RELEASE, "change-advisory-status", env=env)

    assert code == 1
    assert f"kernel {kernel} in {seed.rhcos_build(seed.RELEASE)}" in stderr
    assert "is tagged early-kernel-stop-ship" in stderr
    (run,) = await runs(client)
    assert run.status is TaskStatus.FAIL
    assert states(sandbox) == {RPM: AdvisoryState.QE, RHCOS: AdvisoryState.QE}
    gitlab = sandbox.servers["gitlab"].gitlab  # type: ignore[attr-defined]
    assert await gitlab.approved_by(seed.SHIPMENT_PROJECT, seed.SHIPMENT_MR_IID) == []


async def test_a_live_url_approves_at_once_with_pass_and_the_summary(
    env: dict[str, str], sandbox: Sandbox, client: Service
) -> None:
    await set_metadata(sandbox, live=True)

    code, stdout, stderr = await oar("-r", seed.RELEASE, "change-advisory-status", env=env)

    assert code == 0, stderr
    assert stdout.startswith(f"payload metadata URL of {seed.Y_STREAM} is live; moved to REL_PREP")
    assert "background worker" not in stdout
    assert states(sandbox) == {RPM: AdvisoryState.REL_PREP, RHCOS: AdvisoryState.REL_PREP}
    (run,) = await runs(client)
    assert run.status is TaskStatus.PASS
    assert await Watches(client.db, client.tasks).list() == []
    assert any(COMPLETED in text and "<!subteam^" in text for text in summaries(sandbox))
