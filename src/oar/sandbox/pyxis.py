"""A Pyxis stand-in: the container catalog's REST API v1 under ``/api/containers``, with
the Konflux release's shipment images (:data:`oar.sandbox.seed.SHIPMENT_IMAGES`), each
with its freshness grades and a few vulnerabilities.

Paths: ``GET /api/containers/v1/images?filter=image_id==sha256:<hex>&page_size=&page=``
and ``GET /api/containers/v1/images/id/<_id>/vulnerabilities?page_size=&page=``, in the
catalog's ``{"data": […], "page": 0, "page_size": 100, "total": n}`` envelope.

Control: ``POST /_sandbox/pyxis/images/<digest>`` ``{"grade": "C"}`` gives the image a new
grade in force from now on (``null``: no grade in force, i.e. ``Unknown``);
``GET /_sandbox/pyxis/images`` lists the images and their grades now.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from oar.integrations.fakes.pyxis import FakePyxis
from oar.integrations.pyxis import FreshnessGrade, PyxisImage, Vulnerability, image_id
from oar.release.imagehealth import current_grade
from oar.sandbox import seed
from oar.sandbox.server import StandIn

API = "/api/containers"
_CONTROL = "/_sandbox/pyxis"
_FILTER = re.compile(r"^image_id==(?P<id>sha256:[0-9a-f]{64})$")
SEEDED_SINCE = datetime(2026, 1, 1, tzinfo=UTC)


def _vulnerabilities(component: str) -> list[Vulnerability]:
    return [
        Vulnerability(
            cve_id="CVE-2026-10001",
            severity="Important",
            affected=(("openssl-libs", "3.2.2-6.el9_5"),),
            srpm_nevras=("openssl-1:3.2.2-6.el9_5.1.src",),
        ),
        Vulnerability(
            cve_id="CVE-2026-10002",
            severity="Moderate",
            affected=(("openssl-libs", "3.2.2-6.el9_5"), (f"{component}-libs", "1.0-1.el9")),
            srpm_nevras=("openssl-1:3.2.2-6.el9_5.1.src",),
        ),
    ]


def seed_pyxis() -> FakePyxis:
    """Every shipment image, graded A since 2025 then at its seed grade since 2026."""
    pyxis = FakePyxis()
    for image in seed.SHIPMENT_IMAGES:
        pyxis.add(
            image.digest,
            architecture=image.architecture,
            grades=(
                FreshnessGrade(grade="A", start_date=datetime(2025, 6, 1, tzinfo=UTC)),
                FreshnessGrade(grade=image.grade, start_date=SEEDED_SINCE),
            ),
            vulnerabilities=_vulnerabilities(image.component),
        )
    return pyxis


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S+00:00")


def image_json(image: PyxisImage) -> dict[str, Any]:
    return {
        "_id": image.id,
        "_links": {
            "vulnerabilities": {"href": image.vulnerabilities_href},
            "rpm_manifest": {"href": f"/v1/images/id/{image.id}/rpm-manifest"},
        },
        "image_id": image.image_id,
        "architecture": image.architecture,
        "freshness_grades": [
            {
                "grade": g.grade,
                "start_date": _iso(g.start_date),
                **({"end_date": _iso(g.end_date)} if g.end_date else {}),
                "creation_date": _iso(g.start_date),
            }
            for g in image.grades
        ],
        "repositories": [
            {
                "registry": "quay.io",
                "repository": seed.KONFLUX_IMAGE_REPOSITORY.removeprefix("quay.io/"),
                "published": False,
            }
        ],
    }


def vulnerability_json(vulnerability: Vulnerability) -> dict[str, Any]:
    return {
        "cve_id": vulnerability.cve_id,
        "severity": vulnerability.severity,
        "affected_packages": [
            {"name": name, "version": version, "package_type": "rpm"}
            for name, version in vulnerability.affected
        ],
        "packages": [{"srpm_nevra": nevra, "rpm_nevra": []} for nevra in vulnerability.srpm_nevras],
    }


def _envelope(data: list[dict[str, Any]], page: int, page_size: int) -> dict[str, Any]:
    chunk = data[page * page_size : (page + 1) * page_size]
    return {"data": chunk, "page": page, "page_size": page_size, "total": len(data)}


class GradeControl(BaseModel):
    grade: str | None = None


class PyxisStandIn(StandIn):
    name = "pyxis"

    def __init__(self) -> None:
        self.pyxis = seed_pyxis()
        super().__init__()

    def reset(self) -> None:
        self.pyxis = seed_pyxis()

    def environment(self, base_url: str) -> dict[str, str]:
        return {"OAR_PYXIS_URL": f"{base_url}{API}"}

    def routes(self) -> None:
        app = self.app
        stand_in = self

        @app.get(API + "/v1/images")
        async def images(
            request: Request, filter: str = "", page_size: int = 100, page: int = 0
        ) -> Any:
            match = _FILTER.match(filter)
            if match is None:
                return JSONResponse(
                    {"status": 400, "title": f"unsupported filter {filter!r}"}, status_code=400
                )
            found = stand_in.pyxis.images.get(match["id"])
            data = [image_json(found)] if found else []
            return _envelope(data, page, page_size)

        @app.get(API + "/v1/images/id/{key}/vulnerabilities")
        async def vulnerabilities(key: str, page_size: int = 100, page: int = 0) -> Any:
            found = stand_in.pyxis.by_id(key)
            if found is None:
                return JSONResponse(
                    {"status": 404, "title": "Requested item not found"}, status_code=404
                )
            data = [vulnerability_json(v) for v in await stand_in.pyxis.vulnerabilities(found)]
            return _envelope(data, page, page_size)

        @app.get(_CONTROL + "/images")
        async def listing() -> Any:
            now = datetime.now(UTC)
            return {
                "images": [
                    {"image_id": i.image_id, "grade": current_grade(i.grades, now)}
                    for i in stand_in.pyxis.images.values()
                ]
            }

        @app.post(_CONTROL + "/images/{digest}")
        async def grade(digest: str, body: GradeControl) -> Any:
            wanted = image_id(digest)
            found = stand_in.pyxis.images.get(wanted)
            if found is None:
                return JSONResponse({"error": f"no image {wanted}"}, status_code=404)
            now = datetime.now(UTC) - timedelta(seconds=1)
            if body.grade is None:  # nothing in force: every grade starts in the future
                grades = tuple(
                    FreshnessGrade(grade=g.grade, start_date=now + timedelta(days=365))
                    for g in found.grades
                )
            else:
                grades = (*found.grades, FreshnessGrade(grade=body.grade, start_date=now))
            stand_in.pyxis.set_grades(wanted, grades)
            return {"image_id": wanted, "grade": current_grade(grades, now + timedelta(seconds=1))}
