"""The agents' passes on real databases (SQLite and PostgreSQL) with fake GitHub, release
controller, Slack and report runner: what is announced or created, and that overlapping
passes, Slack failures, the first run and stale claims do each thing once."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from oar.agents.detector import (
    CLAIM_LEASE,
    Decision,
    DetectionStatus,
    DetectionStore,
    ReleaseDetector,
    ReportResult,
)
from oar.agents.resultchecker import ResultChecker, ResultFileStore
from oar.db import Database
from oar.db.types import utcnow
from oar.github.agents import PushTargets, push_targets
from oar.github.webhooks import verify
from oar.integrations.fakes.github import FakeRepositoryFiles
from oar.integrations.fakes.releasecontroller import FakeReleaseStreams
from oar.integrations.fakes.slack import FakeNotifier
from oar.integrations.github import GitHubRepositoryFiles
from oar.integrations.releasecontroller import HttpReleaseStreams, Release
from oar.sandbox import releasetests
from oar.sandbox.github import SANDBOX_TOKEN, GitHubStandIn
from oar.sandbox.releasecontroller import ReleaseControllerStandIn
from oar.testing import reset_database
from tests.conftest import require_postgres
from tests.contract.support import quick_policy
from tests.live_server import live_server
from tests.waiting import eventually

REPO = "openshift/release-tests"
POLICY = quick_policy("GitHub", "GITHUB_TOKEN")
CHANNEL = "#forum-qe"


@pytest.fixture(params=["sqlite", "postgres"])
async def db(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    if request.param == "postgres":
        url = require_postgres()
        await reset_database(url)
    else:
        url = f"sqlite:///{tmp_path / 'oar.db'}"
    async with Database(url) as database:
        await database.upgrade()
        yield database


def result(accepted: bool | None, *, promoted: bool = False) -> str:
    data: dict[str, object] = {"result": [], "build": {"name": "x"}}
    if accepted is not None:
        data.update(aggregated=True, accepted=accepted)
    if promoted:
        data["manual_promotion"] = True
    return json.dumps(data)


def nightly(day: int) -> str:
    return f"_releases/ocp-test-result-4.19.0-0.nightly-2026-11-{day:02d}-000000-amd64.json"


def checker(files: FakeRepositoryFiles, notifier: FakeNotifier, db: Database) -> ResultChecker:
    store = ResultFileStore(db, repo=REPO, branch="record")
    return ResultChecker(files=files, notifier=notifier, store=store, channel=CHANNEL)


async def test_the_first_run_announces_the_newest_up_to_the_limit_and_never_the_rest(
    db: Database,
) -> None:
    files = FakeRepositoryFiles(
        {
            nightly(10): result(False),
            nightly(11): result(False),
            nightly(12): result(False),
            nightly(13): result(False, promoted=True),
            nightly(14): result(True),
            nightly(15): result(None),
            "_releases/ocp-test-result-4.19.2-amd64.json": result(False),
            "_releases/ocp-latest-4.19-nightly-amd64.json": "{}",
        },
        branch="record",
    )
    notifier = FakeNotifier()

    first = await checker(files, notifier, db).run(limit=2, by="pass-1")

    assert first.first_run
    assert first.files == 7
    assert first.read == 7
    # Names sort newest first: the stable 4.19.2 file sorts after the nightlies' 4.19.0.
    assert first.announced == ["_releases/ocp-test-result-4.19.2-amd64.json", nightly(12)]
    assert first.skipped == [nightly(11), nightly(10)]
    assert [m.text.split("|")[1] for m in notifier.channel_messages(CHANNEL)] == [
        "ocp-test-result-4.19.2-amd64.json>. Please check!",
        f"{nightly(12).rsplit('/', 1)[1]}>. Please check!",
    ]

    # Later: a pending build is rejected; the skipped ones stay skipped; unchanged files
    # are not read again.
    files.files[("record", nightly(15))] = result(False)
    second = await checker(files, notifier, db).run(limit=2, by="pass-2")
    assert not second.first_run
    assert second.read == 1
    assert second.announced == [nightly(15)]
    third = await checker(files, notifier, db).run(limit=2, by="pass-3")
    assert (third.read, third.announced) == (0, [])
    assert len(notifier.channel_messages(CHANNEL)) == 3


async def test_a_refused_message_is_tried_again_and_overlapping_passes_announce_once(
    db: Database,
) -> None:
    files = FakeRepositoryFiles({nightly(20): result(False)}, branch="record")
    down = FakeNotifier(failure="service_unavailable")
    failed = await checker(files, down, db).run(limit=5, by="pass-1")
    assert list(failed.failed) == [nightly(20)]
    assert failed.announced == []

    up = FakeNotifier()
    passes = await asyncio.gather(
        *(checker(files, up, db).run(limit=5, by=f"pass-{n}") for n in range(2, 6))
    )
    assert sum(len(p.announced) for p in passes) == 1
    assert len(up.channel_messages(CHANNEL)) == 1
    counts = await ResultFileStore(db, repo=REPO, branch="record").counts()
    assert counts == {"announced": 1}


def stable(*names: str) -> FakeReleaseStreams:
    return FakeReleaseStreams(
        {("amd64", "4-stable"): [Release(name=n, phase="Accepted") for n in names]}
    )


ART_419 = "releases:\n  4.19.2: {}\n  4.19.3: {}\n"


class Runner:
    """Creates reports, slowly enough for passes to overlap; fails while ``fail`` is set."""

    def __init__(self, *, fail: bool = False) -> None:
        self.fail = fail
        self.calls: list[str] = []

    async def create_report(self, release: str) -> ReportResult:
        self.calls.append(release)
        await asyncio.sleep(0.05)
        if self.fail:
            return ReportResult(ok=False, message="ocp-build-data is not ready")
        return ReportResult(ok=True, message=f"created the report for {release}")


def detector(db: Database, runner: Runner, art: str = ART_419) -> ReleaseDetector:
    return ReleaseDetector(
        files=FakeRepositoryFiles({"_releases/4.19/4.19.z.yaml": art}, branch="z-stream"),
        streams=stable("4.19.2"),
        runner=runner,
        store=DetectionStore(db),
    )


async def test_overlapping_passes_create_a_new_releases_report_once(db: Database) -> None:
    runner = Runner()
    reports = await asyncio.gather(
        *(detector(db, runner).run("4.19", trigger="schedule", by=f"tick-{n}") for n in range(4))
    )
    assert runner.calls == ["4.19.3"]
    assert {r.decision for r in reports} == {Decision.NEW}
    assert sum(r.created for r in reports) == 1
    later = await detector(db, runner).run("4.19", trigger="webhook", by="delivery-1")
    assert "already created" in later.message
    assert runner.calls == ["4.19.3"]
    found = await DetectionStore(db).get("4.19.3")
    assert found is not None
    assert (found.status, found.stable, found.attempts) == (DetectionStatus.CREATED, "4.19.2", 1)


async def test_a_failed_creation_is_tried_again_and_a_dead_claim_taken_over(
    db: Database,
) -> None:
    runner = Runner(fail=True)
    failed = await detector(db, runner).run("4.19", trigger="schedule", by="tick-1")
    assert not failed.created
    assert "ocp-build-data is not ready" in failed.message
    runner.fail = False
    again = await detector(db, runner).run("4.19", trigger="schedule", by="tick-2")
    assert again.created
    assert runner.calls == ["4.19.3", "4.19.3"]

    # A claim whose holder died: left alone within the lease, taken over after it.
    store = DetectionStore(db)
    assert await store.claim("4.19.4", y_stream="4.19", stable="4.19.3", trigger="cli", by="dead")
    assert not await store.claim(
        "4.19.4", y_stream="4.19", stable="4.19.3", trigger="cli", by="other"
    )
    assert await store.claim("4.19.4", y_stream="4.19", stable="4.19.3", trigger="cli", by="dead")
    later = DetectionStore(db, clock=lambda: utcnow() + CLAIM_LEASE + timedelta(seconds=1))
    assert await later.claim("4.19.4", y_stream="4.19", stable="4.19.3", trigger="cli", by="b")


@pytest.mark.parametrize(
    ("art", "decision", "says"),
    [
        ("releases:\n  4.19.2: {}\n", Decision.NONE, "no new z-stream release found"),
        ("releases:\n  4.19.1: {}\n", Decision.BEHIND, "We need to contact ART"),
        ("releases: {}\n", Decision.UNKNOWN, "get latest versions failed"),
    ],
)
async def test_nothing_new_creates_nothing(
    db: Database, art: str, decision: Decision, says: str
) -> None:
    runner = Runner()
    report = await detector(db, runner, art).run("4.19", trigger="schedule", by="tick")
    assert report.decision is decision
    assert says in report.message
    assert runner.calls == []


async def test_a_release_art_adds_is_pushed_and_found_new_through_the_real_clients(
    db: Database,
) -> None:
    """The GitHub stand-in's z-stream control commits a release and delivers a signed push;
    the detector reads it with githubkit and the release controller with httpx."""
    received: list[dict[str, object]] = []

    async def receiver(request: Request) -> Response:
        body = await request.body()
        verify(body, secret="s3cret", signature_256=request.headers["x-hub-signature-256"])
        received.append({"event": request.headers["x-github-event"], **json.loads(body)})
        return Response(status_code=202)

    async with (
        GitHubStandIn().serving() as github_url,
        ReleaseControllerStandIn().serving() as controller_url,
        live_server(Starlette(routes=[Route("/hook", receiver, methods=["POST"])])) as port,
        httpx.AsyncClient() as http,
    ):
        hook = {"url": f"http://127.0.0.1:{port}/hook", "secret": "s3cret"}
        assert (await http.post(f"{github_url}/_sandbox/github/hooks", json=hook)).is_success
        added = await http.post(
            f"{github_url}/_sandbox/github/z-stream/4.19", json={"release": "4.19.10"}
        )
        assert added.status_code == 201
        await eventually(lambda: received, 10, what="the push")
        runner = Runner()
        found = await ReleaseDetector(
            files=GitHubRepositoryFiles(
                repo=releasetests.REPO, token=SANDBOX_TOKEN, base_url=github_url, policy=POLICY
            ),
            streams=HttpReleaseStreams(
                url_template=f"{controller_url}/{{arch}}",
                policy=quick_policy("release controller", "OAR_RELEASE_CONTROLLER_URL"),
            ),
            runner=runner,
            store=DetectionStore(db),
        ).run("4.19", trigger="webhook", by="delivery")

    (push,) = received
    assert push["event"] == "push"
    assert push["ref"] == "refs/heads/z-stream"
    assert push_targets(push, repo=releasetests.REPO, y_streams=["4.19"], checker=False) == (
        PushTargets(y_streams=["4.19"])
    )
    assert (found.art, found.stable, found.decision) == ("4.19.10", "4.19.2", Decision.NEW)
    assert runner.calls == ["4.19.10"]
