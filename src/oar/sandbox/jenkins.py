"""A Jenkins stand-in: the remote access API python-jenkins uses, with one seeded job,
``zstreams/Stage-Pipeline``, whose builds succeed after a short, configurable time.

State is a :class:`~oar.integrations.fakes.jenkins.FakeJenkins`; the stand-in adds the wire:
basic auth, the CSRF crumb, ``201 Created`` with the queue item's ``Location``, and the
JSON of queue items and builds.

Paths: ``GET /`` and ``GET /api/json`` (``X-Jenkins`` header), ``GET /crumbIssuer/api/json``,
``POST /job/<path>/buildWithParameters``, ``GET /queue/item/<n>/api/json``,
``GET /queue/api/json``, ``GET /job/<path>/<n>/api/json``, ``GET /job/<path>/api/json``.

Control (no auth): ``POST /_sandbox/jenkins/jobs/<job>`` ``{"result": "FAILURE",
"duration": 5, "hold": true}`` says how the job's next builds end (``hold``: they run until
told); ``POST /_sandbox/jenkins/builds/<job>/<n>`` ``{"result": "SUCCESS"}`` ends a build
now (``null`` holds it); ``GET /_sandbox/jenkins/builds`` lists builds with parameters.
"""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from oar.errors import IntegrationError, IntegrationNotFoundError
from oar.integrations.fakes.jenkins import FakeJenkins, FakeJob
from oar.integrations.jenkins import STAGE_PIPELINE, BuildResult, QueueItem, job_path
from oar.sandbox.server import StandIn, basic_auth_matches

SANDBOX_USER = "oar-bot@example.com"
SANDBOX_TOKEN = "sandbox-jenkins-token"  # noqa: S105 - the sandbox's published test credential
CRUMB = "sandbox-crumb-5b1d"
VERSION = "2.462.3"
IMAGE_CONSISTENCY_JOB = "image-consistency-check"
_CONTROL = "/_sandbox/jenkins"


class JobControl(BaseModel):
    """How the job's next builds end: ``result``, after ``duration`` s, or ``hold`` them."""

    result: BuildResult | None = None
    duration: float | None = Field(default=None, ge=0)
    hold: bool | None = None


class BuildControl(BaseModel):
    """End a build now with ``result`` (SUCCESS, FAILURE, ABORTED…), or hold it (null)."""

    result: BuildResult | None = None


def seed_jenkins(*, build_seconds: float = 3.0, queue_delay: float = 0.5) -> FakeJenkins:
    return FakeJenkins(
        jobs={
            STAGE_PIPELINE: FakeJob(duration=build_seconds, next_build=101),
            IMAGE_CONSISTENCY_JOB: FakeJob(duration=build_seconds, next_build=11),
        },
        queue_delay=queue_delay,
    )


def _split_job(rest: str) -> tuple[str, list[str]]:
    """``a/job/b/7/api/json`` -> (``a/b``, ``["7", "api", "json"]``)."""
    parts = ["job", *rest.strip("/").split("/")]
    names: list[str] = []
    index = 0
    while index + 1 < len(parts) and parts[index] == "job":
        names.append(parts[index + 1])
        index += 2
    return "/".join(names), parts[index:]


