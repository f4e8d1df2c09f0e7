"""A Prow stand-in: Gangway's execution API and Prow's ``/prowjob`` YAML on one server.

``POST /v1/executions/{job}`` wants ``Authorization: Bearer <APITOKEN>`` (403 otherwise,
as Gangway answers a bad token) and a periodic job name; it answers ``{"id": …}``. A run
then moves triggered → pending → success on a clock (``pending_after`` and
``complete_after`` seconds after the trigger), unless pinned:

* ``POST /_sandbox/prow/jobs/{id}`` ``{"state": "failure"}`` pins a run's state (any of
  triggered, pending, success, failure, aborted, error);
* ``POST /_sandbox/prow/timing`` ``{"pending_after": 1, "complete_after": 5}``;
* ``GET /_sandbox/prow/jobs`` lists runs with the environment each was triggered with;
* ``POST /_sandbox/prow/outcomes`` ``{"job": NAME, "states": ["failure", "success"]}``: the
  next runs of that job are pinned to these states in turn (a required job that fails
  first and passes on its retries); ``DELETE`` clears them.

The seed holds the runs the sandbox's test result files name (:mod:`oar.sandbox.releasetests`).
"""

from __future__ import annotations

import secrets
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import yaml
from fastapi import Request
from fastapi.responses import JSONResponse, PlainTextResponse
from pydantic import BaseModel, Field

from oar.integrations.prow import ProwJobState
from oar.sandbox import releasetests
from oar.sandbox.server import StandIn

SANDBOX_PROW_TOKEN = "oar-sandbox-gangway-token"  # noqa: S105  (sandbox only)
_CONTROL = "/_sandbox/prow"


@dataclass(kw_only=True)
class Run:
    job_id: str
    job_name: str
    build_id: str
    envs: dict[str, str] = field(default_factory=dict)
    triggered_at: float = field(default_factory=time.time)
    pinned: ProwJobState | None = None
    start_time: str | None = None
    completion_time: str | None = None
    url: str | None = None


class Timing(BaseModel):
    pending_after: float = Field(default=2.0, ge=0)
    complete_after: float = Field(default=20.0, ge=0)


class PinState(BaseModel):
    state: ProwJobState


class Outcomes(BaseModel):
    job: str
    states: list[ProwJobState]


def _iso(at: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(at))


