"""GitLab: the Konflux shipment merge request of a release.

The port has what the release commands do with it: read the MR, approve it as QE (once:
approving again is a no-op), its pipelines and their jobs by stage (is stage-release
done?), notes and suggestions, a user's username by e-mail, file contents on a branch, and
the branch + commit + MR that proposes a change (dropping bugs from the shipment, say).

:class:`GitLabClient` runs on python-gitlab in a worker thread; the in-memory fake is
:class:`oar.integrations.fakes.gitlab.FakeGitLab`.
"""

from __future__ import annotations

import enum
import re
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

from oar.errors import (
    ConfigurationError,
    IntegrationAuthError,
    InvalidArgumentError,
)
from oar.integrations.calls import CallPolicy, Failure, Kind, call_sync, failure_for_status
from oar.integrations.http import classify_requests, install_refusal_hook

if TYPE_CHECKING:
    import gitlab as gitlab_library

    from oar.settings import Settings

SYSTEM = "GitLab"
CREDENTIAL = "GITLAB_TOKEN"
# The stages of the shipment pipeline's release trigger jobs (reference §10.6).
STAGE_RELEASE_STAGE = "stage-release-triggers"
PROD_RELEASE_STAGE = "prod-release-triggers"
STAGE_RELEASE_LABEL = "stage-release-success"  # set on the MR once its stage release passed
PROD_RELEASE_LABEL = "prod-release-success"  # and once its prod release passed
_MR_URL = re.compile(r"^https?://[^/]+/(?P<project>.+?)/-/merge_requests/(?P<iid>\d+)/?$")


def merge_request_ref(url: str) -> tuple[str, int]:
    """``https://host/group/project/-/merge_requests/7`` → ``("group/project", 7)``."""
    match = _MR_URL.match(url.strip())
    if match is None:
        raise InvalidArgumentError("shipment MR", f"{url!r} is not a GitLab merge request URL")
    return match["project"], int(match["iid"])


class MergeRequestState(enum.StrEnum):
    OPENED = "opened"
    CLOSED = "closed"
    LOCKED = "locked"
    MERGED = "merged"


class PipelineStatus(enum.StrEnum):
    CREATED = "created"
    WAITING_FOR_RESOURCE = "waiting_for_resource"
    PREPARING = "preparing"
    PENDING = "pending"
    RUNNING = "running"
    SUCCESS = "success"
    FAILED = "failed"
    CANCELED = "canceled"
    SKIPPED = "skipped"
    MANUAL = "manual"
    SCHEDULED = "scheduled"


@dataclass(frozen=True, kw_only=True)
class MergeRequest:
    project: str
    iid: int
    title: str
    state: MergeRequestState
    source_branch: str
    target_branch: str
    author: str
    web_url: str
    description: str = ""
    sha: str = ""
    labels: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class FileChange:
    """One file an MR changes (GitLab's ``changes[]`` entry, without the diff)."""

    path: str  # the new path (the old one for a deleted file)
    old_path: str
    new_file: bool = False
    deleted_file: bool = False


@dataclass(frozen=True, kw_only=True)
class Pipeline:
    id: int
    status: PipelineStatus
    ref: str
    sha: str


@dataclass(frozen=True, kw_only=True)
class PipelineJob:
    id: int
    name: str
    stage: str
    status: PipelineStatus


@dataclass(frozen=True, kw_only=True)
class Note:
    id: int
    body: str
    author: str
    created_at: datetime
    system: bool = False


