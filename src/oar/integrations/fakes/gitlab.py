"""An in-memory GitLab (the port is :mod:`oar.integrations.gitlab`).

:class:`FakeGitLab` is also the state of the sandbox's GitLab stand-in.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from oar.errors import IntegrationError, IntegrationNotFoundError
from oar.integrations.gitlab import (
    SYSTEM,
    FileChange,
    MergeRequest,
    MergeRequestState,
    Note,
    Pipeline,
    PipelineJob,
    PipelineStatus,
    suggestion_body,
)


def commit_sha(*parts: str) -> str:
    return hashlib.sha1("\0".join(parts).encode(), usedforsecurity=False).hexdigest()


@dataclass(kw_only=True)
class FakeProject:
    path: str
    id: int
    default_branch: str = "main"
    branches: dict[str, str] = field(default_factory=dict)  # name -> head sha
    files: dict[tuple[str, str], str] = field(default_factory=dict)  # (branch, path) -> text
    merge_requests: dict[int, MergeRequest] = field(default_factory=dict)
    approvals: dict[int, list[str]] = field(default_factory=dict)
    notes: dict[int, list[Note]] = field(default_factory=dict)
    mr_pipelines: dict[int, list[int]] = field(default_factory=dict)  # iid -> ids, newest first
    pipelines: dict[int, Pipeline] = field(default_factory=dict)
    jobs: dict[int, list[PipelineJob]] = field(default_factory=dict)


@dataclass(kw_only=True)
class FakeGitLab:
    """In memory; also the state behind the sandbox's GitLab stand-in."""

    projects: dict[str, FakeProject] = field(default_factory=dict)
    username: str = "oar-bot"
    users: dict[str, str] = field(default_factory=dict)  # username -> public e-mail
    web_url: str = "https://gitlab.example.com"
    clock: Any = None  # () -> datetime; None: the wall clock
    _ids: int = 70000

    def _now(self) -> datetime:
        now: datetime = self.clock() if self.clock is not None else datetime.now(UTC)
        return now

    def _next_id(self) -> int:
        self._ids += 1
        return self._ids

    def project(self, path: str) -> FakeProject:
        found = self.projects.get(path.strip("/"))
        if found is None and path.isdigit():  # GitLab takes a project's ID or its path
            found = next((p for p in self.projects.values() if p.id == int(path)), None)
        if found is None:
            raise IntegrationNotFoundError(SYSTEM, "404 Project Not Found", status_code=404)
        return found

    def _mr(self, project: str, iid: int) -> tuple[FakeProject, MergeRequest]:
        found = self.project(project)
        mr = found.merge_requests.get(iid)
        if mr is None:
            raise IntegrationNotFoundError(SYSTEM, "404 Not found", status_code=404)
        return found, mr

    async def get_merge_request(self, project: str, iid: int) -> MergeRequest:
        return self._mr(project, iid)[1]

    async def merge_requests(
        self, project: str, *, state: MergeRequestState, search: str
    ) -> list[MergeRequest]:
        needle = search.casefold()
        return [
            mr
            for _, mr in sorted(self.project(project).merge_requests.items(), reverse=True)
            if mr.state is MergeRequestState(state)
            and (needle in mr.title.casefold() or needle in mr.description.casefold())
        ]

    async def approved_by(self, project: str, iid: int) -> list[str]:
        found, _ = self._mr(project, iid)
        return list(found.approvals.get(iid, []))

    async def approve(self, project: str, iid: int) -> bool:
        found, mr = self._mr(project, iid)
        if mr.state is not MergeRequestState.OPENED:
            raise IntegrationError(SYSTEM, f"MR !{iid} is {mr.state}", status_code=405)
        approvers = found.approvals.setdefault(iid, [])
        if self.username in approvers:
            return False
        approvers.append(self.username)
        return True

    async def pipelines(self, project: str, iid: int) -> list[Pipeline]:
        found, _ = self._mr(project, iid)
        return [found.pipelines[p] for p in found.mr_pipelines.get(iid, [])]

    async def pipeline_jobs(self, project: str, pipeline_id: int) -> list[PipelineJob]:
        found = self.project(project)
        if pipeline_id not in found.pipelines:
            raise IntegrationNotFoundError(SYSTEM, "404 Not found", status_code=404)
        return list(found.jobs.get(pipeline_id, []))

    async def notes(self, project: str, iid: int) -> list[Note]:
        found, _ = self._mr(project, iid)
        return list(found.notes.get(iid, []))

    async def add_note(self, project: str, iid: int, body: str) -> Note:
        found, _ = self._mr(project, iid)
        if not body.strip():
            raise IntegrationError(SYSTEM, "400 note is missing", status_code=400)
        note = Note(id=self._next_id(), body=body, author=self.username, created_at=self._now())
        found.notes.setdefault(iid, []).append(note)
        return note

    def search_users(self, query: str) -> list[str]:
        """The usernames GitLab's user search (``GET /users?search=``) finds: a public
        e-mail equal to ``query`` (case-insensitive), or ``query`` inside the username."""
        wanted = query.strip().casefold()
        if not wanted:
            return []
        return [
            username
            for username in sorted(self.users)
            if self.users[username].casefold() == wanted or wanted in username.casefold()
        ]

    async def user_by_email(self, email: str) -> str | None:
        found = self.search_users(email)
        return found[0] if found else None

    async def add_suggestion(
        self, project: str, iid: int, *, path: str, line: int, replacement: str, comment: str
    ) -> Note:
        found, mr = self._mr(project, iid)
        text = found.files.get((mr.source_branch, path))
        if text is None or not 1 <= line <= len(text.splitlines()):
            raise IntegrationError(
                SYSTEM, f"400 line {line} of {path} is not in the diff", status_code=400
            )
        return await self.add_note(project, iid, suggestion_body(comment, replacement))

    async def file_content(self, project: str, path: str, *, ref: str) -> str | None:
        return self.project(project).files.get((ref, path.strip("/")))

    async def changed_files(self, project: str, iid: int) -> list[FileChange]:
        """The paths whose text differs between the MR's source and target branches."""
        found, mr = self._mr(project, iid)
        source = {p: t for (b, p), t in found.files.items() if b == mr.source_branch}
        target = {p: t for (b, p), t in found.files.items() if b == mr.target_branch}
        return [
            FileChange(
                path=path,
                old_path=path,
                new_file=path not in target,
                deleted_file=path not in source,
            )
            for path in sorted(source.keys() | target.keys())
            if source.get(path) != target.get(path)
        ]

    async def create_branch(self, project: str, branch: str, *, ref: str) -> None:
        found = self.project(project)
        if branch in found.branches:
            raise IntegrationError(SYSTEM, "400 Branch already exists", status_code=400)
        if ref not in found.branches:
            raise IntegrationError(SYSTEM, "400 Invalid reference name", status_code=400)
        found.branches[branch] = found.branches[ref]
        for (file_branch, path), text in list(found.files.items()):
            if file_branch == ref:
                found.files[(branch, path)] = text

    async def commit_files(
        self, project: str, branch: str, *, message: str, files: Mapping[str, str]
    ) -> str:
        found = self.project(project)
        if branch not in found.branches:
            raise IntegrationError(
                SYSTEM,
                "400 You can only create or edit files when you are on a branch",
                status_code=400,
            )
        sha = commit_sha(found.branches[branch], message, *sorted(files))
        for path, text in files.items():
            found.files[(branch, path.strip("/"))] = text
        found.branches[branch] = sha
        return sha

    async def create_merge_request(
        self,
        project: str,
        *,
        source_branch: str,
        target_branch: str,
        title: str,
        description: str = "",
    ) -> MergeRequest:
        found = self.project(project)
        for branch in (source_branch, target_branch):
            if branch not in found.branches:
                raise IntegrationError(
                    SYSTEM, f"400 branch {branch!r} does not exist", status_code=400
                )
        iid = max(found.merge_requests, default=0) + 1
        mr = MergeRequest(
            project=found.path,
            iid=iid,
            title=title,
            state=MergeRequestState.OPENED,
            source_branch=source_branch,
            target_branch=target_branch,
            author=self.username,
            web_url=f"{self.web_url}/{found.path}/-/merge_requests/{iid}",
            description=description,
            sha=found.branches[source_branch],
        )
        found.merge_requests[iid] = mr
        return mr

    def set_merge_request(self, mr: MergeRequest) -> None:
        """Change an MR as its author would (merge it, close it): for tests and the sandbox."""
        self.project(mr.project).merge_requests[mr.iid] = mr

    def replace_pipeline(self, project: str, pipeline: Pipeline) -> None:
        self.project(project).pipelines[pipeline.id] = pipeline

    def set_job_status(
        self, project: str, pipeline_id: int, stage: str, status: PipelineStatus
    ) -> PipelineJob:
        """Set the status of the pipeline's (newest) job of ``stage``: for tests and the
        sandbox (a stage release that succeeds, fails or hangs)."""
        found = self.project(project)
        jobs = found.jobs.get(pipeline_id, [])
        for index, job in enumerate(jobs):
            if job.stage == stage:
                jobs[index] = dataclasses.replace(job, status=status)
                return jobs[index]
        raise IntegrationNotFoundError(
            SYSTEM, f"pipeline {pipeline_id} has no job of stage {stage}", status_code=404
        )
