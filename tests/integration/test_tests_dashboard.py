"""The dashboard's test-results page: each build of a minor release with its state, per-job
summary and a link to every run (retries too), live when the CI gate records a build."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect

from oar.agents.jobruns import JobRuns
from oar.service import Service
from oar.web import create_app
from tests.live_server import live_server

JOB = "periodic-ci-openshift-openshift-tests-private-release-4.19-automated-release-aws-ipi-f999"
OTHER = JOB.replace("aws", "gcp")
NIGHTLY = "4.19.0-0.nightly-2026-11-30-010101"
DECK = "https://deck.example/logs"


def run(job_id: str, state: str) -> dict[str, Any]:
    done = {"jobCompletionTime": "2026-11-30T02:00:00Z"} if state != "pending" else {}
    return {"jobID": job_id, "jobState": state, "jobURL": f"{DECK}/{job_id}", **done}


def document(**extra: Any) -> dict[str, Any]:
    return {
        "result": [
            {
                "jobName": JOB,
                "firstJob": run("a1", "failure"),
                "retriedJobs": [run("a2", "success"), run("a3", "success")],
            },
            {"jobName": OTHER, "firstJob": run("b1", "success"), "retriedJobs": []},
        ],
        "build": {"name": "x", "pullSpec": "p"},
        **extra,
    }


@pytest.fixture
async def client(service: Service) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(service, owns_service=False))
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as http:
        yield http


async def test_the_page_shows_each_build_state_summary_and_every_run(
    service: Service, client: httpx.AsyncClient
) -> None:
    runs = JobRuns(service.db)
    await runs.record_build(document(aggregated=True, accepted=True), build="4.19.3", arch="amd64")
    await runs.record_build(
        document(aggregated=True, accepted=False, manual_promotion=True),
        build="4.19.10",
        arch="amd64",
    )
    await runs.record_build(document(), build=NIGHTLY, arch="amd64")
    await runs.record_build(
        {
            "result": [{"jobName": JOB, "firstJob": run("c1", "failure"), "retriedJobs": []}],
            "aggregated": True,
            "accepted": False,
        },
        build="4.18.7",
        arch="amd64",
    )

    index = await client.get("/tests")
    assert 'href="/tests/4.18"' in index.text
    assert 'href="/tests/4.19"' in index.text
    page = await client.get("/tests/4.19")
    assert page.status_code == 200
    html = page.text
    assert 'href="/tests"' in html  # the nav links the page
    # Newest first by version, not by text: 4.19.10 before 4.19.3.
    assert html.index('data-build="4.19.10"') < html.index('data-build="4.19.3"')
    assert 'data-state="Accepted (manually promoted)"' in html
    assert 'data-state="Accepted"' in html
    assert 'data-state="Pending"' in html
    assert "4.18.7" not in html
    assert "S 2/3" in html
    assert "S 1/1" in html
    for job_id in ("a1", "a2", "a3", "b1"):
        assert f'href="{DECK}/{job_id}"' in html
    assert "retry 2 (success)" in html
    rejected = await client.get("/tests/4.18")
    assert 'data-state="Rejected"' in rejected.text
    assert "F 0/1" in rejected.text
    empty = await client.get("/tests/4.99")
    assert "No build of 4.99 tested yet." in empty.text


async def test_the_page_hears_of_a_build_the_gate_recorded(service: Service) -> None:
    async with (
        live_server(create_app(service, owns_service=False)) as port,
        connect(f"ws://127.0.0.1:{port}/dashboard/ws") as socket,
    ):
        await JobRuns(service.db).record_build(document(), build=NIGHTLY, arch="amd64")
        seen: list[dict[str, str]] = []
        async with asyncio.timeout(5):
            while {"kind": "tests", "id": "4.19"} not in seen:
                seen.append(json.loads(await socket.recv(decode=True)))
