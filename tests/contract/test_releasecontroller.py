"""The release controller port's contract: the fake and the HTTP adapter against the
stand-in agree on the sandbox's release streams."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from oar.errors import InvalidArgumentError
from oar.integrations.fakes.releasecontroller import FakeReleaseStreams
from oar.integrations.releasecontroller import HttpReleaseStreams, ReleaseStreams
from oar.sandbox import seed
from oar.sandbox.releasecontroller import (
    RECYCLED_NIGHTLY,
    ReleaseControllerStandIn,
    seed_releases,
)
from tests.contract.support import quick_policy

ARCH_OF_BUILD = {
    "amd64": "x86_64",
    "arm64": "aarch64",
    "multi": "multi",
    "ppc64le": "ppc64le",
    "s390x": "s390x",
}


@pytest.fixture(params=["fake", "stand-in"])
async def streams(request: pytest.FixtureRequest) -> AsyncIterator[ReleaseStreams]:
    if request.param == "fake":
        yield FakeReleaseStreams(seed_releases())
        return
    async with ReleaseControllerStandIn().serving() as url:
        yield HttpReleaseStreams(
            url_template=url + "/{arch}",
            policy=quick_policy("release controller", "OAR_RELEASE_CONTROLLER_URL"),
        )


async def test_latest_nightly_is_the_newest_accepted(streams: ReleaseStreams) -> None:
    latest = await streams.latest("4.19", nightly=True)
    assert latest is not None
    assert latest.name == seed.NIGHTLY_BUILD  # the newer, rejected nightly is skipped
    assert latest.accepted
    assert latest.pull_spec == seed.CANDIDATE_BUILDS["x86_64"]
    assert latest.download_url.endswith(seed.NIGHTLY_BUILD)


@pytest.mark.parametrize("arch", ["amd64", "arm64", "multi", "ppc64le", "s390x"])
async def test_each_architecture_has_its_own_nightly(streams: ReleaseStreams, arch: str) -> None:
    latest = await streams.latest("4.19", nightly=True, arch=arch)
    assert latest is not None
    assert latest.pull_spec == seed.CANDIDATE_BUILDS[ARCH_OF_BUILD[arch]]


async def test_latest_stable_is_4_19_2_while_4_19_3_is_in_progress(streams: ReleaseStreams) -> None:
    latest = await streams.latest("4.19", nightly=False)
    assert latest is not None
    assert latest.name == "4.19.2"
    assert latest.pull_spec == "quay.io/openshift-release-dev/ocp-release:4.19.2-x86_64"
    arm = await streams.latest("4.19", nightly=False, arch="arm64")
    assert arm is not None
    assert arm.pull_spec.endswith("4.19.2-aarch64")
    older = await streams.latest("4.18", nightly=False)
    assert older is not None
    assert older.name == "4.18.39"


async def test_a_y_stream_without_stable_builds_falls_back_to_dev_preview(
    streams: ReleaseStreams,
) -> None:
    latest = await streams.latest("4.20", nightly=False)
    assert latest is not None
    assert latest.name == "4.20.0-ec.3"
    assert await streams.latest("4.21", nightly=False) is None
    assert await streams.latest("4.21", nightly=True) is None


async def test_a_release_by_name_and_a_recycled_one(streams: ReleaseStreams) -> None:
    nightly = await streams.release("4.19", seed.NIGHTLY_BUILD, nightly=True)
    assert nightly is not None
    assert nightly.name == seed.NIGHTLY_BUILD
    assert await streams.release("4.19", RECYCLED_NIGHTLY, nightly=True) is None
    stable = await streams.release("4.19", "4.19.1", nightly=False)
    assert stable is not None
    assert stable.phase == "Accepted"
    assert await streams.release("4.19", "4.19.3", nightly=False) is None


async def test_tags_newest_first(streams: ReleaseStreams) -> None:
    nightlies = await streams.tags("4.19", nightly=True)
    assert [t.name for t in nightlies][1] == seed.NIGHTLY_BUILD
    assert nightlies[0].phase == "Rejected"
    stable = [t.name for t in await streams.tags("4.19", nightly=False)]
    assert stable == ["4.19.2", "4.19.1", seed.PRERELEASE]


async def test_bad_arguments_name_what_is_wrong(streams: ReleaseStreams) -> None:
    with pytest.raises(InvalidArgumentError, match="arch"):
        await streams.latest("4.19", nightly=True, arch="x86")
    with pytest.raises(InvalidArgumentError, match="release"):
        await streams.latest("four", nightly=False)


async def test_stand_in_details_carry_the_payload_digest() -> None:
    async with ReleaseControllerStandIn().serving() as url:
        adapter = HttpReleaseStreams(
            url_template=url + "/{arch}",
            policy=quick_policy("release controller", "OAR_RELEASE_CONTROLLER_URL"),
        )
        release = await adapter.release("4.19", "4.19.2", nightly=False)
        assert release is not None
        assert release.digest is not None
        assert release.digest.startswith("sha256:")


async def test_promoting_and_recycling_through_the_control_api() -> None:
    import httpx

    stand_in = ReleaseControllerStandIn()
    async with stand_in.serving() as url:
        adapter = HttpReleaseStreams(
            url_template=url + "/{arch}",
            policy=quick_policy("release controller", "OAR_RELEASE_CONTROLLER_URL"),
        )
        async with httpx.AsyncClient(base_url=url) as client:
            promoted = await client.post(
                "/_sandbox/release-controller/releases",
                json={"arch": "amd64", "stream": "4-stable", "name": seed.RELEASE},
            )
            assert promoted.status_code == 200
            recycled = await client.delete(
                f"/_sandbox/release-controller/releases/amd64/4.19.0-0.nightly/{seed.NIGHTLY_BUILD}"
            )
            assert recycled.status_code == 200
        latest = await adapter.latest("4.19", nightly=False)
        assert latest is not None
        assert latest.name == seed.RELEASE
        assert await adapter.release("4.19", seed.NIGHTLY_BUILD, nightly=True) is None
        stand_in.reset()
        latest = await adapter.latest("4.19", nightly=False)
        assert latest is not None
        assert latest.name == "4.19.2"
