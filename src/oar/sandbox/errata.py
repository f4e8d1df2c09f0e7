"""An Errata Tool stand-in: the REST paths the errata-tool library and OAR use, over the
fictional release's advisories (4.19.3's rpm and rhcos, 4.18.40's six), all in QE.

State is a :class:`~oar.integrations.fakes.errata.FakeErrata`; the stand-in adds the wire:
bearer-token authentication, Errata Tool's JSON shapes and its ``{"error": …}`` bodies.

Paths: ``GET|PUT /api/v1/erratum/{id}`` (the PUT takes ``assigned_to_email`` and the
reduced ``idsfixed``), ``GET /advisory/{id}.json``,
``POST /api/v1/erratum/{id}/change_state``, ``GET /advisory/{id}/jira_issues.json``,
``GET /advisory/{id}/builds.json``, ``GET|POST /api/v1/erratum/{id}/push[?defaults=stage]``,
``GET /errata/blocking_errata_for/{id}.json``, ``GET /api/v1/erratum/{id}/security_alerts``,
``POST /api/v1/erratum/{id}/security_alerts/refresh``, ``GET /api/v1/external_tests?filter[…]``
(paginated with ``page[number]``, an empty page ends it), ``POST
/api/v1/external_tests/{id}/refetch``, ``GET /api/v1/releases?filter[name]=``,
``GET /release/{id}/advisories.json``. Refetches and alert refreshes are recorded
(``errata.refetched``, ``errata.alert_refreshes``, and the journal).


A push job runs ``push_seconds`` (2 s), then ends as the control says (default: COMPLETE):

* ``POST /_sandbox/errata/pushes`` ``{"outcome": "complete" | "fail" | "hang"}`` for every
  advisory, or with ``"advisory": <id>`` for one; a job that hangs stays RUNNING until the
  outcome changes, and then ends as the new one says;
* ``GET /_sandbox/errata/pushes`` — the outcomes and every advisory's push jobs.
"""

from __future__ import annotations

import hmac
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel

from oar.errors import IntegrationError, IntegrationNotFoundError
from oar.integrations.errata import (
    Advisory,
    AdvisoryIssue,
    AdvisoryState,
    Build,
    SecurityAlerts,
    TestResult,
)
from oar.integrations.fakes.errata import FakeErrata, PushOutcome
from oar.sandbox import seed
from oar.sandbox.server import StandIn

SANDBOX_TOKEN = "sandbox-errata-token"  # noqa: S105 - the sandbox's published test credential
INITIAL_QE_OWNER = "ocp-qe-errata@example.com"
_PAGE_SIZE = 20
_RELEASE_IDS = {"RHOSE-4.19.z": 2101, "RHOSE-4.18.z": 2100}
# The seeded Greenwave CVP test that failed (the errata release's extras advisory).
CVP_FAILED_TEST = 61003
CVP_FAILED_NVR = "ose-sriov-network-operator-bundle-container-v4.18.40-202611170700.p0"


def _product_version(release: str) -> str:
    y_stream = ".".join(release.split(".")[:2])
    return f"OSE-{y_stream}-RHEL-9"


