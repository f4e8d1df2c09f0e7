"""A GitLab stand-in: enough of REST API v4 for python-gitlab, around the release's
shipment merge request.

State is a :class:`~oar.integrations.fakes.gitlab.FakeGitLab`; the stand-in adds the wire:
URL-encoded project paths, ``PRIVATE-TOKEN`` authentication, GitLab's JSON and errors.

Paths under ``/api/v4``: ``GET /user``, ``GET /users?search=``;
``GET /projects/:id/merge_requests/:iid``, ``POST …/approve``, ``GET …/approvals``,
``GET …/changes``, ``GET …/pipelines``, ``GET|POST …/notes``, ``POST …/discussions``;
``GET /projects/:id/pipelines/:pid/jobs``;
``GET /projects/:id/repository/files/:path?ref=``; ``POST /projects/:id/repository/branches``;
``POST /projects/:id/repository/commits``; ``POST /projects/:id/merge_requests``.

Control: ``POST /_sandbox/gitlab/stage-release`` ``{"status": "running"}`` sets the shipment
pipeline's stage release job (``running`` hangs it; ``success``; ``failed``).
"""

from __future__ import annotations

import base64
import hmac
from datetime import UTC, datetime
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse, Response

from oar.errors import IntegrationError, IntegrationNotFoundError
from oar.integrations.fakes.gitlab import FakeGitLab, FakeProject, commit_sha
from oar.integrations.gitlab import (
    PROD_RELEASE_STAGE,
    STAGE_RELEASE_STAGE,
    MergeRequest,
    MergeRequestState,
    Note,
    Pipeline,
    PipelineJob,
    PipelineStatus,
)
from oar.sandbox import seed
from oar.sandbox.server import StandIn

SANDBOX_TOKEN = "sandbox-gitlab-token"  # noqa: S105 - the sandbox's published test credential
SANDBOX_USERNAME = "oar-bot"
SHIPMENT_BRANCH = f"prepare-shipment-{seed.RELEASE}"
SHIPMENT_FILE = (
    f"shipment/ocp/openshift-{seed.Y_STREAM}/openshift-{seed.Y_STREAM.replace('.', '-')}"
    f"/prod/{seed.RELEASE}.image.yaml"
)
STAGE_PIPELINE_ID = 9001
SHIPMENT_BUGZILLA_ID = 2300001
_USERS = {
    "oar-bot": 7001,
    "art-bot": 7002,
    **{person.uid: 7101 + n for n, person in enumerate(seed.PEOPLE)},
}
# username -> public e-mail: the bots and every seed person (their LDAP uid as username).
USER_EMAILS = {
    "oar-bot": "oar-bot@example.com",
    "art-bot": "art-bot@example.com",
    **{person.uid: person.email for person in seed.PEOPLE},
}


def shipment_yaml() -> str:
    """The shipment file of the Konflux release, listing its bugs as fixed issues (the
    bugs of :data:`seed.BUGS` of its y-stream that are ``in_shipment``)."""
    issues = "".join(
        f"        - id: {bug.key}\n          source: redhat.atlassian.net\n"
        for bug in seed.BUGS
        if bug.target_version == f"{seed.Y_STREAM}.z" and bug.in_shipment
    )
    components = "".join(
        f"        - name: {image.component}\n"
        f"          containerImage: {seed.KONFLUX_IMAGE_REPOSITORY}@sha256:{image.digest}\n"
        for image in seed.SHIPMENT_IMAGES
    )
    # A Bugzilla entry too: only Jira issues (source redhat.atlassian.net) are the bugs.
    issues += f"        - id: '{SHIPMENT_BUGZILLA_ID}'\n          source: bugzilla.redhat.com\n"
    return (
        "shipment:\n"
        "  metadata:\n"
        "    product: ocp\n"
        f"    application: openshift-{seed.Y_STREAM.replace('.', '-')}\n"
        f"    group: openshift-{seed.Y_STREAM}\n"
        f"    assembly: {seed.RELEASE}\n"
        "  snapshot:\n"
        f"    name: openshift-{seed.Y_STREAM.replace('.', '-')}-{seed.RELEASE.replace('.', '-')}\n"
        "    spec:\n"
        f"      application: openshift-{seed.Y_STREAM.replace('.', '-')}\n"
        "      components:\n"
        f"{components}"
        "  environments:\n"
        "    stage:\n"
        "      releasePlan: ocp-art-stage-release-plan\n"
        "    prod:\n"
        "      releasePlan: ocp-art-prod-release-plan\n"
        "  data:\n"
        "    releaseNotes:\n"
        "      type: RHBA\n"
        f"      synopsis: OpenShift Container Platform {seed.RELEASE} bug fix update\n"
        "      issues:\n"
        "        fixed:\n"
        f"{issues}"
    )


