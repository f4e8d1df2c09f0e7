"""A Brew stand-in: the Koji hub's XML-RPC (``listTags``) and the download server's
``brewroot/packages/<name>/<version>/<release>/metadata.json``.

Served as ``http://127.0.0.1:PORT/brewhub`` (``OAR_BREW_HUB_URL``) and
``…/brewroot`` (``OAR_BREW_DOWNLOAD_URL``). The seed: each release's RHCOS build (the NVR
its rhcos advisory lists) with a ``metadata.json`` whose ``kernel`` component is
``seed.RHCOS_KERNELS[release]``; every kernel is tagged ``early-kernel-ship-ok``.

* ``POST /_sandbox/brew/tags`` ``{"nvr": …, "tags": [...]}`` sets a build's tags (tag a
  kernel ``early-kernel-stop-ship`` to make the approval refuse);
* an unknown build answers a Koji fault (``GenericError: No such build``), an unknown
  method ``Unknown method``, as the hub does.
"""

from __future__ import annotations

import xmlrpc.client
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from oar.integrations.fakes.brew import FakeBrew
from oar.sandbox import seed
from oar.sandbox.server import StandIn

_CONTROL = "/_sandbox/brew"


def _nvr_parts(nvr: str) -> tuple[str, str, str]:
    name, version, release = nvr.rsplit("-", 2)
    return name, version, release


def _metadata(build: str, kernel: str) -> dict[str, Any]:
    """A content-generator ``metadata.json`` (Koji's format) listing the build's RPMs."""
    name, version, release = _nvr_parts(build)
    _, k_version, k_release = _nvr_parts(kernel)
    rpms = [("kernel", k_version, k_release), ("kernel-core", k_version, k_release)]
    rpms.append(("bash", "5.1.8", "9.el9"))
    return {
        "metadata_version": 0,
        "build": {"name": name, "version": version, "release": release, "source": "rhcos"},
        "output": [
            {"type": "log", "filename": "commitmeta.json", "components": []},
            {
                "type": "image",
                "filename": f"{build}-ostree.x86_64.tar",
                "arch": "x86_64",
                "components": [
                    {"type": "rpm", "name": n, "version": v, "release": r, "arch": "x86_64"}
                    for n, v, r in rpms
                ],
            },
        ],
    }


def _fault(message: str, code: int = 1000) -> Response:
    body = xmlrpc.client.dumps(xmlrpc.client.Fault(code, message), methodresponse=True)
    return Response(body, media_type="text/xml")


def seed_brew() -> FakeBrew:
    """A :class:`FakeBrew` with the seed releases' RHCOS builds: each build's metadata
    names its kernel, and every kernel is tagged ``early-kernel-ship-ok``."""
    fake = FakeBrew()
    for release, kernel in seed.RHCOS_KERNELS.items():
        build = seed.rhcos_build(release)
        fake.metadata[build] = _metadata(build, kernel)
        fake.tags[build] = [f"rhaos-{release.rsplit('.', 1)[0]}-rhel-9-candidate"]
        fake.tags[kernel] = ["early-kernel-ship-ok"]
    return fake


class TagsIn(BaseModel):
    nvr: str = Field(min_length=1)
    tags: list[str]


class BrewStandIn(StandIn):
    name = "brew"

    def reset(self) -> None:
        seeded = seed_brew()
        self.metadata: dict[str, dict[str, Any]] = seeded.metadata
        self.tags: dict[str, list[str]] = seeded.tags

    def environment(self, base_url: str) -> dict[str, str]:
        return {
            "OAR_BREW_HUB_URL": f"{base_url}/brewhub",
            "OAR_BREW_DOWNLOAD_URL": f"{base_url}/brewroot",
        }

    def _call(self, method: str, params: tuple[Any, ...]) -> Any:
        kwargs: dict[str, Any] = {}
        if params and isinstance(params[-1], dict) and params[-1].get("__starstar"):
            kwargs = {k: v for k, v in params[-1].items() if k != "__starstar"}
            params = params[:-1]
        if method != "listTags":
            raise LookupError(f"Unknown method: {method}")
        build = kwargs.get("build", params[0] if params else None)
        if build not in self.tags:
            raise KeyError(f"GenericError: No such build: {build}")
        return [
            {"id": 7000 + i, "name": name, "arches": "", "locked": False, "perm": None}
            for i, name in enumerate(self.tags[str(build)])
        ]

    def routes(self) -> None:
        app, stand_in = self.app, self

        @app.post("/brewhub")
        async def hub(request: Request) -> Any:
            try:
                params, method = xmlrpc.client.loads(await request.body())
            except Exception:  # any unparsable body is the caller's error
                return _fault("request is not XML-RPC")
            try:
                result = stand_in._call(str(method), params)
            except LookupError as exc:
                return _fault(str(exc.args[0]))
            body = xmlrpc.client.dumps((result,), methodresponse=True, allow_none=True)
            return Response(body, media_type="text/xml")

        @app.get("/brewroot/packages/{name}/{version}/{release}/metadata.json")
        async def metadata(name: str, version: str, release: str) -> Any:
            found = stand_in.metadata.get(f"{name}-{version}-{release}")
            if found is None:
                return JSONResponse({"error": "not found"}, status_code=404)
            return found

        @app.post(_CONTROL + "/tags")
        async def set_tags(body: TagsIn) -> Any:
            stand_in.tags[body.nvr] = list(body.tags)
            return {"nvr": body.nvr, "tags": stand_in.tags[body.nvr]}

        @app.get(_CONTROL + "/tags")
        async def all_tags() -> Any:
            return stand_in.tags