class JenkinsStandIn(StandIn):
    name = "jenkins"

    def __init__(self, *, build_seconds: float = 3.0, queue_delay: float = 0.5) -> None:
        self.build_seconds = build_seconds
        self.queue_delay = queue_delay
        self.jenkins = seed_jenkins(build_seconds=build_seconds, queue_delay=queue_delay)
        super().__init__()

    def reset(self) -> None:
        self.jenkins = seed_jenkins(build_seconds=self.build_seconds, queue_delay=self.queue_delay)

    def environment(self, base_url: str) -> dict[str, str]:
        return {
            "OAR_JENKINS_URL": base_url,
            "JENKINS_USER": SANDBOX_USER,
            "JENKINS_TOKEN": SANDBOX_TOKEN,
        }

    def _authorized(self, request: Request) -> bool:
        return basic_auth_matches(
            request.headers.get("authorization", ""), user=SANDBOX_USER, token=SANDBOX_TOKEN
        )

    def _queue_json(self, item: QueueItem, base: str) -> dict[str, Any]:
        task_url = f"{base}/{job_path(item.job)}/"
        raw: dict[str, Any] = {
            "_class": "hudson.model.Queue$WaitingItem",
            "id": item.id,
            "url": f"queue/item/{item.id}/",
            "task": {"name": item.job.rsplit("/", 1)[-1], "url": task_url},
            "cancelled": item.cancelled,
            "why": item.why,
            "executable": None,
            "params": "".join(f"\n{k}={v}" for k, v in item.parameters.items()),
            "actions": [
                {
                    "_class": "hudson.model.ParametersAction",
                    "parameters": [
                        {"_class": "hudson.model.StringParameterValue", "name": k, "value": v}
                        for k, v in item.parameters.items()
                    ],
                }
            ],
        }
        if item.build_number is not None:
            raw["_class"] = "hudson.model.Queue$LeftItem"
            raw["executable"] = {
                "number": item.build_number,
                "url": f"{task_url}{item.build_number}/",
            }
        return raw

    def routes(self) -> None:  # noqa: PLR0915 - one closure per route
        app = self.app
        stand_in = self

        def base(request: Request) -> str:
            return str(request.base_url).rstrip("/")

        @app.middleware("http")
        async def authenticate(request: Request, call_next: Any) -> Response:
            if request.url.path.startswith("/_sandbox/"):
                response: Response = await call_next(request)
                return response
            if not stand_in._authorized(request):
                return Response(
                    "Invalid password/token for user",
                    status_code=401,
                    headers={"X-Jenkins": VERSION},
                )
            if request.method == "POST" and request.headers.get("jenkins-crumb") != CRUMB:
                return Response("No valid crumb was included in the request", status_code=403)
            response = await call_next(request)
            response.headers["X-Jenkins"] = VERSION
            return response

        @app.exception_handler(IntegrationError)
        async def refused(request: Request, exc: IntegrationError) -> Response:
            status = 404 if isinstance(exc, IntegrationNotFoundError) else exc.status_code
            return Response(exc.message, status_code=status or 400)

        @app.get("/")
        @app.get("/api/json")
        async def root(request: Request) -> Any:
            return {
                "_class": "hudson.model.Hudson",
                "mode": "NORMAL",
                "nodeDescription": "OAR sandbox Jenkins",
                "jobs": [
                    {"name": name, "url": f"{base(request)}/{job_path(name)}/"}
                    for name in sorted(stand_in.jenkins.jobs)
                ],
            }

        @app.post(_CONTROL + "/jobs/{job:path}")
        async def control_job(job: str, body: JobControl) -> Any:
            spec = stand_in.jenkins.jobs.get(job.strip("/"))
            if spec is None:
                return JSONResponse({"error": f"no job {job}"}, status_code=404)
            if body.result is not None:
                spec.result = body.result
            if body.duration is not None:
                spec.duration = body.duration
            if body.hold is not None:
                spec.hold = body.hold
            return {
                "job": job,
                "result": str(spec.result),
                "duration": spec.duration,
                "hold": spec.hold,
            }

        @app.post(_CONTROL + "/builds/{rest:path}")
        async def control_build(rest: str, body: BuildControl) -> Any:
            job, _, number = rest.strip("/").rpartition("/")
            if not number.isdigit():
                return JSONResponse({"error": "path: <job>/<build number>"}, status_code=400)
            build = stand_in.jenkins.finish_build(job, int(number), body.result)
            return {
                "job": build.job,
                "number": build.number,
                "building": build.building,
                "result": str(build.result) if build.result else None,
            }

        @app.get(_CONTROL + "/builds")
        async def control_builds() -> Any:
            builds = []
            for job in sorted(stand_in.jenkins.jobs):
                for b in await stand_in.jenkins.recent_builds(job, limit=100):
                    builds.append(
                        {
                            "job": b.job,
                            "number": b.number,
                            "building": b.building,
                            "result": str(b.result) if b.result else None,
                            "parameters": dict(b.parameters),
                        }
                    )
            return {"builds": builds}

        @app.get("/crumbIssuer/api/json")
        async def crumb() -> Any:
            return {
                "_class": "hudson.security.csrf.DefaultCrumbIssuer",
                "crumb": CRUMB,
                "crumbRequestField": "Jenkins-Crumb",
            }

        @app.get("/queue/api/json")
        async def queue(request: Request) -> Any:
            items: list[QueueItem] = []
            for job in sorted(stand_in.jenkins.jobs):
                items.extend(await stand_in.jenkins.queued(job))
            return {"items": [stand_in._queue_json(i, base(request)) for i in items]}

        @app.get("/queue/item/{queue_id:int}/api/json")
        async def queue_item(queue_id: int, request: Request) -> Any:
            item = await stand_in.jenkins.queue_item(queue_id)
            return stand_in._queue_json(item, base(request))

        @app.post("/job/{rest:path}")
        async def post_job(rest: str, request: Request) -> Response:
            job, tail = _split_job(rest)
            if tail not in (["buildWithParameters"], ["build"]):
                return Response("Not found", status_code=404)
            parameters = dict(request.query_params)
            form = await request.body()
            if form:
                from urllib.parse import parse_qsl

                parameters.update(parse_qsl(form.decode()))
            parameters.pop("token", None)
            queue_id = await stand_in.jenkins.trigger(job, parameters)
            return Response(
                status_code=201, headers={"Location": f"{base(request)}/queue/item/{queue_id}/"}
            )

        @app.get("/job/{rest:path}")
        async def get_job(rest: str, request: Request) -> Any:
            job, tail = _split_job(rest)
            if tail == ["api", "json"]:
                spec = stand_in.jenkins.jobs.get(job)
                if spec is None:
                    return Response("Not found", status_code=404)
                return {
                    "_class": "org.jenkinsci.plugins.workflow.job.WorkflowJob",
                    "name": job.rsplit("/", 1)[-1],
                    "fullName": job,
                    "url": f"{base(request)}/{job_path(job)}/",
                    "nextBuildNumber": spec.next_build,
                    "inQueue": bool(await stand_in.jenkins.queued(job)),
                    "builds": [
                        {
                            "_class": "org.jenkinsci.plugins.workflow.job.WorkflowRun",
                            "number": b.number,
                            "url": f"{base(request)}/{job_path(job)}/{b.number}/",
                        }
                        for b in await stand_in.jenkins.recent_builds(job, limit=100)
                    ],
                }
            if len(tail) == 3 and tail[0].isdigit() and tail[1:] == ["api", "json"]:
                build = await stand_in.jenkins.build(job, int(tail[0]))
                return {
                    "_class": "org.jenkinsci.plugins.workflow.job.WorkflowRun",
                    "number": build.number,
                    "building": build.building,
                    "result": str(build.result) if build.result else None,
                    "url": f"{base(request)}/{job_path(job)}/{build.number}/",
                    "fullDisplayName": f"{job} #{build.number}",
                    "actions": [
                        {
                            "_class": "hudson.model.ParametersAction",
                            "parameters": [
                                {
                                    "_class": "hudson.model.StringParameterValue",
                                    "name": k,
                                    "value": v,
                                }
                                for k, v in build.parameters.items()
                            ],
                        }
                    ],
                }
            return Response("Not found", status_code=404)
