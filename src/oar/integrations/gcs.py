"""Prow job artifacts in Google Cloud Storage: a run's QE test summary and JUnit files.

Artifacts live under ``logs/<job>/<run id>/`` of the bucket (``OAR_GCS_BUCKET``,
``qe-private-deck``; reference §5.8, §5.11). The summary is
``…/openshift-e2e-test-qe-report/artifacts/test-results.yaml``, whose duplicate ``ginkgo``
keys are renamed ``ginkgo-1`` and ``ginkgo-2`` before parsing so neither is lost.

The adapter runs google-cloud-storage (a blocking library) in a worker thread, with the
library's own retries off; credentials come from the service-account file
``GCP_SA_FILE``, or are anonymous without one (the sandbox, public buckets).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, Protocol

import requests
import yaml
from google.api_core import exceptions as google_exceptions
from google.auth import exceptions as auth_exceptions
from google.auth.credentials import AnonymousCredentials
from google.cloud import storage

from oar.backoff import Backoff
from oar.errors import ConfigurationError, IntegrationError
from oar.integrations.calls import (
    CallPolicy,
    Failure,
    Kind,
    call_sync,
    failure_for_status,
    parse_retry_after,
)

if TYPE_CHECKING:
    from oar.settings import Settings

SYSTEM = "GCS"
CREDENTIAL = "GCP_SA_FILE"
TEST_RESULTS_SUFFIX = "/openshift-e2e-test-qe-report/artifacts/test-results.yaml"
JUNIT_PATTERNS = (
    re.compile(r".*/junit.*import-.*xml"),
    re.compile(r".*/junit.*TEST-features-.*xml"),
    re.compile(r".*/gui_test.*console-cypress.xml"),
    re.compile(r".*/cucushift-e2e/artifacts/junit_cucushift-e2e-combined.*\.xml"),
)
_GINKGO_KEY = re.compile(r"^ginkgo:", re.MULTILINE)


# --- pure rules ------------------------------------------------------------------------------


def run_prefix(job_name: str, run_id: str) -> str:
    if not job_name or "/" in job_name or not run_id or "/" in run_id:
        raise IntegrationError(SYSTEM, f"not a job run: {job_name!r} / {run_id!r}")
    return f"logs/{job_name}/{run_id}/"


def is_test_results(name: str) -> bool:
    return name.endswith(TEST_RESULTS_SUFFIX)


def is_junit(name: str) -> bool:
    return any(pattern.match(name) for pattern in JUNIT_PATTERNS)


def parse_test_results(text: str) -> dict[str, Any]:
    """A ``test-results.yaml``, the first two ``ginkgo`` keys renamed to survive parsing."""
    count = 0

    def rename(match: re.Match[str]) -> str:
        nonlocal count
        count += 1
        return f"ginkgo-{count}:" if count <= 2 else match.group(0)

    try:
        data = yaml.safe_load(_GINKGO_KEY.sub(rename, text))
    except yaml.YAMLError as exc:
        raise IntegrationError(SYSTEM, "test-results.yaml is not valid YAML") from exc
    return data if isinstance(data, dict) else {}


# --- the port ------------------------------------------------------------------------------


class JobArtifacts(Protocol):
    async def test_results(self, job_name: str, run_id: str) -> dict[str, Any] | None:
        """The run's QE test summary, or None when the run has none."""

    async def junit_files(self, job_name: str, run_id: str) -> list[str]:
        """Object names of the run's JUnit reports (the original tool's patterns)."""

    async def read(self, name: str) -> bytes:
        """One object's content."""


# --- the real adapter (google-cloud-storage) ------------------------------------------------