class ProwStandIn(StandIn):
    name = "prow"

    def __init__(self, *, pending_after: float = 2.0, complete_after: float = 20.0) -> None:
        self.timing = Timing(pending_after=pending_after, complete_after=complete_after)
        self.runs: dict[str, Run] = {}
        self.outcomes: dict[str, list[ProwJobState]] = {}
        self._next_build = 0
        super().__init__()

    def reset(self) -> None:
        self.runs = {}
        self.outcomes = {}
        for seeded in releasetests.PROW_RUNS:
            self.runs[seeded.job_id] = Run(
                job_id=seeded.job_id,
                job_name=seeded.job_name,
                build_id=seeded.build_id,
                envs={"RELEASE_IMAGE_LATEST": seeded.payload},
                pinned=ProwJobState(seeded.state),
                start_time=seeded.start_time,
                completion_time=seeded.completion_time,
                url=seeded.url,
            )
        self._next_build = 0

    def environment(self, base_url: str) -> dict[str, str]:
        return {
            "OAR_GANGWAY_URL": base_url,
            "OAR_PROW_URL": base_url,
            "APITOKEN": SANDBOX_PROW_TOKEN,
        }

    def state_of(self, run: Run, now: float) -> ProwJobState:
        if run.pinned is not None:
            return run.pinned
        age = now - run.triggered_at
        if age >= self.timing.complete_after:
            return ProwJobState.SUCCESS
        if age >= self.timing.pending_after:
            return ProwJobState.PENDING
        return ProwJobState.TRIGGERED

    def _prowjob(self, run: Run, base_url: str) -> dict[str, Any]:
        now = time.time()
        state = self.state_of(run, now)
        status: dict[str, Any] = {"state": str(state)}
        if state is not ProwJobState.TRIGGERED:
            started = run.start_time or _iso(run.triggered_at + self.timing.pending_after)
            status.update(
                startTime=started,
                pendingTime=started,
                build_id=run.build_id,
                url=run.url
                or f"{base_url}/view/gs/{releasetests.BUCKET}/logs/{run.job_name}/{run.build_id}",
            )
        if state.completed:
            status["completionTime"] = run.completion_time or _iso(now)
            run.completion_time = status["completionTime"]
        return {
            "apiVersion": "prow.k8s.io/v1",
            "kind": "ProwJob",
            "metadata": {
                "name": run.job_id,
                "namespace": "ci",
                "labels": {"prow.k8s.io/job": run.job_name[:63], "prow.k8s.io/type": "periodic"},
            },
            "spec": {
                "type": "periodic",
                "agent": "kubernetes",
                "cluster": "build05",
                "namespace": "ci",
                "job": run.job_name,
                "pod_spec": {
                    "containers": [
                        {"env": [{"name": k, "value": v} for k, v in sorted(run.envs.items())]}
                    ]
                },
            },
            "status": status,
        }

    def routes(self) -> None:
        app = self.app

        @app.post("/v1/executions/{job_name}")
        async def execute(job_name: str, request: Request) -> Any:
            scheme, _, token = request.headers.get("authorization", "").partition(" ")
            if scheme.lower() != "bearer" or not secrets.compare_digest(
                token.encode(), SANDBOX_PROW_TOKEN.encode()
            ):
                return JSONResponse({"code": 7, "message": "permission denied"}, status_code=403)
            try:
                body = await request.json()
            except ValueError:
                return JSONResponse({"code": 3, "message": "invalid JSON"}, status_code=400)
            if not job_name.startswith("periodic-"):
                return JSONResponse(
                    {"code": 5, "message": f"failed to find associated periodic job {job_name}"},
                    status_code=404,
                )
            envs = (body.get("pod_spec_options") or {}).get("envs") or {}
            self._next_build += 1
            queued = self.outcomes.get(job_name)
            run = Run(
                job_id=str(uuid.uuid4()),
                job_name=job_name,
                build_id=f"{1995000000000000000 + self._next_build}",
                envs={str(k): str(v) for k, v in envs.items()},
                pinned=queued.pop(0) if queued else None,
            )
            self.runs[run.job_id] = run
            return {
                "id": run.job_id,
                "job_name": job_name,
                "job_type": "PERIODIC",
                "job_status": "TRIGGERED",
                "gcs_path": "",
            }

        @app.get("/prowjob")
        async def prowjob(request: Request, prowjob: str = "") -> Any:
            run = self.runs.get(prowjob)
            if run is None:
                return PlainTextResponse(f"prowjob {prowjob} not found", status_code=404)
            base = str(request.base_url).rstrip("/")
            return PlainTextResponse(
                yaml.safe_dump(self._prowjob(run, base), sort_keys=False),
                media_type="application/x-yaml",
            )

        @app.get("/view/gs/{path:path}")
        async def view(path: str) -> Any:
            return PlainTextResponse(f"OAR sandbox: artifacts of gs://{path}")

        @app.get(_CONTROL + "/jobs")
        async def jobs() -> Any:
            now = time.time()
            return {
                "jobs": [
                    {
                        "id": run.job_id,
                        "job": run.job_name,
                        "state": str(self.state_of(run, now)),
                        "envs": run.envs,
                    }
                    for run in self.runs.values()
                ]
            }

        @app.post(_CONTROL + "/jobs/{job_id}")
        async def pin(job_id: str, body: PinState) -> Any:
            run = self.runs.get(job_id)
            if run is None:
                return JSONResponse({"error": f"no prowjob {job_id}"}, status_code=404)
            run.pinned = body.state
            return {"id": job_id, "state": str(body.state)}

        @app.post(_CONTROL + "/outcomes")
        async def outcomes(body: Outcomes) -> Any:
            self.outcomes[body.job] = list(body.states)
            return {"job": body.job, "states": [str(s) for s in body.states]}

        @app.delete(_CONTROL + "/outcomes")
        async def clear_outcomes() -> Any:
            self.outcomes = {}
            return {"cleared": True}

        @app.post(_CONTROL + "/timing")
        async def timing(body: Timing) -> Any:
            self.timing = body
            return body.model_dump()
