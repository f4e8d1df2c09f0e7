"""The payload inspector's contract: the fake, the HTTP inspector and the oc inspector
(with a stand-in ``oc`` executable) find the same metadata URL and see it go live."""

from __future__ import annotations

import stat
import sys
import textwrap
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from oar.errors import IntegrationError, IntegrationUnavailableError
from oar.integrations.fakes.payloads import FakePayloadInspector
from oar.integrations.payloads import HttpPayloadInspector, OcPayloadInspector, PayloadInspector
from oar.integrations.releasecontroller import HttpReleaseStreams
from oar.sandbox.releasecontroller import ReleaseControllerStandIn
from tests.contract.support import quick_policy


def write_fake_oc(directory: Path, *, exit_code: int = 0) -> Path:
    """An ``oc`` that answers ``adm release info <pullspec> -o json`` like the real one,
    with the metadata URL the release controller stand-in serves for that payload."""
    script = directory / "oc"
    script.write_text(
        textwrap.dedent(
            f"""\
            #!{sys.executable}
            import json, sys
            args = sys.argv[1:]
            if args[:3] != ["adm", "release", "info"] or args[4:] != ["-o", "json"]:
                sys.exit("unexpected arguments: " + " ".join(args))
            if {exit_code}:
                sys.exit("error: unable to read image " + args[3])
            version = args[3].rsplit(":", 1)[1].rsplit("-", 1)[0]
            y_stream = ".".join(version.split(".")[:2])
            base = open(sys.argv[0] + ".base").read().strip()
            print(json.dumps({{"metadata": {{"version": version, "metadata": {{
                "url": f"{{base}}/_metadata/{{y_stream}}/{{version}}"}}}}}}))
            """
        )
    )
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return script


@dataclass
class Subject:
    inspector: PayloadInspector
    make_live: Callable[[str], None]


@pytest.fixture(params=["fake", "http", "oc"])
async def subject(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Subject]:
    if request.param == "fake":
        url = "http://127.0.0.1:9/_metadata/4.19/4.19.2"
        fake = FakePayloadInspector({"4.19": url})
        yield Subject(fake, lambda y: fake.accessible.add(url))
        return
    stand_in = ReleaseControllerStandIn()
    async with stand_in.serving() as base:
        releases = HttpReleaseStreams(
            url_template=base + "/{arch}",
            policy=quick_policy("release controller", "OAR_RELEASE_CONTROLLER_URL"),
        )
        inspector: PayloadInspector
        if request.param == "http":
            inspector = HttpPayloadInspector(releases=releases, timeout=5)
        else:
            oc = write_fake_oc(tmp_path)
            Path(f"{oc}.base").write_text(base)
            inspector = OcPayloadInspector(releases=releases, timeout=10, oc=str(oc))
        yield Subject(inspector, lambda y: stand_in.set_metadata(y, live=True))


async def test_metadata_url_of_the_newest_stable_payload(subject: Subject) -> None:
    url = await subject.inspector.metadata_url("4.19")
    assert url is not None
    assert url.endswith("/_metadata/4.19/4.19.2")
    assert await subject.inspector.metadata_url("4.21") is None


async def test_the_url_answers_once_live(subject: Subject) -> None:
    url = await subject.inspector.metadata_url("4.19")
    assert url is not None
    assert not await subject.inspector.is_accessible(url)
    subject.make_live("4.19")
    assert await subject.inspector.is_accessible(url)


async def test_live_after_makes_the_url_answer_at_the_third_check() -> None:
    stand_in = ReleaseControllerStandIn()
    async with stand_in.serving() as base:
        inspector = HttpPayloadInspector(
            releases=HttpReleaseStreams(
                url_template=base + "/{arch}",
                policy=quick_policy("release controller", "OAR_RELEASE_CONTROLLER_URL"),
            ),
            timeout=5,
        )
        async with httpx.AsyncClient(base_url=base) as client:
            answer = await client.post(
                "/_sandbox/release-controller/metadata/4.19", json={"live_after": 2}
            )
            assert answer.json() == {"live": False, "live_after": 2, "checks": 0}
            url = await inspector.metadata_url("4.19")
            assert url is not None
            checks = [await inspector.is_accessible(url) for _ in range(4)]
            assert checks == [False, False, True, True]
            states = (await client.get("/_sandbox/release-controller/metadata")).json()
            assert states["4.19"] == {"live": True, "live_after": None, "checks": 4}


async def test_an_unreachable_url_is_not_accessible() -> None:
    inspector = HttpPayloadInspector(
        releases=HttpReleaseStreams(url_template="", policy=quick_policy("x", "y")), timeout=2
    )
    assert not await inspector.is_accessible("http://127.0.0.1:9/_metadata/4.19/4.19.2")


async def test_a_missing_oc_is_a_clear_error() -> None:
    async with ReleaseControllerStandIn().serving() as base:
        inspector = OcPayloadInspector(
            releases=HttpReleaseStreams(
                url_template=base + "/{arch}",
                policy=quick_policy("release controller", "OAR_RELEASE_CONTROLLER_URL"),
            ),
            timeout=5,
            oc="oc-is-not-installed-here",
        )
        with pytest.raises(IntegrationUnavailableError, match="not installed or not on PATH"):
            await inspector.metadata_url("4.19")


async def test_a_failing_oc_reports_its_error(tmp_path: Path) -> None:
    async with ReleaseControllerStandIn().serving() as base:
        oc = write_fake_oc(tmp_path, exit_code=1)
        inspector = OcPayloadInspector(
            releases=HttpReleaseStreams(
                url_template=base + "/{arch}",
                policy=quick_policy("release controller", "OAR_RELEASE_CONTROLLER_URL"),
            ),
            timeout=10,
            oc=str(oc),
        )
        with pytest.raises(IntegrationError, match="unable to read image"):
            await inspector.metadata_url("4.19")


async def test_the_control_api_reads_json_sent_the_way_curl_sends_it() -> None:
    """docs/sandbox.md's ``curl -XPOST … -d '{"live": true}'`` sends the JSON as
    application/x-www-form-urlencoded (or with no content type at all)."""
    stand_in = ReleaseControllerStandIn()
    async with stand_in.serving() as base, httpx.AsyncClient(base_url=base) as client:
        for content_type in ("application/x-www-form-urlencoded", None):
            headers = {"Content-Type": content_type} if content_type else {}
            answer = await client.post(
                "/_sandbox/release-controller/metadata/4.19",
                content=b'{"live": true}',
                headers=headers,
            )
            assert answer.status_code == 200, answer.text
            assert answer.json()["live"] is True