def seed_errata(*, push_seconds: float = 2.0) -> FakeErrata:
    """A :class:`FakeErrata` with the seed advisories in QE, their bugs, builds and tests."""
    fake = FakeErrata(push_seconds=push_seconds)
    bugs_by_advisory: dict[int, list[AdvisoryIssue]] = {}
    for bug in seed.BUGS:
        if bug.advisory is not None:
            bugs_by_advisory.setdefault(bug.advisory, []).append(
                AdvisoryIssue(key=bug.key, summary=bug.summary, status=bug.status)
            )
    for release, advisories in seed.ADVISORIES.items():
        y_stream = ".".join(release.split(".")[:2])
        et_release = f"RHOSE-{y_stream}.z"
        fake.releases.setdefault(et_release, [])
        for impetus, advisory_id in advisories.items():
            kind = "RHSA" if impetus == "rpm" else "RHBA"
            fake.advisories[advisory_id] = Advisory(
                id=advisory_id,
                name=f"{kind}-2026:{advisory_id - 130000}",
                type=kind,
                state=AdvisoryState.QE,
                synopsis=f"OpenShift Container Platform {release} {impetus} update",
                qe_owner=INITIAL_QE_OWNER,
                qe_group="OpenShift QE",
                product="RHOSE",
                release=et_release,
                # The docs and product security approved: a drop makes them ask again.
                doc_complete=True,
                text_ready=True,
                security_approved=True if kind == "RHSA" else None,
            )
            fake.releases[et_release].append(advisory_id)
            fake.issues[advisory_id] = bugs_by_advisory.get(advisory_id, [])
            fake.builds_of[advisory_id] = [
                Build(
                    nvr=_build_nvr(impetus, release),
                    product_version=_product_version(release),
                )
            ]
    errata = seed.ADVISORIES[seed.ERRATA_RELEASE]
    # The image advisory ships after the rpm one: Errata Tool blocks its push until then.
    fake.blockers[errata["image"]] = [errata["rpm"]]
    fake.cvp[errata["image"]] = [
        TestResult(
            id=61001,
            nvr="ose-cli-container-v4.18.0-202611170700.p0",
            status="PASSED",
            external_id="cvp-61001",
            advisory_id=errata["image"],
        ),
        TestResult(
            id=61002,
            nvr="ose-installer-container-v4.18.0-202611170700.p0",
            status="PASSED",
            external_id="cvp-61002",
            advisory_id=errata["image"],
        ),
    ]
    # The extras advisory has a failed CVP test (check-greenwave-cvp-tests fails on it)
    # next to a waived one.
    fake.cvp[errata["extras"]] = [
        TestResult(
            id=CVP_FAILED_TEST,
            nvr=CVP_FAILED_NVR,
            status="FAILED",
            external_id=f"cvp-{CVP_FAILED_TEST}",
            advisory_id=errata["extras"],
        ),
        TestResult(
            id=61004,
            nvr="ose-operator-registry-container-v4.18.40-202611170700.p0",
            status="WAIVED",
            external_id="cvp-61004",
            advisory_id=errata["extras"],
        ),
    ]
    return fake


def _build_nvr(impetus: str, release: str) -> str:
    names = {
        "rpm": f"openshift-{release}-202611170700.p0.el9",
        "rhcos": seed.rhcos_build(release),
        "image": f"ose-cli-container-v{release}-202611170700.p0",
        "extras": f"ose-operator-registry-container-v{release}-202611170700.p0",
        "metadata": f"ose-metadata-container-v{release}-202611170700.p0",
        "microshift": f"microshift-{release}-202611170700.p0.el9",
    }
    return names.get(impetus, f"{impetus}-{release}-1")


class PushControl(BaseModel):
    outcome: PushOutcome
    advisory: int | None = None


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


