"""ConfigStore: one release's configuration, from the configuration file and ocp-build-data.

The configuration file (``OAR_CONFIG_FILE``, JWE decrypted with ``OAR_JWK``) holds what
does not change per release: owners, Slack and e-mail contacts, service URLs, the
build-data URL template. ocp-build-data's ``releases.yml`` holds what does: the
release's advisories, candidate builds, ART Jira ticket, release date and shipment MR
(see :mod:`oar.release.assemblies` for the inheritance rules).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from oar.errors import BuildDataNotReadyError, ConfigurationError, IntegrationNotFoundError
from oar.integrations.builddata import BuildData, HttpBuildData
from oar.logs import get_logger
from oar.release import configfile
from oar.release.assemblies import Assembly
from oar.release.checklist import Flow, ReleaseMetadata
from oar.release.versions import ReleaseVersion
from oar.settings import Settings

log = get_logger(__name__)

# Service URLs the configuration may name (the original tool's keys).
SERVICE_KEYS = ("jira_server", "jenkins_server", "gitlab_url", "release_url", "signature_url")


def config_requirements(settings: Settings) -> tuple[str, ...]:
    """The variables reading the configuration needs: the file, and its key if encrypted.

    Reading the file's first bytes is cheap, so a plaintext development file does not
    demand a key, and an encrypted one reports a missing OAR_JWK with the other
    missing credentials before any work starts.
    """
    if settings.config_file is None:
        return ("OAR_CONFIG_FILE",)
    try:
        head = settings.config_file.read_text(encoding="utf-8")[:4096]
    except (OSError, UnicodeDecodeError):
        return ("OAR_CONFIG_FILE",)  # load() will name the problem with the file
    return (
        ("OAR_CONFIG_FILE", "OAR_JWK")
        if not head.lstrip().startswith("{")
        else ("OAR_CONFIG_FILE",)
    )


def load_config(settings: Settings) -> dict[str, Any]:
    """The decrypted configuration object named by OAR_CONFIG_FILE."""
    if settings.config_file is None:
        raise ConfigurationError(
            "OAR_CONFIG_FILE is not set: release commands need the release configuration"
            " (a JWE file decrypted with OAR_JWK; see docs/release.md)",
            variables=["OAR_CONFIG_FILE"],
        )
    jwk = settings.oar_jwk.get_secret_value() if settings.oar_jwk else None
    return configfile.load(settings.config_file, jwk)


class ConfigStore:
    """The configuration of one release; getters name what is missing."""

    def __init__(
        self, *, version: ReleaseVersion, config: Mapping[str, Any], assembly: Assembly
    ) -> None:
        self.version = version
        self.config = config
        self.assembly = assembly

    @classmethod
    async def load(
        cls,
        settings: Settings,
        version: ReleaseVersion,
        *,
        config: Mapping[str, Any] | None = None,
        build_data: BuildData | None = None,
    ) -> ConfigStore:
        """Read the configuration file and the release's assembly from ocp-build-data."""
        if config is None:
            config = load_config(settings)
        template = config.get("build_data_url")
        if template is not None and not isinstance(template, str):
            raise ConfigurationError(
                "the configuration's build_data_url must be a string", variables=["OAR_CONFIG_FILE"]
            )
        if build_data is None:
            build_data = HttpBuildData.from_settings(settings, config_template=template)
        url = build_data.url(version.y_stream)
        try:
            text = await build_data.releases(version.y_stream)
        except IntegrationNotFoundError as exc:
            raise BuildDataNotReadyError(
                version.text, url, f"no releases.yml on branch {version.build_data_branch}"
            ) from exc
        assembly = Assembly.of(version, text, url=url)
        log.debug("release.config.loaded", release=version.text, assemblies=assembly.chain())
        return cls(version=version, config=config, assembly=assembly)

    # --- the release ----------------------------------------------------------------------
    @property
    def release(self) -> str:
        return self.version.text

    @property
    def y_stream(self) -> str:
        return self.version.y_stream

    @property
    def release_key(self) -> str:
        return self.version.release_key

    @property
    def flow(self) -> Flow:
        """Konflux when the assembly names a shipment MR, else the errata flow."""
        return Flow.KONFLUX if self.shipment_mr() else Flow.ERRATA

    @property
    def is_konflux(self) -> bool:
        return self.flow is Flow.KONFLUX

    # --- from ocp-build-data --------------------------------------------------------------
    def advisories(self) -> dict[str, int]:
        """The impetus → advisory ID map (``group/advisories``), nothing filtered out."""
        value = self.assembly.get("group/advisories", {})
        if not isinstance(value, dict):
            return {}
        advisories: dict[str, int] = {}
        for impetus, advisory in value.items():
            try:
                advisories[str(impetus)] = int(advisory)
            except (TypeError, ValueError):
                log.warning("release.config.bad_advisory", release=self.release, impetus=impetus)
        return advisories

    def advisory_ids(self) -> list[int]:
        return list(self.advisories().values())

    def candidate_builds(self) -> dict[str, str]:
        """Architecture → nightly pull spec (``basis/reference_releases``)."""
        value = self.assembly.get("basis/reference_releases", {})
        return {str(k): str(v) for k, v in value.items()} if isinstance(value, dict) else {}

    def jira_ticket(self) -> str | None:
        """The ART Jira ticket of the release (``group/release_jira``)."""
        value = self.assembly.get("group/release_jira")
        return None if value is None else str(value)

    def shipment_mr(self) -> str | None:
        """The shipment merge request URL (``group/shipment/url``); None in the errata flow."""
        value = self.assembly.get("group/shipment/url")
        return str(value) if value else None

    def release_date(self) -> str:
        """The planned release date (``group/release_date``, e.g. ``2026-Nov-26``)."""
        value = self.assembly.get("group/release_date")
        if value is None:
            raise BuildDataNotReadyError(self.release, self.assembly.url, "no group/release_date")
        return str(value)

    def metadata(self) -> ReleaseMetadata:
        """What the release state records about this release."""
        try:
            date: str | None = self.release_date()
        except BuildDataNotReadyError:
            date = None
        return ReleaseMetadata(
            release=self.release,
            y_stream=self.y_stream,
            flow=self.flow,
            jira_ticket=self.jira_ticket(),
            advisory_ids=self.advisories(),
            release_date=date,
            candidate_builds=self.candidate_builds(),
            shipment_mr=self.shipment_mr(),
            owner=self.owner(),
        )

    # --- from the configuration file ------------------------------------------------------
    def _path(self, *keys: str) -> Any:
        node: Any = self.config
        for depth, key in enumerate(keys):
            if not isinstance(node, Mapping) or key not in node:
                where = ".".join(keys[: depth + 1])
                raise ConfigurationError(
                    f"the release configuration has no {where} (OAR_CONFIG_FILE)",
                    variables=["OAR_CONFIG_FILE"],
                )
            node = node[key]
        return node

    def owner(self) -> str | None:
        """The release owner's e-mail: ``owners[<y>]``, else ``owners.default``."""
        owners = self.config.get("owners")
        if not isinstance(owners, Mapping):
            return None
        value = owners.get(self.y_stream, owners.get("default"))
        return None if value is None else str(value)

    def report_template(self) -> str | None:
        templates = self.config.get("report_templates")
        if not isinstance(templates, Mapping):
            return None
        value = templates.get(self.y_stream)
        return None if value is None else str(value)

    def slack_contact(self, team: str) -> dict[str, Any]:
        """``contacts.slack.<team>``: ``{channel, id, …}``."""
        value = self._path("contacts", "slack", team)
        if not isinstance(value, Mapping):
            raise ConfigurationError(
                f"contacts.slack.{team} must be an object", variables=["OAR_CONFIG_FILE"]
            )
        return dict(value)

    def slack_channel(self, team: str) -> str:
        return str(self._path("contacts", "slack", team, "channel"))

    def slack_group_id(self, team: str) -> str:
        """The Slack user group of a team (``contacts.slack.<team>.id``)."""
        return str(self._path("contacts", "slack", team, "id"))

    def qe_release_channel(self) -> str:
        return self.slack_channel("qe-release")

    def qe_leads_group(self) -> str:
        """The y-stream's QE-lead user group handle (``contacts.slack.qe-release.<y>``)."""
        return str(self._path("contacts", "slack", "qe-release", self.y_stream))

    def prodsec_approvers(self) -> list[str]:
        """``contacts.slack.approver.prodsec_id``, a comma-separated list of e-mails."""
        value = str(self._path("contacts", "slack", "approver", "prodsec_id"))
        return [part.strip() for part in value.split(",") if part.strip()]

    def email_contact(self, team: str) -> str:
        return str(self._path("contacts", "email", team))

    def service_url(self, name: str) -> str:
        """A service URL the configuration names (``jira_server``, ``release_url``, …)."""
        if name not in SERVICE_KEYS:
            raise ConfigurationError(
                f"unknown service URL {name!r}: use one of {', '.join(SERVICE_KEYS)}"
            )
        return str(self._path(name))

    def service_urls(self) -> dict[str, str]:
        return {key: str(self.config[key]) for key in SERVICE_KEYS if key in self.config}
