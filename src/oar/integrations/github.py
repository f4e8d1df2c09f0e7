"""GitHub as a store of files: the ``_releases`` records, job registries, StateBox exports.

The port is the contract the release model and the agents rely on; writes use GitHub's
optimistic locking on the blob ``sha``: updating or deleting a file names the version it
read, and a file changed since then raises :class:`~oar.errors.IntegrationConflictError`
instead of silently overwriting someone else's change.

A second, smaller port reads a pull request's labels (the Jira notificator's pre-merge
check: ``verified`` / ``verified-later``). The real adapters are on githubkit with its own
retries off, so :func:`~oar.integrations.calls.call` is the only retry loop.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, cast

from githubkit import GitHub
from githubkit.exception import (
    GitHubException,
    RateLimitExceeded,
    RequestError,
    RequestFailed,
    RequestTimeout,
)
from githubkit.utils import UNSET

from oar.backoff import Backoff
from oar.errors import (
    ConfigurationError,
    IntegrationError,
)
from oar.integrations.calls import CallPolicy, Failure, Kind, call, failure_for_status

if TYPE_CHECKING:
    from oar.settings import Settings

SYSTEM = "GitHub"
CREDENTIAL = "GITHUB_TOKEN"


@dataclass(frozen=True, kw_only=True)
class RepoFile:
    path: str
    content: str
    sha: str


@dataclass(frozen=True, kw_only=True)
class RepoEntry:
    path: str
    name: str
    type: str  # "file" or "dir"
    sha: str


class RepositoryFiles(Protocol):
    """Files of one repository, read and written with sha-based optimistic locking."""

    async def get_file(self, path: str, *, ref: str | None = None) -> RepoFile | None:
        """The file, or None when it does not exist."""

    async def put_file(
        self, path: str, content: str, *, message: str, sha: str | None, branch: str | None = None
    ) -> str:
        """Create (``sha=None``) or update (the sha read) a file; return the new sha."""

    async def delete_file(
        self, path: str, *, message: str, sha: str, branch: str | None = None
    ) -> None:
        """Delete the version ``sha`` of a file."""

    async def list_dir(self, path: str, *, ref: str | None = None) -> list[RepoEntry]:
        """The entries of a directory (empty when it does not exist)."""


def blob_sha(content: str) -> str:
    """Git's blob sha of ``content``: what GitHub reports as a file's ``sha``."""
    data = content.encode()
    return hashlib.sha1(b"blob %d\0" % len(data) + data, usedforsecurity=False).hexdigest()


# --- pull request labels -------------------------------------------------------------------


class PullRequestLabels(Protocol):
    """The labels of pull requests in any repository the token can read."""

    async def labels(self, repo: str, number: int) -> list[str]:
        """Label names of pull request ``number`` of ``repo`` (``owner/name``)."""


# --- the real adapters (githubkit) ------------------------------------------------------


def policy_from_settings(settings: Settings) -> CallPolicy:
    return CallPolicy(
        system=SYSTEM,
        credential=CREDENTIAL,
        timeout=settings.integration_timeout,
        retries=settings.integration_retries,
        backoff=Backoff(delay=0.5, max_delay=30.0),
    )


def classify_github(exc: BaseException) -> Failure | None:
    """githubkit's exceptions by meaning. A rate limit is transient even as a 403."""
    if isinstance(exc, RateLimitExceeded):
        return Failure(
            kind=Kind.TRANSIENT,
            message=f"rate limited (HTTP {exc.response.status_code})",
            status_code=exc.response.status_code,
            retry_after=exc.retry_after.total_seconds(),
        )
    if isinstance(exc, RequestFailed):
        status = exc.response.status_code
        return failure_for_status(status, f"HTTP {status}: {_message_of(exc)}")
    if isinstance(exc, RequestTimeout):
        return Failure(kind=Kind.TIMEOUT, message="the HTTP client timed out")
    if isinstance(exc, RequestError):
        return Failure(kind=Kind.TRANSIENT, message=f"connection failed ({exc.exc!r})")
    if isinstance(exc, GitHubException):
        return Failure(kind=Kind.PERMANENT, message=repr(exc))
    return None


def _classify_write(exc: BaseException) -> Failure | None:
    """As :func:`classify_github`, plus GitHub's 422 for a missing or stale ``sha``."""
    failure = classify_github(exc)
    if failure is not None and failure.status_code == 422:
        return Failure(kind=Kind.CONFLICT, message=failure.message, status_code=422)
    return failure


def _message_of(exc: RequestFailed) -> str:
    try:
        body = exc.response.raw_response.json()
    except ValueError:
        return exc.response.raw_response.text[:200]
    if isinstance(body, dict) and isinstance(body.get("message"), str):
        return str(body["message"])
    return str(body)[:200]


def github_client(*, token: str | None, base_url: str, timeout: float) -> GitHub[Any]:
    """A githubkit client with its own retries and HTTP cache off."""
    return GitHub(
        token,
        base_url=base_url,
        timeout=timeout,
        auto_retry=False,
        http_cache=False,
        user_agent="oar",
    )


