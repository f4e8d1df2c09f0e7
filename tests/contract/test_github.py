"""The GitHub ports' contract: the fake and the real adapter against the stand-in agree."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest
import yaml

from oar.errors import IntegrationConflictError, IntegrationNotFoundError
from oar.integrations.fakes.github import FakePullRequestLabels, FakeRepositoryFiles
from oar.integrations.github import (
    GitHubPullRequestLabels,
    GitHubRepositoryFiles,
    PullRequestLabels,
    RepositoryFiles,
    blob_sha,
)
from oar.sandbox import releasetests, seed
from oar.sandbox.github import SANDBOX_TOKEN, GitHubStandIn
from tests.contract.support import quick_policy

POLICY = quick_policy("GitHub", "GITHUB_TOKEN")
REGISTRY = "_releases/ocp-4.19-test-jobs-amd64.json"


def seeded_fake() -> FakeRepositoryFiles:
    fake = FakeRepositoryFiles()
    fake.files = {
        (branch, path): content
        for branch, paths in releasetests.files().items()
        for path, content in paths.items()
    }
    return fake


@pytest.fixture(params=["fake", "stand-in"])
async def files(request: pytest.FixtureRequest) -> AsyncIterator[RepositoryFiles]:
    if request.param == "fake":
        yield seeded_fake()
        return
    async with GitHubStandIn().serving() as url:
        yield GitHubRepositoryFiles(
            repo=releasetests.REPO, token=SANDBOX_TOKEN, base_url=url, policy=POLICY
        )


@pytest.fixture(params=["fake", "stand-in"])
async def labels(request: pytest.FixtureRequest) -> AsyncIterator[PullRequestLabels]:
    if request.param == "fake":
        yield FakePullRequestLabels(releasetests.PULL_REQUEST_LABELS)
        return
    async with GitHubStandIn().serving() as url:
        yield GitHubPullRequestLabels(token=SANDBOX_TOKEN, base_url=url, policy=POLICY)


async def test_the_job_registry_is_read_from_main(files: RepositoryFiles) -> None:
    found = await files.get_file(REGISTRY)
    assert found is not None
    registry = json.loads(found.content)
    assert len(registry["nightly"]) == 6
    assert sum(1 for job in registry["nightly"] if job.get("upgrade")) == 2
    assert len(registry["stable"]) == 3
    assert found.sha == blob_sha(found.content)
    assert found.path == REGISTRY


async def test_branches_hold_their_own_files(files: RepositoryFiles) -> None:
    assert await files.get_file(REGISTRY, ref="record") is None
    tracking = await files.get_file("_releases/ocp-latest-4.19-nightly-amd64.json", ref="record")
    assert tracking is not None
    assert json.loads(tracking.content)["name"] == seed.NIGHTLY_BUILD
    z_stream = await files.get_file("_releases/4.19/4.19.z.yaml", ref="z-stream")
    assert z_stream is not None
    releases = yaml.safe_load(z_stream.content)["releases"]
    assert releases[seed.RELEASE]["advisories"] == seed.ADVISORIES[seed.RELEASE]
    assert releases[seed.RELEASE]["release_jira"] == seed.JIRA_TICKETS[seed.RELEASE]


async def test_a_missing_file_is_none(files: RepositoryFiles) -> None:
    assert await files.get_file("_releases/nothing-here.json") is None


async def test_create_update_delete_with_sha_locking(files: RepositoryFiles) -> None:
    path = "_releases/4.19/statebox/4.19.3.yaml"
    first = await files.put_file(
        path, "release: 4.19.3\n", message="create", sha=None, branch="z-stream"
    )
    assert first == blob_sha("release: 4.19.3\n")
    read = await files.get_file(path, ref="z-stream")
    assert read is not None
    assert read.content == "release: 4.19.3\n"

    second = await files.put_file(
        path, "release: 4.19.3\ntasks: []\n", message="update", sha=read.sha, branch="z-stream"
    )
    with pytest.raises(IntegrationConflictError):
        await files.put_file(
            path, "lost update\n", message="stale", sha=read.sha, branch="z-stream"
        )
    with pytest.raises(IntegrationConflictError):
        await files.delete_file(path, message="stale", sha=read.sha, branch="z-stream")

    await files.delete_file(path, message="delete", sha=second, branch="z-stream")
    assert await files.get_file(path, ref="z-stream") is None
    with pytest.raises(IntegrationNotFoundError):
        await files.delete_file(path, message="again", sha=second, branch="z-stream")


async def test_creating_over_an_existing_file_is_a_conflict(files: RepositoryFiles) -> None:
    with pytest.raises(IntegrationConflictError):
        await files.put_file(REGISTRY, "{}", message="overwrite", sha=None)
    registry = await files.get_file(REGISTRY)
    assert registry is not None
    assert "nightly" in registry.content


async def test_updating_a_missing_file_is_not_found(files: RepositoryFiles) -> None:
    with pytest.raises(IntegrationNotFoundError):
        await files.put_file("_releases/ghost.json", "{}", message="m", sha=blob_sha("x"))


async def test_text_round_trips_exactly(files: RepositoryFiles) -> None:
    content = "owner: Zoë Ñandú — ✓\n" * 40
    await files.put_file("_releases/unicode.txt", content, message="unicode", sha=None)
    read = await files.get_file("_releases/unicode.txt")
    assert read is not None
    assert read.content == content


async def test_directories_list_files_and_subdirectories(files: RepositoryFiles) -> None:
    record = {e.name: e for e in await files.list_dir("_releases", ref="record")}
    assert f"ocp-test-result-{seed.NIGHTLY_BUILD}-amd64.json" in record
    assert record["ocp-latest-4.19-stable-amd64.json"].type == "file"
    assert record["ocp-latest-4.19-stable-amd64.json"].path == (
        "_releases/ocp-latest-4.19-stable-amd64.json"
    )
    z_stream = {e.name: e for e in await files.list_dir("_releases", ref="z-stream")}
    assert {name: e.type for name, e in z_stream.items()} == {"4.18": "dir", "4.19": "dir"}
    assert await files.list_dir("_releases/4.19/statebox", ref="z-stream") == []


async def test_pull_request_labels(labels: PullRequestLabels) -> None:
    assert "verified" in await labels.labels("openshift/origin", 29001)
    assert "verified-later" in await labels.labels("openshift/origin", 29002)
    assert await labels.labels(releasetests.REPO, 1) == []
    with pytest.raises(IntegrationNotFoundError):
        await labels.labels("openshift/origin", 1)
