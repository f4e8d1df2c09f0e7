"""An ocp-build-data stand-in playing raw.githubusercontent.com: ``GET
/{owner}/{repo}/{ref}/{path}`` serves ``openshift-eng/ocp-build-data``'s ``releases.yml``
of branches ``openshift-4.19`` and ``openshift-4.18`` from the seed; anything else is 404.
"""

from __future__ import annotations

from fastapi import Response
from fastapi.responses import PlainTextResponse

from oar.sandbox import seed
from oar.sandbox.server import StandIn

REPOSITORY = "openshift-eng/ocp-build-data"


class BuildDataStandIn(StandIn):
    name = "ocp-build-data"

    def __init__(self) -> None:
        self.files: dict[str, str] = {}
        super().__init__()

    def reset(self) -> None:
        self.files = {
            f"{REPOSITORY}/openshift-{y}/releases.yml": text
            for y, text in seed.build_data_files().items()
        }

    def environment(self, base_url: str) -> dict[str, str]:
        return {"OAR_BUILD_DATA_URL": f"{base_url}/{REPOSITORY}/%s/releases.yml"}

    def routes(self) -> None:
        @self.app.get("/{owner}/{repo}/{ref}/{path:path}")
        async def raw(owner: str, repo: str, ref: str, path: str) -> Response:
            text = self.files.get(f"{owner}/{repo}/{ref}/{path}")
            if text is None:
                # What raw.githubusercontent.com answers for a missing file or branch.
                return PlainTextResponse("404: Not Found", status_code=404)
            return PlainTextResponse(text, media_type="text/plain; charset=utf-8")
