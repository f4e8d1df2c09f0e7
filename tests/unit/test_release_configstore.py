"""ConfigStore: the encrypted configuration file, ocp-build-data's inheritance rules, the
getters, the flow, and the credentials check that names every missing variable at once."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
import structlog

from oar.errors import BuildDataNotReadyError, ConfigurationError
from oar.integrations.fakes.builddata import FakeBuildData
from oar.release import configfile
from oar.release.assemblies import Assembly
from oar.release.checklist import Flow
from oar.release.configstore import ConfigStore, config_requirements
from oar.release.credentials import missing_credentials, require_credentials
from oar.release.versions import ReleaseVersion
from oar.sandbox import releaseconfig, seed
from oar.settings import Settings, load_settings

FIXTURES = Path(__file__).parents[1] / "fixtures" / "ocp-build-data"


def recorded(y: str = "4.17") -> str:
    return (FIXTURES / f"releases-{y}.yml").read_text()


def assembly(release: str, text: str | None = None) -> Assembly:
    return Assembly.of(
        ReleaseVersion.parse(release), text or recorded(), url="https://example.invalid/%s"
    )


# --- the configuration file -------------------------------------------------------------------
def test_encrypt_then_decrypt_gives_back_the_configuration() -> None:
    key = configfile.generate_jwk()
    plaintext = releaseconfig.config_text().encode()
    token = configfile.encrypt(plaintext, key)
    assert configfile.is_encrypted(token)
    assert token.count(".") == 4
    header = json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))
    assert header == {"alg": "dir", "enc": "A128GCM"}
    assert b"qe-release" not in token.encode()
    assert configfile.decrypt(token, key) == plaintext


def test_a_wrong_key_is_a_clear_error_that_does_not_show_the_key() -> None:
    token = configfile.encrypt(b'{"owners": {}}', configfile.generate_jwk())
    other = configfile.generate_jwk()
    with pytest.raises(ConfigurationError) as caught:
        configfile.decrypt(token, other, source="config.jwe")
    message = caught.value.message
    assert "cannot decrypt config.jwe with OAR_JWK" in message
    assert "not the one it was encrypted with" in message
    assert json.loads(other)["k"] not in message
    assert "OAR_JWK" in caught.value.variables


@pytest.mark.parametrize(
    ("jwk", "problem"),
    [
        ("not json", "OAR_JWK is not JSON"),
        ('{"kty": "RSA", "n": "x"}', "must be a symmetric JWK"),
        ('{"kty": "oct", "k": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}', "256-bit key"),
    ],
)
def test_an_unusable_key_names_the_variable(jwk: str, problem: str) -> None:
    with pytest.raises(ConfigurationError, match=problem) as caught:
        configfile.encrypt(b"{}", jwk)
    assert caught.value.variables == ("OAR_JWK",)


def test_the_file_is_read_encrypted_or_plaintext_with_a_warning(tmp_path: Path) -> None:
    env = releaseconfig.write_config(tmp_path)
    assert configfile.load(Path(env["OAR_CONFIG_FILE"]), env["OAR_JWK"]) == releaseconfig.config()
    with pytest.raises(ConfigurationError, match="is encrypted: set OAR_JWK"):
        configfile.load(Path(env["OAR_CONFIG_FILE"]), None)

    plain = tmp_path / "plain.json"
    plain.write_text(releaseconfig.config_text())
    with structlog.testing.capture_logs() as logs:
        assert configfile.load(plain, None) == releaseconfig.config()
    assert {"event": "release.config.plaintext", "path": str(plain), "log_level": "warning"} in logs

    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    with pytest.raises(ConfigurationError, match="is not valid JSON"):
        configfile.load(broken, None)
    with pytest.raises(ConfigurationError, match="cannot read"):
        configfile.load(tmp_path / "missing.jwe", None)


def test_show_masks_secret_looking_values() -> None:
    shown = configfile.mask_secrets(
        {"jira_server": "https://jira", "google_app_passwd": "hunter2", "nested": {"api_key": "k"}}
    )
    assert shown == {
        "jira_server": "https://jira",
        "google_app_passwd": "***",
        "nested": {"api_key": "***"},
    }


# --- ocp-build-data inheritance ----------------------------------------------------------------
def test_a_value_on_the_assembly_itself_is_used() -> None:
    a = assembly("4.17.20")
    assert a.get("group/release_jira") == "ART-9100"
    assert a.get("group/advisories")["microshift"] == 131005


def test_an_override_with_bang_wins_over_the_plain_key() -> None:
    # 4.17.22 has both release_jira and release_jira!: the override is taken.
    assert assembly("4.17.22").get("group/release_jira") == "ART-9103"
    # 4.17.21 overrides advisories (no microshift) instead of inheriting 4.17.20's.
    advisories = assembly("4.17.21").get("group/advisories")
    assert advisories == {"extras": 132001, "image": 132002, "metadata": 132003, "rpm": 132004}


def test_missing_values_come_from_the_basis_assembly_up_the_chain() -> None:
    a = assembly("4.17.22")
    assert a.chain() == ["4.17.22", "4.17.21", "4.17.20"]
    assert a.get("group/advisories")["rpm"] == 132004  # from 4.17.21 (advisories!)
    assert a.get("basis/reference_releases") == {  # from 4.17.21 (reference_releases!)
        "x86_64": "registry.ci.openshift.org/ocp/release:4.17.0-0.nightly-2026-01-19-101010"
    }
    assert a.get("group/upgrades") == "4.16.30,4.17.19"  # from 4.17.20, two levels up
    assert assembly("4.17.21").get("group/release_date") == "2026-Jan-14"
    assert a.get("group/no_such_key", "absent") == "absent"


def test_candidates_are_keyed_by_their_prerelease_part() -> None:
    rc = assembly("4.17.0-rc.3")
    assert rc.key == "rc.3"
    assert rc.get("group/release_jira") == "ART-9002"
    assert rc.get("group/advisories") == {"image": 130001, "extras": 130002}  # from ec.2


def test_a_basis_cycle_ends_the_lookup() -> None:
    assert assembly("4.17.23").get("group/advisories") is None


def test_a_release_not_in_build_data_yet_is_reported_with_the_url() -> None:
    with pytest.raises(BuildDataNotReadyError) as caught:
        assembly("4.17.30")
    assert "[4.17.30] ocp-build-data is not ready" in caught.value.message
    assert "https://example.invalid/%s" in caught.value.message
    with pytest.raises(BuildDataNotReadyError, match="not valid YAML"):
        assembly("4.17.20", "releases: [unclosed")


# --- ConfigStore ------------------------------------------------------------------------------
def settings_for(tmp_path: Path, **extra: str) -> Settings:
    env = releaseconfig.write_config(tmp_path / "config")
    return load_settings(environ={**env, "OAR_DATA_DIR": str(tmp_path), **extra})


async def test_the_konflux_release_reads_its_build_data_and_configuration(tmp_path: Path) -> None:
    store = await ConfigStore.load(
        settings_for(tmp_path),
        ReleaseVersion.parse(seed.RELEASE),
        build_data=FakeBuildData(seed.build_data_files()),
    )
    assert store.flow is Flow.KONFLUX
    assert store.advisories() == seed.ADVISORIES[seed.RELEASE]
    assert store.candidate_builds() == seed.CANDIDATE_BUILDS
    assert store.jira_ticket() == seed.JIRA_TICKETS[seed.RELEASE]
    assert store.shipment_mr() == seed.SHIPMENT_MR_URL
    assert store.release_date() == seed.RELEASE_DATES[seed.RELEASE]
    assert store.owner() == seed.RELEASE_OWNER
    assert store.qe_release_channel() == "#team-qe-release"
    assert store.qe_leads_group() == "4.19-qe-leads"
    assert store.slack_group_id("art") == "openshift-art"
    assert store.email_contact("qe") == "aos-qe@example.com"
    assert store.prodsec_approvers() == ["mlead@example.com", "release.owner@example.com"]
    assert store.service_url("release_url") == "https://amd64.ocp.releases.ci.openshift.org/"
    metadata = store.metadata()
    assert metadata.flow is Flow.KONFLUX
    assert metadata.advisory_ids == seed.ADVISORIES[seed.RELEASE]


async def test_the_errata_release_keeps_every_advisory_including_microshift(
    tmp_path: Path,
) -> None:
    store = await ConfigStore.load(
        settings_for(tmp_path),
        ReleaseVersion.parse(seed.ERRATA_RELEASE),
        build_data=FakeBuildData(seed.build_data_files()),
    )
    assert store.flow is Flow.ERRATA
    assert store.shipment_mr() is None
    assert store.advisories() == seed.ADVISORIES[seed.ERRATA_RELEASE]
    assert "microshift" in store.advisories()
    assert store.qe_leads_group() == "4.18-qe-leads"


async def test_missing_configuration_keys_and_build_data_are_named(tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    with pytest.raises(BuildDataNotReadyError, match=r"no releases\.yml on branch openshift-4\.12"):
        await ConfigStore.load(
            settings,
            ReleaseVersion.parse("4.12.1"),
            build_data=FakeBuildData(seed.build_data_files()),
        )
    store = await ConfigStore.load(
        settings,
        ReleaseVersion.parse(seed.RELEASE),
        config={},
        build_data=FakeBuildData(seed.build_data_files()),
    )
    with pytest.raises(ConfigurationError, match=r"has no contacts \(OAR_CONFIG_FILE\)"):
        store.qe_release_channel()
    assert store.owner() is None


async def test_without_a_configuration_file_release_commands_are_told_what_to_set(
    tmp_path: Path,
) -> None:
    settings = load_settings(environ={"OAR_DATA_DIR": str(tmp_path)})
    with pytest.raises(ConfigurationError, match="OAR_CONFIG_FILE is not set"):
        await ConfigStore.load(settings, ReleaseVersion.parse(seed.RELEASE))


# --- credentials ------------------------------------------------------------------------------
def test_every_missing_credential_is_listed_in_one_error(tmp_path: Path) -> None:
    settings = load_settings(environ={"JIRA_TOKEN": "t0ken", "OAR_DATA_DIR": str(tmp_path)})
    names = ["OAR_CONFIG_FILE", "JIRA_TOKEN", "GITLAB_TOKEN", "SLACK_BOT_TOKEN", "JENKINS_USER"]
    assert missing_credentials(settings, names) == [
        "OAR_CONFIG_FILE",
        "GITLAB_TOKEN",
        "SLACK_BOT_TOKEN",
        "JENKINS_USER",
    ]
    with pytest.raises(ConfigurationError) as caught:
        require_credentials(settings, names, command="oar take-ownership")
    assert caught.value.variables == (
        "OAR_CONFIG_FILE",
        "GITLAB_TOKEN",
        "SLACK_BOT_TOKEN",
        "JENKINS_USER",
    )
    for name in caught.value.variables:
        assert name in caught.value.message
    assert "JIRA_TOKEN" not in caught.value.message
    with pytest.raises(ValueError, match="NOT_A_SETTING"):
        missing_credentials(settings, ["NOT_A_SETTING"])


def test_the_key_is_required_only_for_an_encrypted_configuration(tmp_path: Path) -> None:
    env = releaseconfig.write_config(tmp_path)
    encrypted = load_settings(environ={"OAR_CONFIG_FILE": env["OAR_CONFIG_FILE"]})
    assert config_requirements(encrypted) == ("OAR_CONFIG_FILE", "OAR_JWK")
    plain = tmp_path / "plain.json"
    plain.write_text(releaseconfig.config_text())
    assert config_requirements(load_settings(environ={"OAR_CONFIG_FILE": str(plain)})) == (
        "OAR_CONFIG_FILE",
    )
    assert config_requirements(load_settings(environ={})) == ("OAR_CONFIG_FILE",)
