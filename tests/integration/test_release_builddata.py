"""ocp-build-data over HTTP, against the raw.githubusercontent.com stand-in."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from oar.backoff import Backoff
from oar.errors import BuildDataNotReadyError, IntegrationUnavailableError
from oar.integrations.builddata import HttpBuildData
from oar.release.checklist import Flow
from oar.release.configstore import ConfigStore
from oar.release.versions import ReleaseVersion
from oar.sandbox import releaseconfig, seed
from oar.sandbox.builddata import BuildDataStandIn
from oar.settings import Settings, load_settings


@pytest.fixture
async def stand_in() -> AsyncIterator[tuple[BuildDataStandIn, str]]:
    server = BuildDataStandIn()
    async with server.serving() as base_url:
        yield server, base_url


def settings_for(base_url: str, tmp_path: Path, server: BuildDataStandIn) -> Settings:
    return load_settings(
        environ={
            **releaseconfig.write_config(tmp_path),
            **server.environment(base_url),
            "OAR_INTEGRATION_RETRIES": "2",
        }
    )


async def test_configstore_reads_the_release_from_the_stand_in(
    stand_in: tuple[BuildDataStandIn, str], tmp_path: Path
) -> None:
    server, base_url = stand_in
    settings = settings_for(base_url, tmp_path, server)
    store = await ConfigStore.load(settings, ReleaseVersion.parse(seed.RELEASE))
    assert store.flow is Flow.KONFLUX
    assert store.advisories() == seed.ADVISORIES[seed.RELEASE]
    (call,) = server.calls()
    assert call.path == "/openshift-eng/ocp-build-data/openshift-4.19/releases.yml"


async def test_a_y_stream_without_build_data_is_not_ready(
    stand_in: tuple[BuildDataStandIn, str], tmp_path: Path
) -> None:
    server, base_url = stand_in
    settings = settings_for(base_url, tmp_path, server)
    with pytest.raises(BuildDataNotReadyError) as caught:
        await ConfigStore.load(settings, ReleaseVersion.parse("4.21.1"))
    assert "openshift-4.21" in caught.value.message
    assert caught.value.url.startswith(base_url)


async def test_transient_failures_are_retried_then_reported(
    stand_in: tuple[BuildDataStandIn, str],
) -> None:
    server, base_url = stand_in
    data = HttpBuildData(
        f"{base_url}/openshift-eng/ocp-build-data/%s/releases.yml",
        timeout=5,
        retries=2,
        backoff=Backoff(delay=0.01, jitter=0),
    )
    server.add_fault(path="releases.yml", status=503, times=1)
    assert "4.19.3" in await data.releases("4.19")
    server.add_fault(path="releases.yml", status=503, times=None)
    with pytest.raises(IntegrationUnavailableError, match="after 3 attempts"):
        await data.releases("4.19")
