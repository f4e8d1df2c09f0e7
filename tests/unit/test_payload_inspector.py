"""The HTTP payload inspector over a controller that does not publish metadata URLs."""

from __future__ import annotations

import pytest

from oar.errors import IntegrationError
from oar.integrations.fakes.releasecontroller import FakeReleaseStreams
from oar.integrations.payloads import HttpPayloadInspector
from oar.integrations.releasecontroller import Release


async def test_a_controller_without_metadata_urls_says_to_use_oc() -> None:
    streams = FakeReleaseStreams(
        {("amd64", "4-stable"): [Release(name="4.19.2", phase="Accepted", raw={"name": "4.19.2"})]}
    )
    inspector = HttpPayloadInspector(releases=streams, timeout=1)
    with pytest.raises(IntegrationError, match="use the oc payload inspector"):
        await inspector.metadata_url("4.19")


async def test_no_stable_payload_means_no_url_yet() -> None:
    inspector = HttpPayloadInspector(releases=FakeReleaseStreams(), timeout=1)
    assert await inspector.metadata_url("4.19") is None