def seed_gitlab(web_url: str = "https://gitlab.cee.redhat.com") -> FakeGitLab:
    """A :class:`FakeGitLab` with the shipment project, MR, pipeline and a first note."""
    main_sha = commit_sha("main")
    branch_sha = commit_sha(main_sha, SHIPMENT_BRANCH)
    project = FakeProject(
        path=seed.SHIPMENT_PROJECT,
        id=4242,
        branches={"main": main_sha, SHIPMENT_BRANCH: branch_sha},
        files={
            ("main", "README.md"): "# ocp-shipment-data\n",
            (SHIPMENT_BRANCH, "README.md"): "# ocp-shipment-data\n",
            (SHIPMENT_BRANCH, SHIPMENT_FILE): shipment_yaml(),
        },
    )
    iid = seed.SHIPMENT_MR_IID
    project.merge_requests[iid] = MergeRequest(
        project=seed.SHIPMENT_PROJECT,
        iid=iid,
        title=f"Shipment for {seed.RELEASE}",
        state=MergeRequestState.OPENED,
        source_branch=SHIPMENT_BRANCH,
        target_branch="main",
        author="art-bot",
        web_url=f"{web_url}/{seed.SHIPMENT_PROJECT}/-/merge_requests/{iid}",
        description=f"Konflux shipment of OpenShift {seed.RELEASE}.",
        sha=branch_sha,
    )
    project.approvals[iid] = []
    project.pipelines[STAGE_PIPELINE_ID] = Pipeline(
        id=STAGE_PIPELINE_ID, status=PipelineStatus.MANUAL, ref=SHIPMENT_BRANCH, sha=branch_sha
    )
    project.mr_pipelines[iid] = [STAGE_PIPELINE_ID]
    # GitLab lists a pipeline's jobs newest first.
    project.jobs[STAGE_PIPELINE_ID] = [
        PipelineJob(
            id=90013,
            name="prod-release",
            stage=PROD_RELEASE_STAGE,
            status=PipelineStatus.MANUAL,
        ),
        PipelineJob(
            id=90012,
            name="stage-release",
            stage=STAGE_RELEASE_STAGE,
            status=PipelineStatus.SUCCESS,
        ),
        PipelineJob(
            id=90011, name="validate-shipment", stage="validate", status=PipelineStatus.SUCCESS
        ),
    ]
    project.notes[iid] = [
        Note(
            id=70001,
            body=f"Shipment MR for {seed.RELEASE} is ready for QE review.",
            author="art-bot",
            created_at=datetime(2026, 11, 19, 9, 0, tzinfo=UTC),
        )
    ]
    return FakeGitLab(
        projects={project.path: project},
        username=SANDBOX_USERNAME,
        users=dict(USER_EMAILS),
        web_url=web_url,
    )


def _user(username: str) -> dict[str, Any]:
    return {
        "id": _USERS.get(username, 7999),
        "username": username,
        "name": username,
        "state": "active",
    }


def _time(value: datetime) -> str:
    return (
        value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"
    )


