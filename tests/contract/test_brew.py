"""The Brew port's contract: the fake and the XML-RPC/HTTP adapter against the stand-in
agree on the sandbox's RHCOS builds, their kernels and the kernels' tags; the adapter
turns hub faults and outages into one clear error."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from oar.errors import IntegrationError
from oar.integrations.brew import STOP_SHIP_TAG, Brew, BrewClient, kernel_nvr
from oar.integrations.fakes.brew import FakeBrew
from oar.sandbox import seed
from oar.sandbox.brew import BrewStandIn
from tests.contract.support import quick_policy

BUILD = seed.rhcos_build(seed.RELEASE)
KERNEL = seed.RHCOS_KERNELS[seed.RELEASE]


def seeded_fake() -> FakeBrew:
    stand_in = BrewStandIn()  # the same seed, without serving it
    return FakeBrew(metadata=dict(stand_in.metadata), tags=dict(stand_in.tags))


def client(url: str) -> BrewClient:
    return BrewClient(
        hub_url=f"{url}/brewhub",
        download_url=f"{url}/brewroot",
        policy=quick_policy("Brew", "OAR_BREW_HUB_URL", retries=1),
    )


@pytest.fixture(params=["fake", "stand-in"])
async def brew(request: pytest.FixtureRequest) -> AsyncIterator[Brew]:
    if request.param == "fake":
        yield seeded_fake()
        return
    async with BrewStandIn().serving() as url:
        yield client(url)


async def test_the_rhcos_build_names_its_kernel(brew: Brew) -> None:
    metadata = await brew.build_metadata(BUILD)
    assert metadata is not None
    assert kernel_nvr(metadata) == KERNEL
    assert await brew.build_metadata("rhcos-x86_64-499.96.1-0") is None


async def test_the_kernel_is_not_stop_ship_until_tagged(brew: Brew) -> None:
    assert await brew.build_tags(KERNEL) == ["early-kernel-ship-ok"]
    with pytest.raises(IntegrationError, match="No such build"):
        await brew.build_tags("kernel-0.0.0-1.el9")


async def test_a_stop_ship_tag_set_through_the_control_api_is_reported() -> None:
    stand_in = BrewStandIn()
    async with stand_in.serving() as url:
        async with httpx.AsyncClient() as http:
            response = await http.post(
                f"{url}/_sandbox/brew/tags", json={"nvr": KERNEL, "tags": [STOP_SHIP_TAG]}
            )
            response.raise_for_status()
        assert await client(url).build_tags(KERNEL) == [STOP_SHIP_TAG]


async def test_an_outage_of_the_hub_is_one_error_naming_the_variable() -> None:
    stand_in = BrewStandIn()
    stand_in.add_fault(path="/brewhub", status=503, times=None)
    async with stand_in.serving() as url:
        with pytest.raises(IntegrationError) as caught:
            await client(url).build_tags(KERNEL)
    assert "503" in caught.value.message
    assert len(stand_in.calls(path="/brewhub")) == 2  # one retry


def test_the_kernel_of_metadata_without_one_is_none() -> None:
    metadata: dict[str, Any] = {"output": [{"components": [{"name": "bash"}]}, {}]}
    assert kernel_nvr(metadata) is None
