"""The sandbox registry: every stand-in served together, one environment for OAR."""

from __future__ import annotations

import httpx
import pytest

from oar.errors import ConfigurationError
from oar.sandbox.registry import STAND_INS, Entry, Sandbox
from oar.sandbox.releasecontroller import ReleaseControllerStandIn
from oar.settings import load_settings


async def test_all_stand_ins_serve_and_their_environments_configure_oar() -> None:
    async with Sandbox(base_port=0) as sandbox:
        urls = sandbox.urls
        assert set(urls) == {entry.name for entry in STAND_INS}
        assert len(set(urls.values())) == len(urls)
        environment = sandbox.environment()
        settings = load_settings(environ=environment)
        assert settings.github_api_url == urls["github"]
        assert settings.release_controller_url == urls["release-controller"] + "/{arch}"
        assert settings.gangway_url == settings.prow_url == urls["prow"]
        assert settings.gcs_url == urls["gcs"]
        assert settings.github_private_key() is not None
        assert settings.ldap_url == urls["ldap"]
        assert settings.slack_api_url == urls["slack"] + "/api/"
        assert urls["elliott"] == "file://" + settings.elliott_path
        async with httpx.AsyncClient() as client:
            for url in urls.values():
                if url.startswith(("ldap://", "file://")):
                    continue  # LDAP speaks only LDAP, elliott is a program; tested apart
                assert (await client.post(f"{url}/_sandbox/reset")).json() == {"ok": True}
    with pytest.raises(RuntimeError, match="not running"):
        _ = sandbox.urls


def test_stand_in_names_must_be_unique() -> None:
    entry = Entry(name="release-controller", factory=ReleaseControllerStandIn, offset=0)
    with pytest.raises(ConfigurationError, match="repeat"):
        Sandbox(base_port=0, entries=(entry, entry))


def test_a_base_port_without_room_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="base-port"):
        Sandbox(base_port=65535)


async def test_a_snapshot_changes_with_the_state_and_not_with_reads() -> None:
    """What a dry-run test relies on: reads leave the snapshot equal, a change does not."""
    from oar.integrations.errata import ErrataClient
    from oar.sandbox import seed
    from oar.sandbox.errata import SANDBOX_TOKEN

    async with Sandbox(base_port=0) as sandbox:
        before = sandbox.snapshot()
        rpm = seed.ADVISORIES[seed.RELEASE]["rpm"]
        async with ErrataClient(sandbox.urls["errata"], token=SANDBOX_TOKEN) as errata:
            await errata.get_advisory(rpm)
            await errata.jira_issues(rpm)
            assert sandbox.snapshot() == before  # the call journal is not state
            await errata.remove_jira_issues(rpm, ["OCPBUGS-50001"])
        after = sandbox.snapshot()
        assert after["errata"] != before["errata"]
        assert {k: v for k, v in after.items() if k != "errata"} == {
            k: v for k, v in before.items() if k != "errata"
        }
        slack = sandbox.servers["slack"]
        await slack.post_message("oar-sandbox", "U0ALICE002", "hello")  # type: ignore[attr-defined]
        assert sandbox.snapshot()["slack"] != after["slack"]