class GitLab(Protocol):
    """What OAR needs from GitLab; projects are named by path (``group/name``)."""

    async def get_merge_request(self, project: str, iid: int) -> MergeRequest: ...

    async def merge_requests(
        self, project: str, *, state: MergeRequestState, search: str
    ) -> list[MergeRequest]:
        """The project's MRs in ``state`` whose title or description contains ``search``
        (GitLab's search: case-insensitive), newest first."""

    async def approve(self, project: str, iid: int) -> bool:
        """Approve as the configured user; False when that user had already approved."""

    async def approved_by(self, project: str, iid: int) -> list[str]:
        """Usernames that approved the MR."""

    async def pipelines(self, project: str, iid: int) -> list[Pipeline]:
        """The MR's pipelines, newest first."""

    async def pipeline_jobs(self, project: str, pipeline_id: int) -> list[PipelineJob]:
        """The jobs of a pipeline (each names its stage)."""

    async def notes(self, project: str, iid: int) -> list[Note]:
        """The MR's notes (comments), oldest first."""

    async def add_note(self, project: str, iid: int, body: str) -> Note: ...

    async def user_by_email(self, email: str) -> str | None:
        """The username of the first user GitLab's user search finds for ``email`` (what
        the original did for the QE release lead's MR comment); None when none is found."""

    async def add_suggestion(
        self, project: str, iid: int, *, path: str, line: int, replacement: str, comment: str
    ) -> Note:
        """A diff note on ``path:line`` (new side) suggesting ``replacement`` for that line."""

    async def file_content(self, project: str, path: str, *, ref: str) -> str | None:
        """A file's text at ``ref``, or None when it does not exist there."""

    async def changed_files(self, project: str, iid: int) -> list[FileChange]:
        """The files the MR changes (source branch against its target), in GitLab's order."""

    async def create_branch(self, project: str, branch: str, *, ref: str) -> None: ...

    async def commit_files(
        self, project: str, branch: str, *, message: str, files: Mapping[str, str]
    ) -> str:
        """Create or update files on ``branch`` in one commit; return the commit sha."""

    async def create_merge_request(
        self,
        project: str,
        *,
        source_branch: str,
        target_branch: str,
        title: str,
        description: str = "",
    ) -> MergeRequest: ...


# --- raw shapes (GitLab REST API v4) ---------------------------------------------------------


def _time(value: str | None) -> datetime:
    if not value:
        return datetime.fromtimestamp(0, UTC)
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def parse_merge_request(project: str, raw: Mapping[str, Any]) -> MergeRequest:
    return MergeRequest(
        project=project,
        iid=int(raw["iid"]),
        title=str(raw.get("title", "")),
        state=MergeRequestState(raw.get("state", "opened")),
        source_branch=str(raw.get("source_branch", "")),
        target_branch=str(raw.get("target_branch", "")),
        author=str((raw.get("author") or {}).get("username", "")),
        web_url=str(raw.get("web_url", "")),
        description=str(raw.get("description") or ""),
        sha=str(raw.get("sha") or ""),
        labels=tuple(str(label) for label in raw.get("labels") or ()),
    )


def parse_change(raw: Mapping[str, Any]) -> FileChange:
    """One entry of ``GET /projects/:id/merge_requests/:iid/changes``'s ``changes``."""
    old_path = str(raw.get("old_path") or raw.get("new_path") or "")
    return FileChange(
        path=str(raw.get("new_path") or old_path),
        old_path=old_path,
        new_file=bool(raw.get("new_file", False)),
        deleted_file=bool(raw.get("deleted_file", False)),
    )


def parse_pipeline(raw: Mapping[str, Any]) -> Pipeline:
    return Pipeline(
        id=int(raw["id"]),
        status=PipelineStatus(raw["status"]),
        ref=str(raw.get("ref", "")),
        sha=str(raw.get("sha", "")),
    )


def parse_job(raw: Mapping[str, Any]) -> PipelineJob:
    return PipelineJob(
        id=int(raw["id"]),
        name=str(raw["name"]),
        stage=str(raw["stage"]),
        status=PipelineStatus(raw["status"]),
    )


def parse_note(raw: Mapping[str, Any]) -> Note:
    return Note(
        id=int(raw["id"]),
        body=str(raw.get("body", "")),
        author=str((raw.get("author") or {}).get("username", "")),
        created_at=_time(raw.get("created_at")),
        system=bool(raw.get("system", False)),
    )


def suggestion_body(comment: str, replacement: str) -> str:
    """GitLab's suggestion markdown replacing the commented line with ``replacement``."""
    return f"{comment}\n\n```suggestion:-0+0\n{replacement}\n```"


# --- the real adapter ------------------------------------------------------------------------


def classify(exc: BaseException) -> Failure | None:
    """What a python-gitlab (or ``requests``) exception means."""
    from gitlab.exceptions import GitlabError

    if isinstance(exc, GitlabError):
        message = f"HTTP {exc.response_code}: {exc.error_message}"
        if exc.response_code is None:
            return Failure(kind=Kind.PERMANENT, message=str(exc.error_message))
        return failure_for_status(int(exc.response_code), message)
    return classify_requests(exc)


