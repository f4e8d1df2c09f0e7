"""A signature-server stand-in: mirror.openshift.com's release signature layout.

``GET /pub/openshift-v4/signatures/openshift/release/sha256=<hex>/signature-1`` answers the
signature (bytes) once the digest is published, 404 until then, as the mirror does. The
state is a :class:`~oar.integrations.fakes.signatures.FakeSignatures`; nothing is published
in the seed, so an ``image-signed-check`` has something to wait for.

Control:

* ``POST /_sandbox/signatures`` ``{"digest": "sha256:…"}`` or ``{"release": "4.19.3",
  "arch": "amd64"}`` (the digest the release-controller stand-in gives that build's
  payload) publishes it; with ``"published": false`` it is withdrawn (never appears);
* ``GET /_sandbox/signatures`` lists the published digests and how many lookups came.
"""

from __future__ import annotations

from typing import Any

from fastapi.responses import JSONResponse, PlainTextResponse, Response
from pydantic import BaseModel

from oar.errors import InvalidArgumentError
from oar.integrations.fakes.signatures import FakeSignatures
from oar.integrations.signatures import SIGNATURE_FILE, check_digest
from oar.sandbox.releasecontroller import payload_digest
from oar.sandbox.server import StandIn

PREFIX = "/pub/openshift-v4/signatures/openshift/release"
_CONTROL = "/_sandbox/signatures"


class SignatureControl(BaseModel):
    digest: str | None = None
    release: str | None = None
    arch: str = "amd64"
    published: bool = True


def signature_bytes(digest: str) -> bytes:
    """A stand-in for the detached GPG signature the mirror serves."""
    return b"-----OAR SANDBOX SIGNATURE-----\n" + digest.encode() + b"\n"


class SignatureStandIn(StandIn):
    name = "signatures"

    def __init__(self) -> None:
        self.signatures = FakeSignatures()
        super().__init__()

    def reset(self) -> None:
        self.signatures = FakeSignatures()

    def environment(self, base_url: str) -> dict[str, str]:
        return {"OAR_SIGNATURE_URL": f"{base_url}{PREFIX}/"}

    def routes(self) -> None:
        app = self.app

        @app.get(PREFIX + "/{directory}/{file}")
        async def signature(directory: str, file: str) -> Response:
            digest = directory.replace("=", ":", 1)
            if file != SIGNATURE_FILE or digest not in self.signatures.published:
                return PlainTextResponse("Not Found", status_code=404)
            return Response(signature_bytes(digest), media_type="application/octet-stream")

        @app.get(_CONTROL)
        async def published() -> dict[str, Any]:
            return {
                "published": sorted(self.signatures.published),
                "lookups": len(self.calls(path=PREFIX)),
            }

        @app.post(_CONTROL)
        async def control(body: SignatureControl) -> Any:
            try:
                if body.digest is not None:
                    digest = check_digest(body.digest)
                elif body.release is not None:
                    digest = payload_digest(body.arch, body.release)
                else:
                    return JSONResponse({"error": "give digest or release"}, status_code=422)
            except InvalidArgumentError as exc:
                return JSONResponse({"error": exc.message}, status_code=422)
            if body.published:
                self.signatures.publish(digest)
            else:
                self.signatures.unpublish(digest)
            return {"digest": digest, "published": body.published}
