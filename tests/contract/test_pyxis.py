"""The Pyxis port's contract: the fake and the httpx adapter against the stand-in agree
on the catalog's shapes (images by digest with their freshness grades, vulnerabilities)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from oar.errors import IntegrationError, InvalidArgumentError
from oar.integrations.pyxis import Pyxis, PyxisClient
from oar.release.imagehealth import current_grade
from oar.sandbox import seed
from oar.sandbox.pyxis import SEEDED_SINCE, PyxisStandIn, seed_pyxis
from tests.contract.support import quick_policy

IMAGE = seed.SHIPMENT_IMAGES[1]


@pytest.fixture(params=["fake", "stand-in"])
async def pyxis(request: pytest.FixtureRequest) -> AsyncIterator[Pyxis]:
    if request.param == "fake":
        yield seed_pyxis()
        return
    stand_in = PyxisStandIn()
    async with stand_in.serving() as url:
        base = stand_in.environment(url)["OAR_PYXIS_URL"]
        async with PyxisClient(base, policy=quick_policy("Pyxis", "")) as client:
            yield client


async def test_an_image_is_found_by_digest_with_its_grades(pyxis: Pyxis) -> None:
    for digest in (IMAGE.digest, f"sha256:{IMAGE.digest}"):
        image = await pyxis.image(digest)
        assert image is not None
        assert image.image_id == f"sha256:{IMAGE.digest}"
        assert image.architecture == IMAGE.architecture
        assert [g.grade for g in image.grades] == ["A", IMAGE.grade]
        assert current_grade(image.grades, SEEDED_SINCE) == IMAGE.grade
        assert image.vulnerabilities_href == f"/v1/images/id/{image.id}/vulnerabilities"


async def test_an_unknown_digest_is_none_and_a_malformed_one_is_refused(pyxis: Pyxis) -> None:
    assert await pyxis.image("ff" * 32) is None
    with pytest.raises(InvalidArgumentError):
        await pyxis.image("latest")


async def test_vulnerabilities_carry_cves_packages_and_fixes(pyxis: Pyxis) -> None:
    image = await pyxis.image(IMAGE.digest)
    assert image is not None
    found = {v.cve_id: v for v in await pyxis.vulnerabilities(image)}
    assert sorted(found) == ["CVE-2026-10001", "CVE-2026-10002"]
    important = found["CVE-2026-10001"]
    assert important.severity == "Important"
    assert important.affected == (("openssl-libs", "3.2.2-6.el9_5"),)
    assert important.srpm_nevras == ("openssl-1:3.2.2-6.el9_5.1.src",)


async def test_the_control_api_regrades_an_image() -> None:
    stand_in = PyxisStandIn()
    async with stand_in.serving() as url:
        base = stand_in.environment(url)["OAR_PYXIS_URL"]
        async with httpx.AsyncClient() as http:
            answer = await http.post(
                f"{url}/_sandbox/pyxis/images/{IMAGE.digest}", json={"grade": "D"}
            )
            assert answer.json()["grade"] == "D"
            unknown = await http.post(
                f"{url}/_sandbox/pyxis/images/{seed.SHIPMENT_IMAGES[0].digest}",
                json={"grade": None},
            )
            assert unknown.json()["grade"] == "Unknown"
        async with PyxisClient(base, policy=quick_policy("Pyxis", "")) as client:
            image = await client.image(IMAGE.digest)
            assert image is not None
            assert [g.grade for g in image.grades][-1] == "D"


async def test_a_server_error_is_an_integration_error() -> None:
    stand_in = PyxisStandIn()
    async with stand_in.serving() as url:
        stand_in.add_fault(path="/v1/images", status=500, times=None)
        base = stand_in.environment(url)["OAR_PYXIS_URL"]
        async with PyxisClient(base, policy=quick_policy("Pyxis", "", retries=1)) as client:
            with pytest.raises(IntegrationError):
                await client.image(IMAGE.digest)
