"""The ReleasePayload port's contract: the fake, and the Kubernetes adapter against the
stand-in, label a payload ``qe_state=Accepted`` idempotently and refuse the same things."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from oar.errors import ConfigurationError, IntegrationAuthError, IntegrationNotFoundError
from oar.integrations.fakes.releasepayloads import FakeReleasePayloads
from oar.integrations.releasepayloads import (
    KubeReleasePayloads,
    ReleasePayloads,
    namespace_of,
)
from oar.sandbox.releasepayloads import SANDBOX_KUBE_TOKEN, ReleasePayloadStandIn
from tests.contract.support import quick_policy

BUILD = "4.19.0-0.nightly-2026-11-18-101010"  # seeded on the release controller stand-in
ARM_BUILD = "4.19.0-0.nightly-arm64-2026-11-18-101010"


def kube(url: str, token: str | None = SANDBOX_KUBE_TOKEN) -> KubeReleasePayloads:
    return KubeReleasePayloads(
        api_url=url, token=token, policy=quick_policy("ReleasePayload API", "OAR_KUBE_TOKEN")
    )


@pytest.fixture(params=["fake", "stand-in"])
async def payloads(request: pytest.FixtureRequest) -> AsyncIterator[ReleasePayloads]:
    if request.param == "fake":
        fake = FakeReleasePayloads()
        fake.add(BUILD)
        fake.add(ARM_BUILD, arch="arm64")
        yield fake
        return
    async with ReleasePayloadStandIn().serving() as url:
        yield kube(url)


async def test_accepting_labels_the_payload_once_and_again_is_harmless(
    payloads: ReleasePayloads,
) -> None:
    await payloads.check_access(arch="amd64")
    assert await payloads.qe_state(BUILD, arch="amd64") is None
    await payloads.accept(BUILD, arch="amd64")
    await payloads.accept(BUILD, arch="amd64")
    assert await payloads.qe_state(BUILD, arch="amd64") == "Accepted"


async def test_architectures_live_in_their_own_namespaces(payloads: ReleasePayloads) -> None:
    await payloads.accept(ARM_BUILD, arch="arm64")
    assert await payloads.qe_state(ARM_BUILD, arch="arm64") == "Accepted"
    with pytest.raises(IntegrationNotFoundError):
        await payloads.accept(ARM_BUILD, arch="amd64")
    assert namespace_of("amd64") == "ocp"
    assert namespace_of("arm64") == "ocp-arm64"


async def test_an_unknown_payload_is_not_found(payloads: ReleasePayloads) -> None:
    with pytest.raises(IntegrationNotFoundError, match=r"no releasepayload 4\.19\.99"):
        await payloads.accept("4.19.99", arch="amd64")


async def test_a_refused_token_is_an_auth_error_naming_the_variable() -> None:
    fake = FakeReleasePayloads()
    fake.refuse = True
    with pytest.raises(IntegrationAuthError, match="OAR_KUBE_TOKEN"):
        await fake.check_access(arch="amd64")
    async with ReleasePayloadStandIn().serving() as url:
        with pytest.raises(IntegrationAuthError, match="OAR_KUBE_TOKEN"):
            await kube(url, token="wrong").check_access(arch="amd64")
        with pytest.raises(ConfigurationError, match="OAR_KUBE_TOKEN is not set"):
            await kube(url, token=None).accept(BUILD, arch="amd64")
