"""The job artifacts port's contract: the fake and google-cloud-storage against the stand-in."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from google.auth.credentials import AnonymousCredentials
from google.cloud import storage

from oar.errors import IntegrationNotFoundError
from oar.integrations.fakes.gcs import FakeJobArtifacts
from oar.integrations.gcs import GcsJobArtifacts, JobArtifacts
from oar.sandbox import releasetests
from oar.sandbox.gcs import GcsStandIn, seed_objects
from tests.contract.support import quick_policy

RUN = releasetests.ARTIFACT_RUN


def gcs_adapter(url: str) -> GcsJobArtifacts:
    client = storage.Client(
        project="<none>", credentials=AnonymousCredentials(), client_options={"api_endpoint": url}
    )
    return GcsJobArtifacts(
        client=client, bucket=releasetests.BUCKET, policy=quick_policy("GCS", "GCP_SA_FILE")
    )


@pytest.fixture(params=["fake", "stand-in"])
async def artifacts(request: pytest.FixtureRequest) -> AsyncIterator[JobArtifacts]:
    if request.param == "fake":
        yield FakeJobArtifacts(seed_objects())
        return
    async with GcsStandIn().serving() as url:
        yield gcs_adapter(url)


async def test_a_runs_test_results_keep_both_ginkgo_suites(artifacts: JobArtifacts) -> None:
    results = await artifacts.test_results(RUN.job_name, RUN.build_id)
    assert results is not None
    assert results["openshift-extended-test"] == {
        "total": 54,
        "failures": 0,
        "errors": 0,
        "skipped": 6,
    }
    assert results["ginkgo-1"]["total"] == 1210
    assert results["ginkgo-2"]["failures"] == 1
    assert "ginkgo" not in results


async def test_a_run_without_a_report_has_no_results(artifacts: JobArtifacts) -> None:
    other = releasetests.PROW_RUNS[2]
    assert await artifacts.test_results(other.job_name, other.build_id) is None


async def test_junit_reports_are_found_and_read(artifacts: JobArtifacts) -> None:
    names = await artifacts.junit_files(RUN.job_name, RUN.build_id)
    assert [n.rsplit("/", 1)[1] for n in names] == [
        "junit_cucushift-e2e-combined.xml",
        "import-Cluster_Infrastructure.xml",
    ]
    content = await artifacts.read(names[1])
    assert b'<testsuite name="Cluster_Infrastructure"' in content


async def test_a_missing_object_is_not_found(artifacts: JobArtifacts) -> None:
    with pytest.raises(IntegrationNotFoundError):
        await artifacts.read(f"logs/{RUN.job_name}/{RUN.build_id}/nothing.txt")


async def test_listing_pages_through_large_runs() -> None:
    stand_in = GcsStandIn()
    prefix = f"logs/{RUN.job_name}/{RUN.build_id}/artifacts/step/"
    for i in range(1200):
        stand_in.buckets[releasetests.BUCKET][f"{prefix}junit/import-{i:04}.xml"] = b"<x/>"
    async with stand_in.serving() as url:
        names = await gcs_adapter(url).junit_files(RUN.job_name, RUN.build_id)
    assert len(names) == 1202
    assert len(stand_in.calls(path=r"/storage/v1/b/.*/o$")) == 2