def _split_repo(repo: str) -> tuple[str, str]:
    owner, _, name = repo.partition("/")
    if not owner or not name or "/" in name:
        raise ConfigurationError(
            f"OAR_GITHUB_REPO: {repo!r} is not owner/name", variables=["OAR_GITHUB_REPO"]
        )
    return owner, name


class GitHubRepositoryFiles:
    """:class:`RepositoryFiles` over GitHub's contents API."""

    def __init__(self, *, repo: str, token: str | None, base_url: str, policy: CallPolicy) -> None:
        self.owner, self.name = _split_repo(repo)
        self.policy = policy
        self._github = github_client(token=token, base_url=base_url, timeout=policy.timeout)

    @classmethod
    def from_settings(cls, settings: Settings, *, repo: str | None = None) -> GitHubRepositoryFiles:
        token = settings.github_token.get_secret_value() if settings.github_token else None
        return cls(
            repo=repo or settings.github_repo,
            token=token,
            base_url=settings.github_api_url,
            policy=policy_from_settings(settings),
        )

    async def _get(self, path: str, ref: str | None) -> Any:
        """The parsed contents answer, or None for a 404."""

        async def attempt() -> Any:
            try:
                response = await self._github.rest.repos.async_get_content(
                    self.owner, self.name, path.strip("/"), ref=ref or UNSET
                )
            except RequestFailed as exc:
                if exc.response.status_code == 404:
                    return None
                raise
            # The raw JSON, not githubkit's models: they follow the newest schema and would
            # refuse an older GitHub Enterprise's answer over a field OAR does not use.
            return response.json()

        return await call(self.policy, f"get {path}", attempt, classify_github)

    async def get_file(self, path: str, *, ref: str | None = None) -> RepoFile | None:
        data = await self._get(path, ref)
        if data is None:
            return None
        if not isinstance(data, dict) or data.get("type") != "file":
            raise IntegrationError(SYSTEM, f"{path} is not a file")
        if data.get("encoding") != "base64":
            raise IntegrationError(
                SYSTEM,
                f"{path}: content encoding {data.get('encoding')!r} (files over 1 MB are not read)",
            )
        try:
            content = base64.b64decode(str(data["content"])).decode()
        except (KeyError, binascii.Error, UnicodeDecodeError) as exc:
            raise IntegrationError(SYSTEM, f"{path}: content is not UTF-8 text") from exc
        return RepoFile(path=str(data["path"]), content=content, sha=str(data["sha"]))

    async def put_file(
        self, path: str, content: str, *, message: str, sha: str | None, branch: str | None = None
    ) -> str:
        encoded = base64.b64encode(content.encode()).decode()

        async def attempt() -> str:
            response = await self._github.rest.repos.async_create_or_update_file_contents(
                self.owner,
                self.name,
                path.strip("/"),
                message=message,
                content=encoded,
                sha=sha if sha is not None else UNSET,
                branch=branch or UNSET,
            )
            committed = response.json().get("content") or {}
            return str(committed.get("sha") or blob_sha(content))

        return await call(self.policy, f"put {path}", attempt, _classify_write)

    async def delete_file(
        self, path: str, *, message: str, sha: str, branch: str | None = None
    ) -> None:
        async def attempt() -> None:
            await self._github.rest.repos.async_delete_file(
                self.owner,
                self.name,
                path.strip("/"),
                message=message,
                sha=sha,
                branch=branch or UNSET,
            )

        await call(self.policy, f"delete {path}", attempt, _classify_write)

    async def list_dir(self, path: str, *, ref: str | None = None) -> list[RepoEntry]:
        data = await self._get(path, ref)
        if not isinstance(data, list):
            return []
        return [
            RepoEntry(
                path=str(item["path"]),
                name=str(item["name"]),
                type="dir" if item.get("type") == "dir" else "file",
                sha="" if item.get("type") == "dir" else str(item["sha"]),
            )
            for item in data
        ]


class GitHubPullRequestLabels:
    """:class:`PullRequestLabels` over the issues API (a pull request is an issue)."""

    def __init__(self, *, token: str | None, base_url: str, policy: CallPolicy) -> None:
        self.policy = policy
        self._github = github_client(token=token, base_url=base_url, timeout=policy.timeout)

    @classmethod
    def from_settings(cls, settings: Settings) -> GitHubPullRequestLabels:
        token = settings.github_token.get_secret_value() if settings.github_token else None
        return cls(
            token=token, base_url=settings.github_api_url, policy=policy_from_settings(settings)
        )

    async def labels(self, repo: str, number: int) -> list[str]:
        owner, name = _split_repo(repo)

        async def attempt() -> list[str]:
            response = await self._github.rest.issues.async_list_labels_on_issue(
                owner, name, number, per_page=100
            )
            found = cast(list[dict[str, Any]], response.json())
            return [str(label["name"]) for label in found]

        return await call(self.policy, f"labels of {repo}#{number}", attempt, classify_github)
