"""One typed Settings object, built once at start-up from the environment and ``.env``.

Every variable is declared here with its exact environment name, so the configuration
reference (``docs/configuration.md``) and the error messages name the same thing the
user types. Nothing else in OAR reads ``os.environ`` (the ``OAR_SLACK_*`` hand-over to
subprocesses excepted).
"""

from __future__ import annotations

import errno
import os
import re
import socket
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AliasChoices, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from oar.cadence import parse_cadence, parse_overrides
from oar.errors import ConfigurationError
from oar.origins import normalize_origin

LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR"]
LogFormat = Literal["console", "json"]
Role = Literal["web", "worker", "bot"]

_LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
MIN_API_TOKEN_LENGTH = 16
_EXECUTOR_ID = re.compile(r"^[A-Za-z0-9._:@-]{1,100}$")
_Y_STREAM = re.compile(r"^(?:0|[1-9][0-9]{0,5})\.(?:0|[1-9][0-9]{0,5})$")


def _default_data_dir() -> Path:
    """``$XDG_DATA_HOME/oar`` (``~/.local/share/oar``): shared by the service and the CLI."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "oar"


def _env(name: str, description: str, **kwargs: Any) -> Any:
    """A field read from exactly one environment variable, documented in place."""
    return Field(validation_alias=AliasChoices(name), description=description, **kwargs)


class Settings(BaseSettings):
    """OAR's configuration. Build it with :func:`load_settings` to get readable errors."""

    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        populate_by_name=False,
        frozen=True,
    )

    # --- storage -------------------------------------------------------------------
    data_dir: Path = _env(
        "OAR_DATA_DIR",
        "Directory for the embedded SQLite database and worker logs.",
        default_factory=_default_data_dir,
    )
    database_url_setting: SecretStr | None = _env(
        "OAR_DATABASE_URL",
        "Database URL: sqlite:///path or postgresql://user:pass@host/db."
        " Default: a SQLite file oar.db in OAR_DATA_DIR.",
        default=None,
    )
    sqlite_write_turn: bool = _env(
        "OAR_SQLITE_WRITE_TURN",
        "SQLite only: the writers of one process take the write lock in turn, first come"
        " first served, instead of racing for it in SQLite's busy handler. Turn off only to"
        " measure the difference (bench/webhooks.py does).",
        default=True,
    )

    # --- service -------------------------------------------------------------------
    host: str = _env("OAR_HOST", "Address the HTTP server binds to.", default="127.0.0.1")
    port: int = _env("OAR_PORT", "Port of the HTTP server.", default=8080, ge=0, le=65535)
    api_token: SecretStr | None = _env(
        "OAR_API_TOKEN",
        "Bearer token every HTTP request and WebSocket needs (health checks and the signed"
        " webhook receivers excepted); at least 16 characters. Without it the server only"
        " binds to loopback and checks Host and Origin.",
        default=None,
    )
    metrics_public: bool = _env(
        "OAR_METRICS_PUBLIC",
        "Serve /metrics without the API token (for a Prometheus that cannot send one).",
        default=False,
    )
    allowed_origins: Annotated[tuple[str, ...], NoDecode] = _env(
        "OAR_ALLOWED_ORIGINS",
        "Comma-separated browser origins (scheme://host[:port]) besides the server's own"
        " that may open /ws and send mutations when no OAR_API_TOKEN is set.",
        default=(),
    )
    max_body_bytes: int = _env(
        "OAR_MAX_BODY_BYTES",
        "Largest HTTP request body (and WebSocket message) accepted, in bytes; larger ones"
        " get 413. The GitHub webhook receiver has its own 25 MB limit.",
        default=1024 * 1024,
        ge=1024,
        le=64 * 1024 * 1024,
    )
    executor_id_setting: str | None = _env(
        "OAR_EXECUTOR_ID",
        "Stable ID of this process's durable executor; after a crash, the process that"
        " restarts with the same ID resumes its work. Default: <hostname>-<role>.",
        default=None,
    )
    # NoDecode: the variable is a plain comma-separated list (`a,b`), not JSON.
    plugins: Annotated[tuple[str, ...], NoDecode] = _env(
        "OAR_PLUGINS",
        "Comma-separated Python modules imported at start-up to register task handlers.",
        default=(),
    )

    # NoDecode: a plain comma-separated list of name=value (`a=30m,b=off`), not JSON.
    schedule_overrides: Annotated[dict[str, str], NoDecode] = _env(
        "OAR_SCHEDULES",
        "Comma-separated name=value per registered schedule: an interval (30s, 5m, 2h, 1d),"
        " a cron expression (no commas), off (never runs) or on. Unlisted schedules keep"
        " the interval and on/off their code registers. Nothing is scheduled by default.",
        default_factory=dict,
    )

    # --- agents (docs/agents.md) ---------------------------------------------------------
    # NoDecode: a plain comma-separated list (`4.19,4.18`), not JSON.
    release_detector_y_streams: Annotated[tuple[str, ...], NoDecode] = _env(
        "OAR_RELEASE_DETECTOR_Y_STREAMS",
        "Comma-separated y-streams the release detector watches (one schedule each,"
        " release-detector-<y>, and GitHub pushes to their z-stream files). Empty: off.",
        default=(),
    )
    release_detector_interval: str = _env(
        "OAR_RELEASE_DETECTOR_INTERVAL",
        "How often each release-detector schedule runs: an interval (30s, 5m, 1h) or cron.",
        default="1h",
    )
    result_checker_channel: str | None = _env(
        "OAR_RESULT_CHECKER_CHANNEL",
        "Slack channel the test-result checker announces rejected builds in; unset: the"
        " test-result-checker schedule is off.",
        default=None,
    )
    result_checker_interval: str = _env(
        "OAR_RESULT_CHECKER_INTERVAL",
        "How often the test-result-checker schedule runs: an interval or cron.",
        default="1h",
    )
    result_checker_limit: int = _env(
        "OAR_RESULT_CHECKER_LIMIT",
        "At most this many rejected builds announced by the checker's first run (the"
        " others are recorded as skipped).",
        default=5,
        ge=0,
        le=1000,
    )

    # --- the CI gate (jobctl's agents) -------------------------------------------------
    # NoDecode: plain comma-separated lists (`4.19,4.18`), not JSON.
    job_streams: Annotated[tuple[str, ...], NoDecode] = _env(
        "OAR_JOB_STREAMS",
        "Comma-separated y-streams (4.19,4.18) whose builds the job controller tests on a"
        " schedule (one per y-stream, architecture and nightly/stable). Empty: no schedule.",
        default=(),
    )
    job_arches: Annotated[tuple[str, ...], NoDecode] = _env(
        "OAR_JOB_ARCHES",
        "Comma-separated architectures of the job controller and aggregator schedules.",
        default=("amd64",),
    )
    job_interval: str = _env(
        "OAR_JOB_INTERVAL",
        "How often the job controller and aggregator schedules run (30m, 1h).",
        default="1h",
    )
    job_record_branch: str = _env(
        "OAR_JOB_RECORD_BRANCH",
        "Branch of OAR_GITHUB_REPO holding the tracking and test result files.",
        default="record",
    )
    job_registry_branch: str = _env(
        "OAR_JOB_REGISTRY_BRANCH",
        "Branch of OAR_GITHUB_REPO holding the test-job registry files.",
        default="main",
    )

    # --- logging -------------------------------------------------------------------
    log_level: LogLevel = _env("OAR_LOG_LEVEL", "DEBUG, INFO, WARNING or ERROR.", default="INFO")
    log_format: LogFormat = _env(
        "OAR_LOG_FORMAT",
        "console (human-readable) or json (one object per line).",
        default="console",
    )

    # --- durable engine ------------------------------------------------------------
    task_concurrency: int = _env(
        "OAR_TASK_CONCURRENCY",
        "Background tasks one worker process runs at once.",
        default=50,
        ge=1,
        le=10_000,
    )
    task_global_concurrency: int | None = _env(
        "OAR_TASK_GLOBAL_CONCURRENCY",
        "Background tasks all worker processes together run at once (unset: no cap).",
        default=None,
        ge=1,
    )
    task_timeout: float = _env(
        "OAR_TASK_TIMEOUT",
        "Default per-attempt timeout of a task, in seconds.",
        default=300.0,
        gt=0,
        le=7 * 24 * 3600,
    )
    task_retries: int = _env(
        "OAR_TASK_RETRIES",
        "Default number of retries after a task's first attempt.",
        default=3,
        ge=0,
        le=100,
    )
    task_retry_delay: float = _env(
        "OAR_TASK_RETRY_DELAY",
        "Default delay before the first retry, in seconds; it doubles"
        " with each retry, with jitter.",
        default=5.0,
        ge=0,
        le=24 * 3600,
    )
    queue_poll_interval: float = _env(
        "OAR_QUEUE_POLL_INTERVAL",
        "How often a worker looks for queued work, in seconds.",
        default=0.2,
        gt=0,
        le=60,
    )
    notification_poll_interval: float = _env(
        "OAR_NOTIFICATION_POLL_INTERVAL",
        "SQLite only: how often the durable engine polls for messages to waiting workflows"
        " (durable approval waits), in seconds.",
        default=0.5,
        gt=0,
        le=60,
    )
    change_poll_interval: float = _env(
        "OAR_CHANGE_POLL_INTERVAL",
        "SQLite only: how often a process with approval waiters or WebSocket clients looks"
        " for approvals changed by other processes, in seconds.",
        default=0.1,
        gt=0,
        le=60,
    )
    shutdown_grace: float = _env(
        "OAR_SHUTDOWN_GRACE",
        "Seconds running tasks get to finish on shutdown; the rest resume at next start.",
        default=30.0,
        ge=0,
        le=3600,
    )
    approval_timeout: float = _env(
        "OAR_APPROVAL_TIMEOUT",
        "Seconds an approval waits for a decision when its request names no timeout.",
        default=300.0,
        gt=0,
        le=30 * 24 * 3600,
    )
    # NoDecode: a plain comma-separated list of command names (`a,b`), not JSON.
    mcp_gated: Annotated[tuple[str, ...] | None, NoDecode] = _env(
        "OAR_MCP_GATED",
        "Comma-separated release commands that an MCP client may run only after a person"
        " approves in Slack (e.g. take-ownership,drop-bugs); 'none' gates none. Default:"
        " every command the registry marks irreversible.",
        default=None,
    )
    mcp_approval_timeout: float = _env(
        "OAR_MCP_APPROVAL_TIMEOUT",
        "Seconds a gated MCP call waits for a person's decision before it is refused.",
        default=86400.0,
        gt=0,
        le=30 * 24 * 3600,
    )
    heartbeat_interval: float = _env(
        "OAR_HEARTBEAT_INTERVAL",
        "How often a worker records that it is alive, in seconds.",
        default=5.0,
        gt=0,
        le=300,
    )
    approval_watch_interval: float = _env(
        "OAR_APPROVAL_WATCH_INTERVAL",
        "Seconds between two checks of the payload metadata URL by a release-approval watch.",
        default=1800.0,
        gt=0,
        le=24 * 3600,
    )
    approval_watch_deadline: float = _env(
        "OAR_APPROVAL_WATCH_DEADLINE",
        "Seconds a release-approval watch keeps checking before it records a timeout.",
        default=172800.0,
        gt=0,
        le=6 * 24 * 3600,
    )
    image_consistency_interval: float = _env(
        "OAR_IMAGE_CONSISTENCY_INTERVAL",
        "Seconds between two checks of the image consistency Prow job by its follow.",
        default=300.0,
        gt=0,
        le=24 * 3600,
    )
    image_consistency_deadline: float = _env(
        "OAR_IMAGE_CONSISTENCY_DEADLINE",
        "Seconds the image consistency follow waits for its Prow job before it records a timeout.",
        default=6 * 3600.0,
        gt=0,
        le=6 * 24 * 3600,
    )
    stage_testing_interval: float = _env(
        "OAR_STAGE_TESTING_INTERVAL",
        "Seconds between two checks of the stage-testing follow (stage release, Jenkins build).",
        default=600.0,
        gt=0,
        le=24 * 3600,
    )
    stage_testing_deadline: float = _env(
        "OAR_STAGE_TESTING_DEADLINE",
        "Seconds the stage-testing follow waits for the stage release and its Jenkins build"
        " before it records a timeout.",
        default=172800.0,
        gt=0,
        le=6 * 24 * 3600,
    )

    cdn_push_interval: float = _env(
        "OAR_CDN_PUSH_INTERVAL",
        "Seconds between two checks of the stage CDN push jobs by push-to-cdn-staging.",
        default=300.0,
        gt=0,
        le=24 * 3600,
    )
    cdn_push_deadline: float = _env(
        "OAR_CDN_PUSH_DEADLINE",
        "Seconds push-to-cdn-staging follows the push jobs before it records Fail (timeout).",
        default=6 * 3600.0,
        gt=0,
        le=6 * 24 * 3600,
    )
    signature_check_interval: float = _env(
        "OAR_SIGNATURE_CHECK_INTERVAL",
        "Seconds between two looks for the payload's signature by image-signed-check.",
        default=300.0,
        gt=0,
        le=24 * 3600,
    )
    signature_check_deadline: float = _env(
        "OAR_SIGNATURE_CHECK_DEADLINE",
        "Seconds image-signed-check waits for the signature before it records Fail (timeout).",
        default=12 * 3600.0,
        gt=0,
        le=6 * 24 * 3600,
    )

    # --- GitHub App (webhooks; the seed's variable names) ---------------------------
    githubapp_id: str | None = _env("GITHUBAPP_ID", "GitHub App ID.", default=None)
    githubapp_private_key: SecretStr | None = _env(
        "GITHUBAPP_PRIVATE_KEY", "GitHub App private key (PEM text).", default=None
    )
    githubapp_private_key_path: Path | None = _env(
        "GITHUBAPP_PRIVATE_KEY_PATH",
        "File holding the GitHub App private key (PEM).",
        default=None,
    )
    githubapp_webhook_secret: SecretStr | None = _env(
        "GITHUBAPP_WEBHOOK_SECRET",
        "Secret that signs webhook deliveries (X-Hub-Signature-256).",
        default=None,
    )
    githubapp_webhook_path: str = _env(
        "GITHUBAPP_WEBHOOK_PATH", "Path of the webhook receiver.", default="/webhooks/github"
    )
    githubapp_background_tasks: bool = _env(
        "GITHUBAPP_BACKGROUND_TASKS",
        "Run handlers marked background=True as durable tasks (false: run them before"
        " answering, like the original framework).",
        default=True,
    )
    githubapp_max_workers: int = _env(
        "GITHUBAPP_MAX_WORKERS",
        "Webhook tasks one worker process runs at once.",
        default=4,
        ge=1,
        le=1000,
    )
    githubapp_task_timeout: float = _env(
        "GITHUBAPP_TASK_TIMEOUT",
        "Default per-attempt timeout of a webhook task, in seconds.",
        default=300.0,
        gt=0,
        le=24 * 3600,
    )
    githubapp_task_retry_attempts: int = _env(
        "GITHUBAPP_TASK_RETRY_ATTEMPTS",
        "Default retries of a failed webhook task.",
        default=3,
        ge=0,
        le=100,
    )
    githubapp_task_retry_delay: float = _env(
        "GITHUBAPP_TASK_RETRY_DELAY",
        "Delay before the first retry of a webhook task, seconds.",
        default=5.0,
        ge=0,
        le=3600,
    )
    githubapp_task_queue_backend: str = _env(
        "GITHUBAPP_TASK_QUEUE_BACKEND",
        "database (durable, the default) or memory (tests only: lost on exit).",
        default="database",
    )
    githubapp_delivery_lease: float = _env(
        "GITHUBAPP_DELIVERY_LEASE",
        "Seconds a delivery's quick (background=False) handlers may take before a"
        " redelivery of it takes the delivery over and runs them again; keep it well above"
        " the slowest quick handler (GitHub itself waits 10 seconds).",
        default=120.0,
        gt=0,
        le=24 * 3600,
    )
    githubapp_url: str = _env(
        "GITHUBAPP_URL",
        "GitHub API base URL (GitHub Enterprise: https://host/api/v3/).",
        default="https://api.github.com/",
    )
    githubapp_allow_sha1: bool = _env(
        "GITHUBAPP_ALLOW_SHA1",
        "Also accept the legacy X-Hub-Signature (SHA-1) when no SHA-256 signature is sent.",
        default=False,
    )
    githubapp_insecure_no_signature: bool = _env(
        "GITHUBAPP_INSECURE_NO_SIGNATURE",
        "Development only: accept unsigned deliveries when no webhook secret is set.",
        default=False,
    )
    github_app_module: str | None = _env(
        "OAR_GITHUB_APP",
        "module:attribute of a GitHubApp to serve (same as --github-app).",
        default=None,
    )

    # --- release configuration (ConfigStore) -------------------------------------------
    oar_jwk: SecretStr | None = _env(
        "OAR_JWK",
        "Symmetric JWK (JSON) that decrypts the release configuration file (JWE dir/A128GCM).",
        default=None,
    )
    config_file: Path | None = _env(
        "OAR_CONFIG_FILE",
        "Release configuration file: a JWE (decrypted with OAR_JWK) or, for development,"
        " plaintext JSON (accepted with a warning). Release commands need it; OAR ships no"
        " production configuration (`oarctl sandbox` writes one for the sandbox).",
        default=None,
    )
    build_data_url: str | None = _env(
        "OAR_BUILD_DATA_URL",
        "Template of ocp-build-data's releases.yml URL, %s being the branch"
        " (openshift-<y>). Default: the configuration file's build_data_url.",
        default=None,
    )
    dashboard_url: str | None = _env(
        "OAR_DASHBOARD_URL",
        "Base URL of OAR's dashboard, for links to a release (<base>/releases/<release>) in"
        " Slack announcements. Unset: no link.",
        default=None,
    )
    statebox_export: Path | None = _env(
        "OAR_STATEBOX_EXPORT",
        "Absolute path of a directory (e.g. a checkout of the release-tests repository's"
        " z-stream branch) where create-test-report writes the release's StateBox file"
        " (_releases/<y>/statebox/<release>.yaml). Unset: no automatic export.",
        default=None,
    )

    # --- agents: the Jira notificator ------------------------------------------------------
    jira_notificator_interval: str | None = _env(
        "OAR_JIRA_NOTIFICATOR_INTERVAL",
        "How often the worker runs the Jira notificator (an interval such as 1h, or a cron"
        " expression); unset, the schedule is off (OAR_SCHEDULES can still turn it on).",
        default=None,
    )
    # NoDecode: a plain comma-separated list (`4.18.z,4.19.z`), not JSON.
    jira_notificator_versions: Annotated[tuple[str, ...], NoDecode] = _env(
        "OAR_JIRA_NOTIFICATOR_VERSIONS",
        "Comma-separated Jira target versions whose ON_QA bugs the notificator chases.",
        default=(
            "4.12.z",
            "4.13.z",
            "4.14.z",
            "4.15.z",
            "4.16.z",
            "4.17.z",
            "4.18.z",
            "4.19.z",
            "4.20.z",
            "4.21.z",
            "4.22.z",
            "5.0.z",
        ),
    )
    jira_notificator_timezone: str = _env(
        "OAR_JIRA_NOTIFICATOR_TIMEZONE",
        "IANA time zone in which the notificator counts weekday hours (Mon-Fri).",
        default="UTC",
    )

    # --- external systems: where they are ------------------------------------------------
    slack_api_url: str = _env(
        "OAR_SLACK_API_URL",
        "Base URL of the Slack Web API (the sandbox's Slack stand-in in development).",
        default="https://slack.com/api/",
    )
    errata_url: str = _env(
        "OAR_ERRATA_URL", "Errata Tool base URL.", default="https://errata.devel.redhat.com"
    )
    jira_url: str = _env("OAR_JIRA_URL", "Jira base URL.", default="https://redhat.atlassian.net")
    gitlab_url: str = _env(
        "OAR_GITLAB_URL", "GitLab base URL (shipment MRs).", default="https://gitlab.cee.redhat.com"
    )
    jenkins_url: str = _env(
        "OAR_JENKINS_URL", "Jenkins base URL.", default="https://jenkins.invalid"
    )
    ldap_url: str = _env("OAR_LDAP_URL", "LDAP server URL.", default="ldaps://ldap.corp.redhat.com")
    github_api_url: str = _env(
        "OAR_GITHUB_API_URL", "GitHub REST API base URL.", default="https://api.github.com"
    )
    github_repo: str = _env(
        "OAR_GITHUB_REPO",
        "owner/name of the repository holding the _releases files.",
        default="openshift/release-tests",
    )
    release_controller_url: str = _env(
        "OAR_RELEASE_CONTROLLER_URL",
        "Release controller base URL; {arch} is replaced by amd64, arm64, multi, ppc64le, s390x.",
        default="https://{arch}.ocp.releases.ci.openshift.org",
    )
    signature_url: str = _env(
        "OAR_SIGNATURE_URL",
        "Where release payload signatures are published: <this>sha256=<hex>/signature-1.",
        default="https://mirror.openshift.com/pub/openshift-v4/signatures/openshift/release/",
    )
    brew_hub_url: str = _env(
        "OAR_BREW_HUB_URL",
        "Brew (Koji) hub XML-RPC URL: the tags of the RHCOS kernel (read anonymously).",
        default="https://brewhub.engineering.redhat.com/brewhub",
    )
    brew_download_url: str = _env(
        "OAR_BREW_DOWNLOAD_URL",
        "Brew download server's brewroot: build metadata.json files (read anonymously).",
        default="https://download.engineering.redhat.com/brewroot",
    )
    gangway_url: str = _env(
        "OAR_GANGWAY_URL",
        "Prow Gangway API base URL (job triggers).",
        default="https://gangway-ci.apps.ci.l2s4.p1.openshiftapps.com",
    )
    prow_url: str = _env(
        "OAR_PROW_URL", "Prow base URL (prowjob status).", default="https://prow.ci.openshift.org"
    )
    pyxis_url: str = _env(
        "OAR_PYXIS_URL",
        "Pyxis (container catalog) API base URL: image freshness grades and vulnerabilities.",
        default="https://catalog.stage.redhat.com/api/containers",
    )
    gcs_url: str | None = _env(
        "OAR_GCS_URL",
        "Google Cloud Storage endpoint override (the sandbox's stand-in); default: Google's.",
        default=None,
    )
    kube_api_url: str | None = _env(
        "OAR_KUBE_API_URL",
        "Kubernetes API of the CI cluster holding the ReleasePayloads (the QE gate's label).",
        default=None,
    )
    gcs_bucket: str = _env(
        "OAR_GCS_BUCKET", "Bucket holding Prow job artifacts.", default="qe-private-deck"
    )
    integration_timeout: float = _env(
        "OAR_INTEGRATION_TIMEOUT",
        "Seconds one call to an external system may take before it is abandoned.",
        default=30.0,
        gt=0,
    )
    elliott_path: str = _env(
        "OAR_ELLIOTT_PATH",
        "The elliott program check-cve-tracker-bug runs (a name on PATH or a path); the"
        " sandbox points it at its own elliott executable.",
        default="elliott",
        min_length=1,
    )
    elliott_timeout: float = _env(
        "OAR_ELLIOTT_TIMEOUT",
        "Seconds one elliott run (find-bugs) may take before it is killed.",
        default=900.0,
        gt=0,
    )
    integration_retries: int = _env(
        "OAR_INTEGRATION_RETRIES",
        "Retries of a call that failed transiently (429, 5xx, connection error).",
        default=3,
        ge=0,
        le=10,
    )

    # --- external systems: credentials (the original tool's names) -----------------------
    slack_bot_token: SecretStr | None = _env(
        "SLACK_BOT_TOKEN", "Slack bot token (xoxb-…): posting, reading threads.", default=None
    )
    slack_app_token: SecretStr | None = _env(
        "SLACK_APP_TOKEN", "Slack app-level token (xapp-…) for Socket Mode.", default=None
    )
    slack_signing_secret: SecretStr | None = _env(
        "SLACK_SIGNING_SECRET", "Slack signing secret, for the bot's HTTP mode.", default=None
    )
    jira_token: SecretStr | None = _env("JIRA_TOKEN", "Jira API token.", default=None)
    jira_username: str | None = _env(
        "JIRA_USERNAME", "Jira user (email) of JIRA_TOKEN.", default=None
    )
    jira_email: str | None = _env(
        "JIRA_EMAIL",
        "Jira e-mail elliott reads; unset, elliott is given JIRA_USERNAME (OCPERT-389).",
        default=None,
    )
    gitlab_token: SecretStr | None = _env("GITLAB_TOKEN", "GitLab access token.", default=None)
    jenkins_user: str | None = _env("JENKINS_USER", "Jenkins user.", default=None)
    jenkins_token: SecretStr | None = _env("JENKINS_TOKEN", "Jenkins API token.", default=None)
    github_token: SecretStr | None = _env(
        "GITHUB_TOKEN",
        "GitHub token for the _releases files and the Jira notificator's pre-merge check.",
        default=None,
    )
    kube_token: SecretStr | None = _env(
        "OAR_KUBE_TOKEN",
        "Bearer token for OAR_KUBE_API_URL (labels ReleasePayloads qe_state=Accepted).",
        default=None,
    )
    prow_token: SecretStr | None = _env(
        "APITOKEN", "Prow Gangway API token (job triggers).", default=None
    )
    gcp_sa_file: Path | None = _env(
        "GCP_SA_FILE", "Google service-account JSON file (GCS artifacts).", default=None
    )
    errata_token: SecretStr | None = _env(
        "ERRATA_TOKEN",
        "Bearer token for Errata Tool; without it Kerberos (a kinit ticket) is used.",
        default=None,
    )
    model_api_base: str | None = _env(
        "MODEL_API_BASE", "OpenAI-compatible LLM API base URL (without /v1).", default=None
    )
    model_api_key: SecretStr | None = _env("MODEL_API_KEY", "LLM API key.", default=None)
    model_api_name: str | None = _env("MODEL_API_NAME", "LLM model name.", default=None)

    # --- Slack bot ---------------------------------------------------------------------
    slack_mode: Literal["socket", "http"] = _env(
        "OAR_SLACK_MODE",
        "socket (Socket Mode, needs SLACK_APP_TOKEN) or http (Events API at"
        " OAR_SLACK_EVENTS_PATH, needs SLACK_SIGNING_SECRET).",
        default="socket",
    )
    slack_events_path: str = _env(
        "OAR_SLACK_EVENTS_PATH",
        "Path of the Slack Events API endpoint (http mode).",
        default="/slack/events",
    )
    slack_command_timeout: float = _env(
        "OAR_SLACK_COMMAND_TIMEOUT",
        "Seconds a command run from Slack may take before its whole process group is killed.",
        default=600.0,
        gt=0,
    )
    slack_progress_interval: float = _env(
        "OAR_SLACK_PROGRESS_INTERVAL",
        "Seconds between updates of a running command's elapsed time in its thread.",
        default=10.0,
        gt=0,
    )
    slack_busy_report: float = _env(
        "OAR_SLACK_BUSY_REPORT",
        "Seconds after which the watchdog reports an operation still running in a thread"
        " (it only reports; it never releases the thread).",
        default=900.0,
        gt=0,
    )
    slack_dedupe_ttl: float = _env(
        "OAR_SLACK_DEDUPE_TTL",
        "Seconds a received Slack event is remembered to drop redeliveries (at least 600:"
        " Slack's last retry comes about 5 minutes after the first delivery).",
        default=3600.0,
        ge=600,
    )
    slack_access_file: Path | None = _env(
        "OAR_SLACK_ACCESS_FILE",
        "JSON file of who may run which command from Slack (users, user groups, channels)."
        " Without it, Slack runs oar and jobctl commands and read-only oarctl views only;"
        " service administration (oarctl serve, config, db, …) is never run from Slack.",
        default=None,
    )
    slack_approvals_channel: str | None = _env(
        "OAR_SLACK_APPROVALS_CHANNEL",
        "Channel where approval requests that name no Slack target are announced.",
        default=None,
    )
    slack_file_threshold: int = _env(
        "OAR_SLACK_FILE_THRESHOLD",
        "Characters of command output above which it is uploaded as a file.",
        default=12000,
        ge=1000,
    )
    llm_timeout: float = _env(
        "OAR_LLM_TIMEOUT",
        "Total seconds an assistant answer may take, streaming included.",
        default=305.0,
        gt=0,
    )
    llm_update_interval: float = _env(
        "OAR_LLM_UPDATE_INTERVAL",
        "Seconds between updates of a streaming answer's Slack message.",
        default=1.5,
        gt=0,
    )

    @field_validator("githubapp_task_queue_backend")
    @classmethod
    def _check_queue_backend(cls, value: str) -> str:
        if value not in ("database", "memory"):
            raise ValueError(
                f"{value!r} is not supported: use database (OAR's durable engine on SQLite,"
                " or on PostgreSQL to scale out across processes and machines) or memory"
                " (tests only)"
            )
        return value

    @field_validator("githubapp_webhook_path")
    @classmethod
    def _check_webhook_path(cls, value: str) -> str:
        if not value.startswith("/") or value.rstrip("/") in ("", "/api", "/ws"):
            raise ValueError("must be an absolute path such as /webhooks/github")
        return value.rstrip("/") or value

    @field_validator("dashboard_url", mode="before")
    @classmethod
    def _check_dashboard_url(cls, value: object) -> object:
        if value is None or (isinstance(value, str) and not value.strip()):
            return None  # unset, or set empty: no link
        text = str(value).strip()
        if not re.match(r"^https?://[^/\s?#]+(/[^\s?#]*)?$", text):
            raise ValueError(
                "must be an http(s) base URL without query or fragment, e.g."
                " https://oar.example.com"
            )
        return text.rstrip("/")

    @field_validator("statebox_export", mode="before")
    @classmethod
    def _check_statebox_export(cls, value: object) -> object:
        if value is None or (isinstance(value, str) and not value.strip()):
            return None  # unset, or set empty: no export
        path = Path(str(value).strip()).expanduser()
        if not path.is_absolute():
            # The CLI, the Slack bot and a worker run in different directories.
            raise ValueError(
                f"{value!s} is not an absolute directory path (to commit the file to GitHub,"
                " run oar -r <release> statebox export --write)"
            )
        return path

    @field_validator("data_dir", mode="before")
    @classmethod
    def _check_data_dir(cls, value: object) -> object:
        # Path("") is the current directory: an empty variable would silently put the
        # database wherever the command happens to run.
        if isinstance(value, str) and not value.strip():
            raise ValueError(
                "is empty: name a directory, or unset it for the default"
                " ($XDG_DATA_HOME/oar, ~/.local/share/oar)"
            )
        return value

    @field_validator("mcp_gated", mode="before")
    @classmethod
    def _split_gated(cls, value: object) -> object:
        if isinstance(value, str):
            if not value.strip():  # an empty variable never turns the gates off
                return None
            if value.strip().lower() == "none":
                return ()
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    @field_validator(
        "plugins",
        "allowed_origins",
        "jira_notificator_versions",
        "release_detector_y_streams",
        "job_streams",
        "job_arches",
        mode="before",
    )
    @classmethod
    def _split_commas(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    @field_validator("jira_notificator_interval")
    @classmethod
    def _check_notificator_interval(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        from oar.cadence import parse_cadence

        parse_cadence(value)  # ValueError says what is accepted
        return value.strip()

    @field_validator("jira_notificator_timezone")
    @classmethod
    def _check_notificator_zone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"{value!r} is not an IANA time zone (UTC, Europe/Prague, …)"
            ) from None
        return value

    @field_validator("release_detector_y_streams")
    @classmethod
    def _check_y_streams(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for y_stream in value:
            if not _Y_STREAM.match(y_stream):
                raise ValueError(f"{y_stream!r} is not a y-stream such as 4.19")
        return tuple(dict.fromkeys(value))

    @field_validator("release_detector_interval", "result_checker_interval")
    @classmethod
    def _check_interval(cls, value: str) -> str:
        parse_cadence(value)  # a ValueError names what is wrong
        return value

    @field_validator("schedule_overrides", mode="before")
    @classmethod
    def _parse_schedules(cls, value: object) -> object:
        if isinstance(value, str):
            return parse_overrides(value)
        return value

    @field_validator("api_token")
    @classmethod
    def _check_api_token(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None:
            return None
        # The message never repeats the token: it ends up in logs and terminals.
        problem = api_token_problem(value.get_secret_value())
        if problem:
            raise ValueError(problem)
        return value

    @field_validator("allowed_origins")
    @classmethod
    def _check_origins(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        origins = []
        for origin in value:
            normalized = normalize_origin(origin)
            if normalized is None:
                raise ValueError(
                    f"{origin!r} is not an origin: write scheme://host[:port], e.g."
                    " http://localhost:3000 (no path)"
                )
            origins.append(normalized)
        return tuple(origins)

    @field_validator("executor_id_setting")
    @classmethod
    def _check_executor_id(cls, value: str | None) -> str | None:
        if value is not None and not _EXECUTOR_ID.match(value):
            raise ValueError("use 1-100 characters from letters, digits and . _ : @ -")
        return value

    @field_validator("database_url_setting")
    @classmethod
    def _check_database_url(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None:
            return None
        normalize_database_url(value.get_secret_value())
        return value

    # --- derived values --------------------------------------------------------------
    @property
    def database_url(self) -> str:
        """The canonical URL (``sqlite:///…`` or ``postgresql://…``), password included."""
        if self.database_url_setting is None:
            return f"sqlite:///{(self.data_dir / 'oar.db').resolve()}"
        return normalize_database_url(self.database_url_setting.get_secret_value())

    @property
    def database_url_masked(self) -> str:
        """The database URL with its password replaced by ``***``: safe to log and show."""
        return mask_url(self.database_url)

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def loopback_only(self) -> bool:
        return self.host in _LOOPBACK_HOSTS

    def executor_id(self, role: str) -> str:
        """The stable executor ID for a process running ``role``."""
        if self.executor_id_setting:
            return self.executor_id_setting
        return f"{socket.gethostname()}-{role}"

    def github_private_key(self) -> str | None:
        """The GitHub App private key, from GITHUBAPP_PRIVATE_KEY or the _PATH file."""
        if self.githubapp_private_key is not None:
            # Environments often carry PEM text with literal "\n" sequences.
            return self.githubapp_private_key.get_secret_value().replace("\\n", "\n")
        if self.githubapp_private_key_path is not None:
            try:
                return self.githubapp_private_key_path.read_text()
            except OSError as exc:
                raise ConfigurationError(
                    f"GITHUBAPP_PRIVATE_KEY_PATH: cannot read {self.githubapp_private_key_path}:"
                    f" {exc.strerror}",
                    variables=["GITHUBAPP_PRIVATE_KEY_PATH"],
                ) from None
        return None

    def secret_values(self) -> list[str]:
        """Every secret string, so log output can be scrubbed of them.

        Derived from the fields: every ``SecretStr`` value is a secret, so a new secret
        setting is scrubbed without being listed here. The database URL is shown masked
        (``database_url_masked``); its secret is its password.
        """
        secrets: list[str] = []
        for name in type(self).model_fields:
            value = getattr(self, name)
            if not isinstance(value, SecretStr):
                continue
            if name == "database_url_setting":
                continue  # its password is added below, from the canonical URL
            secrets.append(value.get_secret_value())
        password = make_url(self.database_url).password
        if password:
            secrets.append(str(password))
        return [s for s in secrets if s]

    def ensure_data_dir(self) -> Path:
        """Create OAR_DATA_DIR if missing and prove a file can be written in it.

        Raises ConfigurationError naming OAR_DATA_DIR (a file in its place, no permission,
        a read-only file system) instead of a traceback from deep inside a command.
        """
        path = self.data_dir.expanduser()
        try:
            path.mkdir(parents=True, exist_ok=True)
            if not path.is_dir():
                raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), str(path))
            with tempfile.TemporaryFile(dir=path, prefix=".oar-write-check-"):
                pass
        except OSError as exc:
            if isinstance(exc, FileExistsError | NotADirectoryError):
                reason = "a file stands where a directory is needed"
            else:
                reason = f"cannot write in it: {exc.strerror or type(exc).__name__}"
            raise ConfigurationError(
                f"OAR_DATA_DIR: {path} is not a usable data directory ({reason})",
                variables=["OAR_DATA_DIR"],
            ) from None
        return path

    def ensure_database_dir(self) -> None:
        """Before opening the database: check OAR_DATA_DIR when it holds the database."""
        if self.database_url_setting is None:
            self.ensure_data_dir()

    def __repr_args__(self) -> Any:
        for name, value in super().__repr_args__():
            if name == "database_url_setting" and value is not None:
                yield name, mask_url(self.database_url)
            else:
                yield name, value


def api_token_problem(token: str) -> str | None:
    """Why ``token`` cannot be the API token, or ``None`` when it can (never quotes it)."""
    if not token.strip():
        return (
            "is empty, which would turn authentication off: unset it to serve on loopback"
            f" only, or set a token of at least {MIN_API_TOKEN_LENGTH} characters"
        )
    if any(c.isspace() or not c.isprintable() or not c.isascii() for c in token):
        return "must be printable ASCII without spaces (it travels in an HTTP header)"
    if len(token) < MIN_API_TOKEN_LENGTH:
        return (
            f"is {len(token)} characters; use at least {MIN_API_TOKEN_LENGTH}, e.g."
            " python -c 'import secrets; print(secrets.token_urlsafe(32))'"
        )
    return None


def normalize_database_url(url: str) -> str:
    """Accept the URL forms users write and return ``sqlite:///…`` or ``postgresql://…``."""
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise ValueError(f"not a database URL ({exc})") from None
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        if not parsed.database or parsed.database == ":memory:":
            raise ValueError("SQLite needs a file path, e.g. sqlite:////var/lib/oar/oar.db")
        return parsed.set(drivername="sqlite").render_as_string(hide_password=False)
    if backend in ("postgresql", "postgres"):
        if not parsed.database:
            raise ValueError("PostgreSQL URL needs a database name")
        return parsed.set(drivername="postgresql").render_as_string(hide_password=False)
    raise ValueError(f"unsupported database {backend!r}: use sqlite:/// or postgresql://")


def mask_url(url: str) -> str:
    """The URL with any password shown as ``***``."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<unparseable URL>"


def env_name(field: str) -> str:
    """The environment variable that sets ``field``."""
    info = Settings.model_fields[field]
    alias = info.validation_alias
    if isinstance(alias, AliasChoices):
        first = alias.choices[0]
        return str(first)
    return field.upper()


def documented_variables() -> dict[str, str]:
    """Environment variable → description, for the configuration reference."""
    return {env_name(name): info.description or "" for name, info in Settings.model_fields.items()}


def load_settings(
    *, environ: Mapping[str, str] | None = None, env_file: str | None = ".env", **overrides: Any
) -> Settings:
    """Build Settings, turning validation errors into one message naming every variable."""
    try:
        if environ is not None:
            # Build from an explicit mapping (tests, subprocess hand-over): no process env.
            values = {
                name: environ[var]
                for name in Settings.model_fields
                if (var := env_name(name)) in environ
            }
            return Settings.model_validate({**_aliased(values), **_aliased(overrides)})
        return Settings(_env_file=env_file, **_aliased(overrides))
    except ValidationError as exc:
        problems: list[str] = []
        names: list[str] = []
        for error in exc.errors():
            field = str(error["loc"][0]) if error["loc"] else ""
            var = env_name(field) if field in Settings.model_fields else field
            names.append(var)
            # A validator's ValueError reads "Value error, <our message>": keep ours.
            problems.append(f"{var}: {error['msg'].removeprefix('Value error, ')}")
        raise ConfigurationError(
            "invalid configuration:\n  " + "\n  ".join(problems), variables=names
        ) from None


def _aliased(values: Mapping[str, Any]) -> dict[str, Any]:
    """Map field names to their environment aliases (the only names validation accepts)."""
    return {env_name(k) if k in Settings.model_fields else k: v for k, v in values.items()}
