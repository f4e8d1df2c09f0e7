"""The CI gate as the QE team runs it, through ``jobctl`` against the sandbox, on one test:

a new nightly appears → two overlapping controller passes trigger each registry job once →
a required job fails → the worker's aggregator schedule retries it and the worker is
killed with -9 before the pass writes the result file → the restarted worker's next pass
triggers nothing twice and records the retries → they pass → the build is accepted, its
ReleasePayload labelled, its file aggregated.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from oar.agents.jobruns import JobRuns
from oar.agents.testresults import result_path, tracking_path
from oar.sandbox import releasetests
from oar.sandbox.registry import Sandbox
from oar.service import Service
from tests.acceptance.conftest import OarProcess, oar, wait_for, wait_for_worker
from tests.acceptance.follow_world import control, env, sandbox

__all__ = ["env", "sandbox"]

BUILD = "4.19.0-0.nightly-2026-11-30-010101"
PULL_SPEC = f"registry.ci.openshift.org/ocp/release:{BUILD}"
FAILING = releasetests.NIGHTLY_JOBS[0]
JOBS = releasetests.NIGHTLY_JOBS + releasetests.NIGHTLY_UPGRADE_JOBS
AGGREGATOR = "jobs.aggregator.amd64"


@pytest.fixture(name="command_settings")
def _command_settings() -> dict[str, str]:
    return {}


async def runs_of_build(sandbox: Sandbox) -> list[dict[str, Any]]:
    """The Prow runs started for the new build (its pullspec in their environment)."""
    jobs = (await control(sandbox, "prow", "prow/jobs"))["jobs"]
    return [j for j in jobs if PULL_SPEC in j["envs"].values()]


def record_file(sandbox: Sandbox, path: str) -> dict[str, Any] | None:
    github = sandbox.servers["github"]
    content = github.repos[releasetests.REPO]["record"].get(path)  # type: ignore[attr-defined]
    return None if content is None else json.loads(content)


async def oarctl(*args: str, env: dict[str, str]) -> str:
    code, stdout, stderr = await oar(*args, env=env, program="oarctl")
    assert code == 0, f"oarctl {' '.join(args)} failed ({code}): {stderr}{stdout}"
    return stdout


async def jobctl(*args: str, env: dict[str, str]) -> str:
    code, stdout, stderr = await oar(*args, env=env, program="jobctl")
    assert code == 0, f"jobctl {' '.join(args)} failed ({code}): {stderr}{stdout}"
    return stdout


async def test_a_new_nightly_is_tested_once_retried_accepted_and_labelled(
    sandbox: Sandbox,
    env: dict[str, str],
    client: Service,
    spawn: Callable[..., OarProcess],
) -> None:
    for name in JOBS:
        states = ["failure", "success", "success"] if name == FAILING else ["success"]
        await control(sandbox, "prow", "prow/outcomes", {"job": name, "states": states})
    await control(
        sandbox,
        "release-controller",
        "release-controller/releases",
        {"stream": "4.19.0-0.nightly", "name": BUILD},
    )
    await control(sandbox, "releasepayloads", "releasepayloads", {"name": BUILD})

    # Two overlapping controller passes: each job is triggered once.
    outputs = await asyncio.gather(
        *(jobctl("start-controller", "-r", "4.19", "--json", env=env) for _ in range(2))
    )
    outcomes = [json.loads(o) for o in outputs]
    assert all(o["latest"] == BUILD for o in outcomes)
    runs = await runs_of_build(sandbox)
    assert sorted(r["job"] for r in runs) == sorted(JOBS)
    document = record_file(sandbox, result_path(BUILD, "amd64"))
    assert document is not None
    assert sorted(e["jobName"] for e in document["result"]) == sorted(JOBS)
    assert record_file(sandbox, tracking_path("4.19", nightly=True, arch="amd64"))["name"] == BUILD  # type: ignore[index]

    # The worker's aggregator schedule retries the failed job, and is killed with -9
    # before it writes the result file.
    worker_env = {**env, "OAR_JOB_STREAMS": "4.19", "OAR_JOB_INTERVAL": "1d"}
    async with httpx.AsyncClient(base_url=sandbox.urls["github"], timeout=10) as http:
        fault = {"path": f"ocp-test-result-{BUILD}", "method": "PUT", "hang": True}
        (await http.post("/_sandbox/faults", json=fault)).raise_for_status()
    worker = spawn("worker", env=worker_env, name="worker-1")
    await wait_for_worker(client, "test-executor", worker)
    await oarctl("schedules", "run-now", AGGREGATOR, env=worker_env)

    async def retried() -> bool:
        """Both retries triggered and recorded (the pass now hangs writing the file)."""
        claims = await JobRuns(client.db).runs(build=BUILD, arch="amd64")
        return sum(c.job_name == FAILING and c.attempt > 0 and bool(c.job_id) for c in claims) == 2

    await wait_for(retried, timeout=60, what=f"two retries of {FAILING}")
    worker.kill9()
    assert sum(r["job"] == FAILING for r in await runs_of_build(sandbox)) == 3
    async with httpx.AsyncClient(base_url=sandbox.urls["github"], timeout=10) as http:
        (await http.delete("/_sandbox/faults")).raise_for_status()
    written = record_file(sandbox, result_path(BUILD, "amd64"))
    assert written is not None
    assert not next(e for e in written["result"] if e["jobName"] == FAILING)["retriedJobs"]

    # The restarted worker resumes the killed pass; its passes (resumed, or run now when
    # the last one ended) finish the work: the retries pass, the build is accepted.
    restarted = spawn("worker", env=worker_env, name="worker-2")
    await wait_for_worker(client, "test-executor", restarted)

    async def accepted() -> bool:
        document = record_file(sandbox, result_path(BUILD, "amd64"))
        if document and document.get("accepted"):
            return True
        last = (await client.schedules.get(AGGREGATOR)).last_run
        if last is None or last.status.value not in ("queued", "running"):
            await client.schedules.run_now(AGGREGATOR)
        return False

    await wait_for(accepted, timeout=60, what=f"{BUILD} accepted")
    listed = {s.name: s for s in await client.schedules.list()}  # as `oarctl schedules list`
    assert listed[AGGREGATOR].started
    assert listed["jobs.controller.4.19.nightly.amd64"].every == "1d"
    runs = await runs_of_build(sandbox)
    assert len(runs) == len(JOBS) + 2, "a job was triggered twice"
    document = record_file(sandbox, result_path(BUILD, "amd64"))
    assert document is not None
    assert document["aggregated"] is True
    failing = next(e for e in document["result"] if e["jobName"] == FAILING)
    assert failing["firstJob"]["jobState"] == "failure"
    assert [r["jobState"] for r in failing["retriedJobs"]] == ["success", "success"]
    payloads = (await control(sandbox, "releasepayloads", "releasepayloads"))["payloads"]
    assert payloads["ocp"][BUILD] == {"release.openshift.io/qe_state": "Accepted"}
    claims = await JobRuns(client.db).runs(build=BUILD, arch="amd64")
    assert sorted((c.job_name, c.attempt) for c in claims) == sorted(
        [(name, 0) for name in JOBS] + [(FAILING, 1), (FAILING, 2)]
    )

    # A person's pass (jobctl) finds the build done: nothing left to trigger or label.
    passed = json.loads(await jobctl("start-aggregator", "--json", env=env))
    mine = next(o for o in passed if o["build"] == BUILD)
    assert (mine["aggregated"], mine["accepted"], mine["retried"]) == (True, True, [])
    assert len(await runs_of_build(sandbox)) == len(JOBS) + 2

    # Waiting on one run: a durable follow, run by the live worker.
    succeeded = next(r for r in runs if r["job"] != FAILING)
    followed = json.loads(
        await jobctl(
            "job", "get-results", succeeded["id"], "--poll", "--interval", "1", "--json", env=env
        )
    )
    assert (followed["jobState"], followed["followStatus"]) == ("success", "succeeded")
    assert followed["jobURL"]