def classify_gcs(exc: BaseException) -> Failure | None:
    if isinstance(exc, google_exceptions.GoogleAPICallError) and exc.code is not None:
        response = getattr(exc, "response", None)
        headers = getattr(response, "headers", None) or {}
        return failure_for_status(
            int(exc.code),
            f"HTTP {exc.code}",
            retry_after=parse_retry_after(headers.get("retry-after")),
        )
    if isinstance(exc, requests.exceptions.Timeout):
        return Failure(kind=Kind.TIMEOUT, message="the HTTP client timed out")
    if isinstance(exc, requests.exceptions.ConnectionError | auth_exceptions.TransportError):
        return Failure(kind=Kind.TRANSIENT, message=f"connection failed ({type(exc).__name__})")
    if isinstance(exc, auth_exceptions.RefreshError | auth_exceptions.InvalidOperation):
        # A 401 makes google-auth refresh the credentials: refused for a service account,
        # impossible for anonymous ones (a private bucket without GCP_SA_FILE).
        return Failure(kind=Kind.AUTH, message="credentials refused", status_code=401)
    if isinstance(exc, google_exceptions.GoogleAPIError | auth_exceptions.GoogleAuthError):
        return Failure(kind=Kind.PERMANENT, message=f"{type(exc).__name__}: {exc}")
    return None


def storage_client(settings: Settings) -> storage.Client:
    """A client for ``OAR_GCS_URL`` (default: Google) as the ``GCP_SA_FILE`` account,
    or anonymous without one."""
    options = {"api_endpoint": settings.gcs_url} if settings.gcs_url else None
    if settings.gcp_sa_file is not None:
        if not settings.gcp_sa_file.is_file():
            raise ConfigurationError(
                f"GCP_SA_FILE: {settings.gcp_sa_file} is not a readable file",
                variables=[CREDENTIAL],
            )
        try:
            return storage.Client.from_service_account_json(
                str(settings.gcp_sa_file), client_options=options
            )
        except (ValueError, auth_exceptions.GoogleAuthError) as exc:
            raise ConfigurationError(
                f"GCP_SA_FILE: {settings.gcp_sa_file} is not a service-account key ({exc})",
                variables=[CREDENTIAL],
            ) from None
    return storage.Client(
        project="<none>",
        credentials=AnonymousCredentials(),  # type: ignore[no-untyped-call]
        client_options=options,
    )


class GcsJobArtifacts:
    """:class:`JobArtifacts` over google-cloud-storage."""

    def __init__(self, *, client: storage.Client, bucket: str, policy: CallPolicy) -> None:
        # The library fetches each bucket's metadata in a background thread, only to label
        # OpenTelemetry spans OAR does not export: requests outside our timeouts and retries.
        if getattr(client, "_bucket_metadata_cache", None) is not None:
            client._bucket_metadata_cache = None
        self.client = client
        self.bucket = bucket
        self.policy = policy

    @classmethod
    def from_settings(cls, settings: Settings) -> GcsJobArtifacts:
        return cls(
            client=storage_client(settings),
            bucket=settings.gcs_bucket,
            policy=CallPolicy.from_settings(
                settings, SYSTEM, CREDENTIAL, backoff=Backoff(delay=1.0, max_delay=30.0)
            ),
        )

    def _list(self, prefix: str, match_glob: str | None = None) -> list[str]:
        blobs = self.client.list_blobs(
            self.bucket,
            prefix=prefix,
            match_glob=match_glob,
            timeout=self.policy.timeout,
            retry=None,
        )
        return [blob.name for blob in blobs]

    def _download(self, name: str) -> bytes:
        blob = self.client.bucket(self.bucket).blob(name)
        data: bytes = blob.download_as_bytes(timeout=self.policy.timeout, retry=None)
        return data

    async def test_results(self, job_name: str, run_id: str) -> dict[str, Any] | None:
        prefix = run_prefix(job_name, run_id)
        names = await call_sync(
            self.policy,
            f"list {prefix}",
            lambda: self._list(prefix, match_glob=f"{prefix}**{TEST_RESULTS_SUFFIX}"),
            classify_gcs,
        )
        found = sorted(n for n in names if is_test_results(n))
        if not found:
            return None
        return parse_test_results((await self.read(found[0])).decode(errors="replace"))

    async def junit_files(self, job_name: str, run_id: str) -> list[str]:
        prefix = run_prefix(job_name, run_id)
        names = await call_sync(
            self.policy, f"list {prefix}", lambda: self._list(prefix), classify_gcs
        )
        return sorted(n for n in names if is_junit(n))

    async def read(self, name: str) -> bytes:
        return await call_sync(
            self.policy, f"read {name}", lambda: self._download(name), classify_gcs
        )
