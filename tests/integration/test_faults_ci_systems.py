"""Faults through the real adapters against the stand-ins: a 429 with Retry-After is
retried and succeeds, a hang ends in a timeout, refused credentials name the variable,
and transient failures are retried a bounded number of times."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest
from google.auth.credentials import AnonymousCredentials
from google.cloud import storage

from oar.errors import IntegrationAuthError, IntegrationTimeoutError, IntegrationUnavailableError
from oar.integrations.calls import CallPolicy
from oar.integrations.gcs import GcsJobArtifacts
from oar.integrations.github import GitHubRepositoryFiles
from oar.integrations.prow import GangwayProwJobs
from oar.integrations.releasecontroller import HttpReleaseStreams
from oar.sandbox import releasetests, seed
from oar.sandbox.gcs import GcsStandIn
from oar.sandbox.github import SANDBOX_TOKEN, GitHubStandIn
from oar.sandbox.prow import SANDBOX_PROW_TOKEN, ProwStandIn
from oar.sandbox.releasecontroller import ReleaseControllerStandIn
from oar.sandbox.server import StandIn
from tests.contract.support import quick_policy


@dataclass
class System:
    """One system's stand-in and a read through its real adapter."""

    stand_in: StandIn
    path: str  # the path the read requests (a regular expression)
    read: Callable[[str, CallPolicy], Awaitable[Any]]  # (base URL, policy) -> result
    credential: str


async def read_github(url: str, policy: CallPolicy) -> Any:
    files = GitHubRepositoryFiles(
        repo=releasetests.REPO, token=SANDBOX_TOKEN, base_url=url, policy=policy
    )
    found = await files.get_file("_releases/ocp-4.19-test-jobs-amd64.json")
    assert found is not None
    return found


async def read_release_controller(url: str, policy: CallPolicy) -> Any:
    streams = HttpReleaseStreams(url_template=url + "/{arch}", policy=policy)
    latest = await streams.latest("4.19", nightly=True)
    assert latest is not None
    assert latest.name == seed.NIGHTLY_BUILD
    return latest


async def read_prow(url: str, policy: CallPolicy) -> Any:
    jobs = GangwayProwJobs(gangway_url=url, prow_url=url, token=SANDBOX_PROW_TOKEN, policy=policy)
    return await jobs.trigger(releasetests.NIGHTLY_JOBS[0], payload=seed.CANDIDATE_BUILDS["x86_64"])


async def read_gcs(url: str, policy: CallPolicy) -> Any:
    client = storage.Client(
        project="<none>", credentials=AnonymousCredentials(), client_options={"api_endpoint": url}
    )
    artifacts = GcsJobArtifacts(client=client, bucket=releasetests.BUCKET, policy=policy)
    run = releasetests.ARTIFACT_RUN
    results = await artifacts.test_results(run.job_name, run.build_id)
    assert results is not None
    return results


SYSTEMS: dict[str, Callable[[], System]] = {
    "github": lambda: System(GitHubStandIn(), r"/contents/", read_github, "GITHUB_TOKEN"),
    "release-controller": lambda: System(
        ReleaseControllerStandIn(),
        r"/latest$",
        read_release_controller,
        "OAR_RELEASE_CONTROLLER_URL",
    ),
    "prow": lambda: System(ProwStandIn(), r"/v1/executions/", read_prow, "APITOKEN"),
    "gcs": lambda: System(GcsStandIn(), r"^/storage/v1/b/.*/o$", read_gcs, "GCP_SA_FILE"),
}


@pytest.fixture(params=sorted(SYSTEMS))
async def served(request: pytest.FixtureRequest) -> AsyncIterator[tuple[System, str]]:
    system = SYSTEMS[request.param]()
    async with system.stand_in.serving() as url:
        yield system, url


async def test_a_429_with_retry_after_is_retried_and_succeeds(served: tuple[System, str]) -> None:
    system, url = served
    system.stand_in.add_fault(path=system.path, status=429, retry_after=1)
    await system.read(url, quick_policy("x", system.credential))
    attempts = system.stand_in.calls(path=system.path)
    assert len(attempts) == 2
    assert attempts[1].at - attempts[0].at >= 0.9  # Retry-After was honoured, not the backoff


async def test_a_hang_ends_in_a_timeout(served: tuple[System, str]) -> None:
    system, url = served
    system.stand_in.add_fault(path=system.path, hang=True)
    with pytest.raises(IntegrationTimeoutError, match=r"no answer in 0\.5s"):
        await system.read(url, quick_policy("x", system.credential, timeout=0.5, retries=2))


async def test_5xx_is_retried_a_bounded_number_of_times(served: tuple[System, str]) -> None:
    system, url = served
    system.stand_in.add_fault(path=system.path, status=503, times=None)
    with pytest.raises(IntegrationUnavailableError, match="after 3 attempts"):
        await system.read(url, quick_policy("x", system.credential, retries=2))
    assert len(system.stand_in.calls(path=system.path)) == 3


async def test_github_refuses_a_wrong_token_naming_github_token() -> None:
    async with GitHubStandIn().serving() as url:
        files = GitHubRepositoryFiles(
            repo=releasetests.REPO,
            token="ghp_wrong",
            base_url=url,
            policy=quick_policy("GitHub", "GITHUB_TOKEN"),
        )
        with pytest.raises(IntegrationAuthError, match="check GITHUB_TOKEN") as info:
            await files.get_file("_releases/ocp-4.19-test-jobs-amd64.json")
    assert info.value.status_code == 401


async def test_gangway_refuses_a_wrong_token_naming_apitoken() -> None:
    stand_in = ProwStandIn()
    async with stand_in.serving() as url:
        jobs = GangwayProwJobs(
            gangway_url=url, prow_url=url, token="wrong", policy=quick_policy("Prow", "APITOKEN")
        )
        with pytest.raises(IntegrationAuthError, match="check APITOKEN") as info:
            await jobs.trigger(releasetests.NIGHTLY_JOBS[0])
    assert info.value.status_code == 403
    assert len(stand_in.calls(path="/v1/executions/")) == 1  # not retried


async def test_gcs_refusal_names_the_service_account_file() -> None:
    stand_in = GcsStandIn()
    async with stand_in.serving() as url:
        stand_in.add_fault(path=r"/storage/v1/b/", status=401)
        with pytest.raises(IntegrationAuthError, match="check GCP_SA_FILE"):
            await read_gcs(url, quick_policy("GCS", "GCP_SA_FILE"))