class GitLabStandIn(StandIn):
    name = "gitlab"

    def __init__(self) -> None:
        self.gitlab = seed_gitlab()
        super().__init__()

    def reset(self) -> None:
        self.gitlab = seed_gitlab()

    def environment(self, base_url: str) -> dict[str, str]:
        return {"OAR_GITLAB_URL": base_url, "GITLAB_TOKEN": SANDBOX_TOKEN}

    def _mr_json(self, mr: MergeRequest) -> dict[str, Any]:
        project = self.gitlab.project(mr.project)
        main_sha = project.branches.get(mr.target_branch, "")
        return {
            "id": 500000 + mr.iid,
            "iid": mr.iid,
            "project_id": project.id,
            "title": mr.title,
            "description": mr.description,
            "state": str(mr.state),
            "source_branch": mr.source_branch,
            "target_branch": mr.target_branch,
            "author": _user(mr.author),
            "web_url": mr.web_url,
            "sha": mr.sha,
            "merge_status": "can_be_merged",
            "labels": list(mr.labels),
            "diff_refs": {"base_sha": main_sha, "head_sha": mr.sha, "start_sha": main_sha},
        }

    def _note_json(self, note: Note) -> dict[str, Any]:
        return {
            "id": note.id,
            "body": note.body,
            "author": _user(note.author),
            "created_at": _time(note.created_at),
            "system": note.system,
            "noteable_type": "MergeRequest",
        }

    def routes(self) -> None:  # noqa: PLR0915 - one closure per route
        app = self.app
        api = "/api/v4"
        gl = self

        @app.middleware("http")
        async def authenticate(request: Request, call_next: Any) -> Response:
            token = request.headers.get("private-token", "")
            if request.url.path.startswith(api) and not hmac.compare_digest(token, SANDBOX_TOKEN):
                return JSONResponse({"message": "401 Unauthorized"}, status_code=401)
            response: Response = await call_next(request)
            return response

        @app.exception_handler(IntegrationError)
        async def refused(request: Request, exc: IntegrationError) -> Response:
            status = 404 if isinstance(exc, IntegrationNotFoundError) else exc.status_code
            return JSONResponse(
                {"message": exc.message.removeprefix("GitLab: ")}, status_code=status or 400
            )

        @app.get(api + "/user")
        async def current_user() -> Any:
            return _user(gl.gitlab.username)

        @app.get(api + "/users")
        async def search_users(search: str = "") -> Any:
            return [_user(username) for username in gl.gitlab.search_users(search)]

        @app.get(api + "/projects/{project:path}/merge_requests")
        async def list_mrs(project: str, state: str = "all", search: str = "") -> Any:
            states = list(MergeRequestState) if state == "all" else [MergeRequestState(state)]
            found: dict[int, MergeRequest] = {}
            for each in states:
                for mr in await gl.gitlab.merge_requests(project, state=each, search=search):
                    found[mr.iid] = mr
            return [gl._mr_json(mr) for _, mr in sorted(found.items(), reverse=True)]

        @app.get(api + "/projects/{project:path}/merge_requests/{iid:int}")
        async def get_mr(project: str, iid: int) -> Any:
            return gl._mr_json(await gl.gitlab.get_merge_request(project, iid))

        @app.post(
            api + "/projects/{project:path}/merge_requests/{iid:int}/approve", status_code=201
        )
        async def approve(project: str, iid: int) -> Any:
            if not await gl.gitlab.approve(project, iid):
                return JSONResponse({"message": "401 Unauthorized"}, status_code=401)
            return await approvals(project, iid)

        @app.get(api + "/projects/{project:path}/merge_requests/{iid:int}/approvals")
        async def approvals(project: str, iid: int) -> Any:
            approvers = await gl.gitlab.approved_by(project, iid)
            return {
                "iid": iid,
                "approved": bool(approvers),
                "approvals_required": 1,
                "approvals_left": 0 if approvers else 1,
                "approved_by": [{"user": _user(u)} for u in approvers],
            }

        @app.get(api + "/projects/{project:path}/merge_requests/{iid:int}/changes")
        async def changes(project: str, iid: int) -> Any:
            mr = await gl.gitlab.get_merge_request(project, iid)
            body = gl._mr_json(mr)
            body["changes"] = [
                {
                    "old_path": c.old_path,
                    "new_path": c.path,
                    "a_mode": "0" if c.new_file else "100644",
                    "b_mode": "0" if c.deleted_file else "100644",
                    "new_file": c.new_file,
                    "renamed_file": False,
                    "deleted_file": c.deleted_file,
                    "diff": "",
                }
                for c in await gl.gitlab.changed_files(project, iid)
            ]
            body["changes_count"] = str(len(body["changes"]))
            return body

        @app.get(api + "/projects/{project:path}/merge_requests/{iid:int}/pipelines")
        async def pipelines(project: str, iid: int) -> Any:
            return [
                {
                    "id": p.id,
                    "iid": p.id - 9000,
                    "status": str(p.status),
                    "ref": p.ref,
                    "sha": p.sha,
                    "source": "merge_request_event",
                }
                for p in await gl.gitlab.pipelines(project, iid)
            ]

        @app.get(api + "/projects/{project:path}/pipelines/{pipeline_id:int}/jobs")
        async def jobs(project: str, pipeline_id: int) -> Any:
            return [
                {
                    "id": j.id,
                    "name": j.name,
                    "stage": j.stage,
                    "status": str(j.status),
                    "pipeline": {"id": pipeline_id},
                }
                for j in await gl.gitlab.pipeline_jobs(project, pipeline_id)
            ]

        @app.post("/_sandbox/gitlab/stage-release")
        async def stage_release(request: Request) -> Any:
            """Set the shipment pipeline's stage release job: ``{"status": "running"}``
            (hang), ``"success"`` or ``"failed"``."""
            body = await _json_or_empty(request)
            try:
                status = PipelineStatus(str(body.get("status", "")))
            except ValueError:
                return JSONResponse(
                    {"error": f"status must be one of {[s.value for s in PipelineStatus]}"},
                    status_code=400,
                )
            job = gl.gitlab.set_job_status(
                seed.SHIPMENT_PROJECT, STAGE_PIPELINE_ID, STAGE_RELEASE_STAGE, status
            )
            return {"job": job.id, "stage": job.stage, "status": str(job.status)}

        @app.get(api + "/projects/{project:path}/merge_requests/{iid:int}/notes")
        async def notes(project: str, iid: int, request: Request) -> Any:
            found = await gl.gitlab.notes(project, iid)
            if request.query_params.get("sort", "desc") == "desc":
                found.reverse()
            return [gl._note_json(n) for n in found]

        @app.post(api + "/projects/{project:path}/merge_requests/{iid:int}/notes", status_code=201)
        async def add_note(project: str, iid: int, request: Request) -> Any:
            body = (await request.json()).get("body") or ""
            return gl._note_json(await gl.gitlab.add_note(project, iid, body))

        @app.post(
            api + "/projects/{project:path}/merge_requests/{iid:int}/discussions", status_code=201
        )
        async def add_discussion(project: str, iid: int, request: Request) -> Any:
            data = await request.json()
            position = data.get("position") or {}
            body = str(data.get("body") or "")
            if position:
                comment, _, rest = body.partition("\n\n```suggestion:-0+0\n")
                note = await gl.gitlab.add_suggestion(
                    project,
                    iid,
                    path=str(position.get("new_path", "")),
                    line=int(position.get("new_line") or 0),
                    replacement=rest.removesuffix("\n```"),
                    comment=comment,
                )
            else:
                note = await gl.gitlab.add_note(project, iid, body)
            raw = gl._note_json(note)
            if position:
                raw["type"] = "DiffNote"
                raw["position"] = position
            return {"id": commit_sha(str(note.id)), "individual_note": False, "notes": [raw]}

        @app.get(api + "/projects/{project:path}/repository/files/{path:path}")
        async def get_file(project: str, path: str, request: Request) -> Any:
            ref = request.query_params.get("ref", "")
            text = await gl.gitlab.file_content(project, path, ref=ref)
            if text is None:
                return JSONResponse({"message": "404 File Not Found"}, status_code=404)
            data = text.encode()
            return {
                "file_name": path.rsplit("/", 1)[-1],
                "file_path": path,
                "size": len(data),
                "encoding": "base64",
                "content": base64.b64encode(data).decode(),
                "ref": ref,
                "blob_id": commit_sha("blob", text),
                "last_commit_id": gl.gitlab.project(project).branches.get(ref, ""),
            }

        @app.post(api + "/projects/{project:path}/repository/branches", status_code=201)
        async def create_branch(project: str, request: Request) -> Any:
            data = {**dict(request.query_params), **(await _json_or_empty(request))}
            branch, ref = str(data.get("branch", "")), str(data.get("ref", ""))
            await gl.gitlab.create_branch(project, branch, ref=ref)
            sha = gl.gitlab.project(project).branches[branch]
            return {"name": branch, "commit": {"id": sha}, "merged": False, "protected": False}

        @app.post(api + "/projects/{project:path}/repository/commits", status_code=201)
        async def create_commit(project: str, request: Request) -> Any:
            data = await request.json()
            found = gl.gitlab.project(project)
            files: dict[str, str] = {}
            for action in data.get("actions") or []:
                path = str(action.get("file_path", ""))
                exists = (str(data.get("branch")), path) in found.files
                if action.get("action") == "create" and exists:
                    return JSONResponse(
                        {"message": "A file with this name already exists"}, status_code=400
                    )
                if action.get("action") == "update" and not exists:
                    return JSONResponse(
                        {"message": "A file with this name doesn't exist"}, status_code=400
                    )
                files[path] = str(action.get("content", ""))
            message = str(data.get("commit_message", ""))
            sha = await gl.gitlab.commit_files(
                project, str(data.get("branch")), message=message, files=files
            )
            return {
                "id": sha,
                "short_id": sha[:8],
                "title": message.splitlines()[0] if message else "",
            }

        @app.post(api + "/projects/{project:path}/merge_requests", status_code=201)
        async def create_mr(project: str, request: Request) -> Any:
            data = await request.json()
            mr = await gl.gitlab.create_merge_request(
                project,
                source_branch=str(data.get("source_branch", "")),
                target_branch=str(data.get("target_branch", "")),
                title=str(data.get("title", "")),
                description=str(data.get("description") or ""),
            )
            return gl._mr_json(mr)


async def _json_or_empty(request: Request) -> dict[str, Any]:
    body = await request.body()
    if not body:
        return {}
    data = await request.json()
    return data if isinstance(data, dict) else {}