class ErrataStandIn(StandIn):
    name = "errata"

    def __init__(self, *, push_seconds: float = 2.0) -> None:
        self.push_seconds = push_seconds
        self.errata = seed_errata(push_seconds=push_seconds)
        super().__init__()

    def reset(self) -> None:
        self.errata = seed_errata(push_seconds=self.push_seconds)

    def environment(self, base_url: str) -> dict[str, str]:
        return {"OAR_ERRATA_URL": base_url, "ERRATA_TOKEN": SANDBOX_TOKEN}

    def _erratum_json(self, advisory: Advisory) -> dict[str, Any]:
        issues = self.errata.issues.get(advisory.id, [])
        return {
            "errata": {
                advisory.type.lower(): {
                    "id": advisory.id,
                    "fulladvisory": f"{advisory.name}-01",
                    "status": str(advisory.state),
                    "synopsis": advisory.synopsis,
                    "release_date": None,
                    "publish_date_override": None,
                    "text_only": False,
                    "product_id": 79,
                    "group_id": _RELEASE_IDS.get(advisory.release, 2000),
                    "doc_complete": int(advisory.doc_complete),
                    "text_ready": int(advisory.text_ready),
                    "security_approved": advisory.security_approved,
                }
            },
            "content": {"content": {"topic": advisory.synopsis, "description": "", "solution": ""}},
            "bugs": {"bugs": [], "idsfixed": []},
            "jira_issues": {
                "jira_issues": [{"jira_issue": {"key": i.key}} for i in issues],
                "idsfixed": [i.key for i in issues],
            },
        }

    def _legacy_json(self, advisory: Advisory) -> dict[str, Any]:
        return {
            "id": advisory.id,
            "advisory_name": advisory.name,
            "status": str(advisory.state),
            "synopsis": advisory.synopsis,
            "product": {
                "id": 79,
                "name": "Red Hat OpenShift Enterprise",
                "short_name": advisory.product,
            },
            "release": {"id": _RELEASE_IDS.get(advisory.release, 2000), "name": advisory.release},
            "people": {
                "assigned_to": advisory.qe_owner,
                "reporter": "art-bot@example.com",
                "qe_group": advisory.qe_group,
                "docs_group": "OpenShift Docs",
            },
        }

    def routes(self) -> None:  # noqa: PLR0915 - one closure per route
        app = self.app
        stand_in = self

        @app.middleware("http")
        async def authenticate(request: Request, call_next: Any) -> Response:
            header = request.headers.get("authorization", "")
            if not request.url.path.startswith("/_sandbox/") and not hmac.compare_digest(
                header, f"Bearer {SANDBOX_TOKEN}"
            ):
                return _error(401, "You must be logged in (Kerberos or a valid API token).")
            response: Response = await call_next(request)
            return response

        @app.exception_handler(IntegrationError)
        async def refused(request: Request, exc: IntegrationError) -> Response:
            status = 404 if isinstance(exc, IntegrationNotFoundError) else exc.status_code
            return _error(status or 400, exc.message.removeprefix("Errata Tool: "))

        @app.get("/api/v1/erratum/{advisory_id:int}")
        async def erratum(advisory_id: int) -> Any:
            return stand_in._erratum_json(await stand_in.errata.get_advisory(advisory_id))

        @app.put("/api/v1/erratum/{advisory_id:int}")
        async def update_erratum(advisory_id: int, request: Request) -> Any:
            fields = (await request.json()).get("advisory") or {}
            unknown = set(fields) - {
                "assigned_to_email",
                "idsfixed",
                "text_ready",
                "security_approved",
            }
            if unknown:
                return _error(400, f"unsupported fields in the sandbox: {sorted(unknown)}")
            if "idsfixed" in fields:
                # The whole list, space-separated: what is missing from it is removed.
                listed = set(str(fields["idsfixed"]).split())
                attached = [i.key for i in await stand_in.errata.jira_issues(advisory_id)]
                added = listed - set(attached)
                if added:
                    return _error(
                        400, f"the sandbox does not attach issues: {', '.join(sorted(added))}"
                    )
                await stand_in.errata.remove_jira_issues(
                    advisory_id, [k for k in attached if k not in listed]
                )
            if "assigned_to_email" in fields:
                await stand_in.errata.set_qe_owner(advisory_id, str(fields["assigned_to_email"]))
            if str(fields.get("text_ready", "")) in ("1", "True", "true"):
                await stand_in.errata.request_doc_approval(advisory_id)
            if fields.get("security_approved") in (False, "false", "0", 0):
                await stand_in.errata.request_prodsec_approval(advisory_id)
            return stand_in._erratum_json(await stand_in.errata.get_advisory(advisory_id))

        @app.get("/advisory/{advisory_id:int}.json")
        async def legacy(advisory_id: int) -> Any:
            return stand_in._legacy_json(await stand_in.errata.get_advisory(advisory_id))

        @app.post("/api/v1/erratum/{advisory_id:int}/change_state")
        async def change_state(advisory_id: int, request: Request) -> Any:
            new_state = (await request.json()).get("new_state")
            if new_state not in set(AdvisoryState):
                return _error(400, f"invalid state {new_state!r}")
            advisory = await stand_in.errata.change_state(advisory_id, AdvisoryState(new_state))
            return stand_in._erratum_json(advisory)

        @app.get("/advisory/{advisory_id:int}/jira_issues.json")
        async def jira_issues(advisory_id: int) -> Any:
            return [
                {
                    "id_jira": 900000 + n,
                    "key": i.key,
                    "summary": i.summary,
                    "status": i.status,
                    "is_private": False,
                }
                for n, i in enumerate(await stand_in.errata.jira_issues(advisory_id))
            ]

        @app.get("/advisory/{advisory_id:int}/builds.json")
        async def builds(advisory_id: int) -> Any:
            grouped: dict[str, list[dict[str, Any]]] = {}
            for build in await stand_in.errata.builds(advisory_id):
                grouped.setdefault(build.product_version, []).append(
                    {build.nvr: {"x86_64": [f"{build.nvr}.x86_64.rpm"]}}
                )
            return grouped

        def push_json(job: Any) -> dict[str, Any]:
            return {
                "id": job.id,
                "status": str(job.status),
                "target": {"id": 20 if job.target == "cdn_stage" else 21, "name": job.target},
                "pub_task": {"id": job.id + 1000000},
            }

        self.control_routes(push_json)

        @app.get("/api/v1/erratum/{advisory_id:int}/push")
        async def push_jobs(advisory_id: int) -> Any:
            return [push_json(j) for j in await stand_in.errata.push_jobs(advisory_id)]

        @app.post("/api/v1/erratum/{advisory_id:int}/push")
        async def push(advisory_id: int, request: Request) -> Any:
            if request.query_params.get("defaults") != "stage":
                return _error(400, "the sandbox pushes with defaults=stage only")
            return [push_json(j) for j in await stand_in.errata.push_to_stage(advisory_id)]

        @app.get("/errata/blocking_errata_for/{advisory_id:int}.json")
        async def blocking(advisory_id: int) -> Any:
            return await stand_in.errata.blocking_advisories(advisory_id)

        def alerts_json(alerts: SecurityAlerts) -> dict[str, Any]:
            # The shape the original reads: response["alerts"]["blocking"|"alerts"] (§6.3).
            return {
                "alerts": {
                    "blocking": alerts.blocking,
                    "alerts": [{"name": a, "blocking": alerts.blocking} for a in alerts.alerts],
                }
            }

        @app.get("/api/v1/erratum/{advisory_id:int}/security_alerts")
        async def security_alerts(advisory_id: int) -> Any:
            return alerts_json(await stand_in.errata.security_alerts(advisory_id))

        @app.post("/api/v1/erratum/{advisory_id:int}/security_alerts/refresh")
        async def refresh_security_alerts(advisory_id: int) -> Any:
            return alerts_json(await stand_in.errata.refresh_security_alerts(advisory_id))

        def test_json(r: TestResult) -> dict[str, Any]:
            return {
                "id": r.id,
                "type": "external_tests",
                "attributes": {
                    "external_id": r.external_id,
                    "status": r.status,
                    "test_type": "greenwave_cvp",
                    "active": True,
                    "external_data": {"json_body": {"subject_identifier": r.nvr}},
                },
                "relationships": {
                    "errata": {"id": r.advisory_id},
                    "brew_build": {"id": r.id + 5000, "nvr": r.nvr},
                },
            }

        @app.get("/api/v1/external_tests")
        async def external_tests(request: Request) -> Any:
            params = request.query_params
            if params.get("filter[test_type]") != "greenwave_cvp":
                return {"data": [], "page": {"number": 1}}
            advisory_id = int(params.get("filter[errata_id]", "0"))
            page = int(params.get("page[number]", "1"))
            results = await stand_in.errata.cvp_results(advisory_id)
            chunk = results[(page - 1) * _PAGE_SIZE : page * _PAGE_SIZE]
            return {
                "data": [test_json(r) for r in chunk],
                "page": {"number": page, "size": _PAGE_SIZE},
            }

        @app.post("/api/v1/external_tests/{test_id:int}/refetch")
        async def refetch(test_id: int) -> Any:
            return {"data": test_json(await stand_in.errata.refetch_test(test_id))}

        @app.get("/api/v1/releases")
        async def releases(request: Request) -> Any:
            name = request.query_params.get("filter[name]")
            return {
                "data": [
                    {"id": _RELEASE_IDS.get(n, 2000), "type": "releases", "attributes": {"name": n}}
                    for n in sorted(stand_in.errata.releases)
                    if name is None or n == name
                ]
            }

        @app.get("/release/{release_id:int}/advisories.json")
        async def release_advisories(release_id: int) -> Any:
            names = [n for n, i in _RELEASE_IDS.items() if i == release_id]
            if not names:
                return _error(404, f"Couldn't find Release with id={release_id}")
            found = []
            for advisory_id in await stand_in.errata.release_advisories(names[0]):
                advisory = await stand_in.errata.get_advisory(advisory_id)
                found.append(
                    {
                        "id": advisory.id,
                        "advisory_name": advisory.name,
                        "status": str(advisory.state),
                        "synopsis": advisory.synopsis,
                    }
                )
            return found

    def control_routes(self, push_json: Any) -> None:
        """The sandbox's own routes: how push jobs end."""
        app = self.app
        stand_in = self

        @app.get("/_sandbox/errata/pushes")
        async def pushes() -> Any:
            errata = stand_in.errata
            return {
                "outcome": str(errata.push_outcome),
                "outcomes": {str(a): str(o) for a, o in errata.push_outcomes.items()},
                "jobs": {
                    str(a): [push_json(j) for j in jobs] for a, jobs in errata.pushes().items()
                },
            }

        @app.post("/_sandbox/errata/pushes")
        async def control_pushes(body: PushControl) -> Any:
            if body.advisory is not None and body.advisory not in stand_in.errata.advisories:
                return _error(404, f"no advisory {body.advisory}")
            stand_in.errata.set_push_outcome(body.outcome, body.advisory)
            return {"outcome": str(body.outcome), "advisory": body.advisory}
