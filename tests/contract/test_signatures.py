"""The signature server port's contract: the fake and the httpx adapter against the
stand-in (mirror.openshift.com's layout) agree."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest

from oar.errors import IntegrationError, InvalidArgumentError
from oar.integrations.fakes.signatures import FakeSignatures
from oar.integrations.signatures import HttpSignatures, Signatures
from oar.sandbox.releasecontroller import payload_digest
from oar.sandbox.signatures import PREFIX, SignatureStandIn
from tests.contract.support import quick_policy

DIGEST = "sha256:" + "ab" * 32
OTHER = "sha256:" + "cd" * 32


@dataclass
class Server:
    port: Signatures
    state: FakeSignatures
    stand_in: SignatureStandIn | None = None
    url: str | None = None


@pytest.fixture(params=["fake", "stand-in"])
async def server(request: pytest.FixtureRequest) -> AsyncIterator[Server]:
    if request.param == "fake":
        fake = FakeSignatures()
        yield Server(port=fake, state=fake)
        return
    stand_in = SignatureStandIn()
    async with stand_in.serving() as url:
        base = stand_in.environment(url)["OAR_SIGNATURE_URL"]
        policy = quick_policy("signature server", "OAR_SIGNATURE_URL")
        async with HttpSignatures(base_url=base, policy=policy) as client:
            yield Server(port=client, state=stand_in.signatures, stand_in=stand_in, url=url)


async def test_a_digest_is_not_signed_until_its_signature_is_published(server: Server) -> None:
    assert await server.port.is_signed(DIGEST) is False
    server.state.publish(DIGEST)
    assert await server.port.is_signed(DIGEST) is True
    assert await server.port.is_signed(OTHER) is False
    server.state.unpublish(DIGEST)
    assert await server.port.is_signed(DIGEST) is False


def test_the_signature_url_is_the_mirrors_layout(server: Server) -> None:
    url = server.port.url(DIGEST)
    assert url.endswith(
        "/pub/openshift-v4/signatures/openshift/release/sha256=" + "ab" * 32 + "/signature-1"
    )


async def test_a_malformed_digest_is_refused_before_any_request(server: Server) -> None:
    for digest in ("", "sha256:abc", "md5:" + "ab" * 32, "sha256:" + "AB" * 32):
        with pytest.raises(InvalidArgumentError, match="not a payload digest"):
            await server.port.is_signed(digest)


async def test_a_server_error_is_an_integration_error_not_a_missing_signature() -> None:
    stand_in = SignatureStandIn()
    async with stand_in.serving() as url:
        stand_in.add_fault(path=PREFIX, status=503, times=None)
        base = stand_in.environment(url)["OAR_SIGNATURE_URL"]
        policy = quick_policy("signature server", "OAR_SIGNATURE_URL", retries=1)
        async with HttpSignatures(base_url=base, policy=policy) as client:
            with pytest.raises(IntegrationError, match="503"):
                await client.is_signed(DIGEST)
        assert len(stand_in.calls(path=PREFIX)) == 2  # one retry, then the error


async def test_the_sandbox_control_publishes_a_release_payload_or_withdraws_it() -> None:
    stand_in = SignatureStandIn()
    async with stand_in.serving() as url, httpx.AsyncClient(base_url=url) as http:
        answer = await http.post("/_sandbox/signatures", json={"release": "4.19.3"})
        assert answer.status_code == 200
        digest = payload_digest("amd64", "4.19.3")
        assert answer.json() == {"digest": digest, "published": True}
        signature = await http.get(f"{PREFIX}/{digest.replace(':', '=')}/signature-1")
        assert signature.status_code == 200
        assert digest.encode() in signature.content
        await http.post("/_sandbox/signatures", json={"digest": digest, "published": False})
        assert (
            await http.get(f"{PREFIX}/{digest.replace(':', '=')}/signature-1")
        ).status_code == 404
        listed = (await http.get("/_sandbox/signatures")).json()
        assert listed == {"published": [], "lookups": 2}
        refused = await http.post("/_sandbox/signatures", json={"digest": "sha256:nope"})
        assert refused.status_code == 422