class GitLabClient:
    """The port on python-gitlab (``PRIVATE-TOKEN`` authentication)."""

    def __init__(self, url: str, *, token: str, policy: CallPolicy | None = None) -> None:
        self.url = url.rstrip("/")
        self._token = token
        self.policy = policy or CallPolicy(system=SYSTEM, credential=CREDENTIAL)
        self._client: gitlab_library.Gitlab | None = None
        self._username: str | None = None
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings) -> GitLabClient:
        if settings.gitlab_token is None:
            raise ConfigurationError("GitLab needs GITLAB_TOKEN", variables=["GITLAB_TOKEN"])
        return cls(
            settings.gitlab_url,
            token=settings.gitlab_token.get_secret_value(),
            policy=CallPolicy.from_settings(settings, SYSTEM, CREDENTIAL),
        )

    def _gitlab(self) -> gitlab_library.Gitlab:
        with self._lock:
            if self._client is None:
                import gitlab
                import requests

                session = requests.Session()
                install_refusal_hook(session)  # 429/5xx/401 reach classify() with Retry-After
                self._client = gitlab.Gitlab(
                    self.url,
                    private_token=self._token,
                    timeout=self.policy.timeout,
                    retry_transient_errors=False,  # ours are the only retries (calls.py)
                    session=session,
                )
            return self._client

    async def aclose(self) -> None:
        """Close the library's HTTP session (its pooled connections)."""
        with self._lock:
            client, self._client = self._client, None
        if client is not None:
            client.session.close()

    async def __aenter__(self) -> GitLabClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def _project(self, project: str) -> Any:
        return self._gitlab().projects.get(project, lazy=True)

    def _mr(self, project: str, iid: int) -> Any:
        return self._project(project).mergerequests.get(iid)

    async def _run(self, operation: str, function: Any) -> Any:
        return await call_sync(self.policy, operation, function, classify)

    async def get_merge_request(self, project: str, iid: int) -> MergeRequest:
        raw = await self._run("get_merge_request", lambda: dict(self._mr(project, iid).attributes))
        return parse_merge_request(project, raw)

    async def merge_requests(
        self, project: str, *, state: MergeRequestState, search: str
    ) -> list[MergeRequest]:
        def get() -> list[dict[str, Any]]:
            found = self._project(project).mergerequests.list(
                state=str(state), search=search, order_by="created_at", get_all=True
            )
            return [dict(mr.attributes) for mr in found]

        return [parse_merge_request(project, raw) for raw in await self._run("merge_requests", get)]

    async def _me(self) -> str:
        if self._username is None:

            def whoami() -> str:
                client = self._gitlab()
                client.auth()
                assert client.user is not None
                return str(client.user.username)

            self._username = await self._run("current_user", whoami)
        return self._username

    async def approved_by(self, project: str, iid: int) -> list[str]:
        def get() -> list[str]:
            approvals = self._project(project).mergerequests.get(iid, lazy=True).approvals.get()
            return [str(a["user"]["username"]) for a in approvals.approved_by]

        result: list[str] = await self._run("approved_by", get)
        return result

    async def approve(self, project: str, iid: int) -> bool:
        if await self._me() in await self.approved_by(project, iid):
            return False
        try:
            await self._run(
                "approve",
                lambda: self._project(project).mergerequests.get(iid, lazy=True).approve(),
            )
        except IntegrationAuthError:
            # GitLab answers 401 to a second approval by the same user: one given by a
            # concurrent call since we looked is "already approved", not a bad token.
            if await self._me() in await self.approved_by(project, iid):
                return False
            raise
        return True

    async def pipelines(self, project: str, iid: int) -> list[Pipeline]:
        def get() -> list[dict[str, Any]]:
            mr = self._project(project).mergerequests.get(iid, lazy=True)
            return [dict(p.attributes) for p in mr.pipelines.list(get_all=True)]

        return [parse_pipeline(raw) for raw in await self._run("pipelines", get)]

    async def pipeline_jobs(self, project: str, pipeline_id: int) -> list[PipelineJob]:
        def get() -> list[dict[str, Any]]:
            pipeline = self._project(project).pipelines.get(pipeline_id, lazy=True)
            return [dict(j.attributes) for j in pipeline.jobs.list(get_all=True)]

        return [parse_job(raw) for raw in await self._run("pipeline_jobs", get)]

    async def notes(self, project: str, iid: int) -> list[Note]:
        def get() -> list[dict[str, Any]]:
            mr = self._project(project).mergerequests.get(iid, lazy=True)
            notes = mr.notes.list(get_all=True, sort="asc", order_by="created_at")
            return [dict(n.attributes) for n in notes]

        return [parse_note(raw) for raw in await self._run("notes", get)]

    async def add_note(self, project: str, iid: int, body: str) -> Note:
        def create() -> dict[str, Any]:
            mr = self._project(project).mergerequests.get(iid, lazy=True)
            return dict(mr.notes.create({"body": body}).attributes)

        return parse_note(await self._run("add_note", create))

    async def user_by_email(self, email: str) -> str | None:
        def search() -> str | None:
            found = self._gitlab().users.list(search=email, get_all=False, per_page=20)
            return str(found[0].username) if found else None

        result: str | None = await self._run("user_by_email", search)
        return result

    async def add_suggestion(
        self, project: str, iid: int, *, path: str, line: int, replacement: str, comment: str
    ) -> Note:
        def create() -> dict[str, Any]:
            mr = self._mr(project, iid)
            refs = mr.diff_refs
            discussion = mr.discussions.create(
                {
                    "body": suggestion_body(comment, replacement),
                    "position": {
                        "position_type": "text",
                        "base_sha": refs["base_sha"],
                        "head_sha": refs["head_sha"],
                        "start_sha": refs["start_sha"],
                        "new_path": path,
                        "old_path": path,
                        "new_line": line,
                    },
                }
            )
            return dict(discussion.attributes["notes"][0])

        return parse_note(await self._run("add_suggestion", create))

    async def file_content(self, project: str, path: str, *, ref: str) -> str | None:
        from gitlab.exceptions import GitlabGetError

        def get() -> str | None:
            try:
                content: bytes = self._project(project).files.get(file_path=path, ref=ref).decode()
            except GitlabGetError as exc:
                if exc.response_code == 404:
                    return None
                raise
            return content.decode()

        result: str | None = await self._run("file_content", get)
        return result

    async def changed_files(self, project: str, iid: int) -> list[FileChange]:
        def get() -> list[dict[str, Any]]:
            body = self._mr(project, iid).changes()
            return [dict(c) for c in (body.get("changes") or [])]

        return [parse_change(c) for c in await self._run("changed_files", get)]

    async def create_branch(self, project: str, branch: str, *, ref: str) -> None:
        await self._run(
            "create_branch",
            lambda: self._project(project).branches.create({"branch": branch, "ref": ref}),
        )

    async def commit_files(
        self, project: str, branch: str, *, message: str, files: Mapping[str, str]
    ) -> str:
        existing = {path: await self.file_content(project, path, ref=branch) for path in files}

        def commit() -> str:
            actions = [
                {
                    "action": "create" if existing[path] is None else "update",
                    "file_path": path,
                    "content": content,
                }
                for path, content in files.items()
            ]
            created = self._project(project).commits.create(
                {"branch": branch, "commit_message": message, "actions": actions}
            )
            return str(created.id)

        result: str = await self._run("commit_files", commit)
        return result

    async def create_merge_request(
        self,
        project: str,
        *,
        source_branch: str,
        target_branch: str,
        title: str,
        description: str = "",
    ) -> MergeRequest:
        def create() -> dict[str, Any]:
            mr = self._project(project).mergerequests.create(
                {
                    "source_branch": source_branch,
                    "target_branch": target_branch,
                    "title": title,
                    "description": description,
                }
            )
            return dict(mr.attributes)

        return parse_merge_request(project, await self._run("create_merge_request", create))


def latest_job(jobs: Sequence[PipelineJob], stage: str) -> PipelineJob | None:
    """The newest job of ``stage`` (GitLab lists jobs newest first)."""
    return next((j for j in jobs if j.stage == stage), None)
