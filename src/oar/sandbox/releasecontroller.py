"""A release-controller stand-in: every architecture's controller under one server.

Served as ``http://127.0.0.1:PORT/{arch}`` (``OAR_RELEASE_CONTROLLER_URL`` keeps its
``{arch}``), with the real API's paths under each: ``/api/v1/releasestream/{stream}/latest``
(``?prefix=``, ``?phase=``), ``/release/{name}`` (404 once recycled; ``changeLogJson.to.digest``
as the real one) and ``/tags``. The seed: 4.19 nightlies (the newest one Rejected), 4-stable
with 4.19.1 and 4.19.2 but **not yet 4.19.3**, 4.18.38/39, and 4.20 only in 4-dev-preview.

Payload metadata URLs (what ``oc adm release info`` reports as ``metadata.metadata.url``)
point back here, at ``/_metadata/{y}/{release}``, and answer 404 until made live:

* ``POST /_sandbox/release-controller/metadata/{y}`` ``{"live": true}`` (or false), or
  ``{"live_after": N}``: the next N GETs answer 404, the one after and all later 200
  (``live_after: 2`` = live at the third check); ``GET /_sandbox/release-controller/metadata``
  shows each y-stream's state and how many GETs it answered;
* ``POST /_sandbox/release-controller/releases`` ``{"arch", "stream", "name", "phase"}``
  adds a newest build (promote 4.19.3: stream ``4-stable``); ``DELETE
  /_sandbox/release-controller/releases/{arch}/{stream}/{name}`` recycles one.

Stable builds' details carry the metadata URL as ``metadata.url``: a sandbox extension for
the HTTP payload inspector (docs/integrations.md, "Payload inspector").
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse, PlainTextResponse
from pydantic import BaseModel, Field

from oar.integrations.releasecontroller import (
    ARCHITECTURES,
    Release,
    dev_preview_stream,
    in_y_stream,
    nightly_stream,
    stable_stream,
)
from oar.sandbox import seed
from oar.sandbox.server import StandIn

_CONTROL = "/_sandbox/release-controller"
_ARCH_NAMES = {"amd64": "x86_64", "arm64": "aarch64"}
_DOWNLOADS = "https://openshift-release-artifacts.apps.ci.l2s4.p1.openshiftapps.com"
# Stable builds, newest first, with their creation dates.
_STABLE = (
    ("4.19.2", "2026-11-12T06:00:00Z"),
    ("4.18.39", "2026-11-10T06:00:00Z"),
    ("4.19.1", "2026-10-29T06:00:00Z"),
    ("4.18.38", "2026-10-27T06:00:00Z"),
    (seed.PRERELEASE, "2026-10-01T06:00:00Z"),
)
_DEV_PREVIEW = (("4.20.0-ec.3", "2026-11-05T06:00:00Z"), ("4.20.0-ec.2", "2026-10-20T06:00:00Z"))
_NIGHTLY_DATES = (
    "2026-11-18-181818",
    seed.NIGHTLY_BUILD.rsplit("nightly-", 1)[1],
    "2026-11-17-090909",
)
RECYCLED_NIGHTLY = "4.19.0-0.nightly-2026-10-01-000000"  # gone from the controller: 404


def _nightly_pull_spec(arch: str, name: str) -> str:
    if arch == "amd64":
        return f"registry.ci.openshift.org/ocp/release:{name}"
    return f"registry.ci.openshift.org/ocp-{arch}/release-{arch}:{name}"


def stable_pull_spec(arch: str, version: str) -> str:
    return f"quay.io/openshift-release-dev/ocp-release:{version}-{_ARCH_NAMES.get(arch, arch)}"


def _tag(name: str, phase: str, pull_spec: str, created: str) -> dict[str, Any]:
    return {
        "name": name,
        "phase": phase,
        "pullSpec": pull_spec,
        "downloadURL": f"{_DOWNLOADS}/{name}",
        "_created": created,
    }


def seed_streams() -> dict[tuple[str, str], list[dict[str, Any]]]:
    """(arch, stream) → tags, newest first (with a private ``_created``)."""
    streams: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for arch in ARCHITECTURES:
        suffix = "" if arch == "amd64" else f"-{arch}"
        nightlies = []
        for index, date in enumerate(_NIGHTLY_DATES):
            name = f"4.19.0-0.nightly{suffix}-{date}"
            phase = "Rejected" if index == 0 else "Accepted"
            created = f"{date[:10]}T{date[11:13]}:{date[13:15]}:{date[15:17]}Z"
            nightlies.append(_tag(name, phase, _nightly_pull_spec(arch, name), created))
        streams[(arch, nightly_stream("4.19", arch))] = nightlies
        name = f"4.18.0-0.nightly{suffix}-2026-11-16-121212"
        streams[(arch, nightly_stream("4.18", arch))] = [
            _tag(name, "Accepted", _nightly_pull_spec(arch, name), "2026-11-16T12:12:12Z")
        ]
        streams[(arch, stable_stream("4.19", arch))] = [
            _tag(v, "Accepted", stable_pull_spec(arch, v), created) for v, created in _STABLE
        ]
        streams[(arch, dev_preview_stream("4.20", arch))] = [
            _tag(v, "Accepted", stable_pull_spec(arch, v), created) for v, created in _DEV_PREVIEW
        ]
    return streams


def seed_releases() -> dict[tuple[str, str], list[Release]]:
    """The seed as the port's values, for :class:`~oar.integrations.fakes.releasecontroller.
    FakeReleaseStreams` (contract tests compare the two)."""
    return {
        key: [Release.from_json(_public(tag)) for tag in tags]
        for key, tags in seed_streams().items()
    }


def _public(tag: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in tag.items() if not k.startswith("_")}


@dataclass(kw_only=True)
class MetadataState:
    live: bool = False
    remaining: int | None = None  # 404s still to answer before going live
    checks: int = 0


class MetadataControl(BaseModel):
    live: bool | None = None
    live_after: int | None = Field(default=None, ge=0, le=10_000)


class NewRelease(BaseModel):
    arch: str = "amd64"
    stream: str
    name: str
    phase: str = "Accepted"
    pull_spec: str | None = Field(default=None, alias="pullSpec")


def payload_digest(arch: str, name: str) -> str:
    """The digest this stand-in gives the payload of build ``name`` (``changeLogJson.to``)."""
    return "sha256:" + hashlib.sha256(f"{arch}/{name}".encode()).hexdigest()


def _y_stream_of(name: str) -> str:
    return ".".join(name.split(".")[:2])


class ReleaseControllerStandIn(StandIn):
    name = "release-controller"

    def __init__(self) -> None:
        self.streams: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self.metadata: dict[str, MetadataState] = {}
        super().__init__()

    def reset(self) -> None:
        self.streams = seed_streams()
        # Not live until the release in progress ships: the checker has something to wait for.
        self.metadata = {}

    def environment(self, base_url: str) -> dict[str, str]:
        return {"OAR_RELEASE_CONTROLLER_URL": base_url + "/{arch}"}

    def metadata_url(self, base_url: str, release: str) -> str:
        """Where the payload of ``release`` says its errata live (on this stand-in)."""
        return f"{base_url.rstrip('/')}/_metadata/{_y_stream_of(release)}/{release}"

    def set_metadata(
        self, y_stream: str, *, live: bool | None = None, live_after: int | None = None
    ) -> None:
        state = self.metadata.setdefault(y_stream, MetadataState())
        if live_after is not None:
            state.live, state.remaining = False, live_after
        elif live is not None:
            state.live, state.remaining = live, None

    def add_release(
        self,
        stream: str,
        name: str,
        *,
        arch: str = "amd64",
        phase: str = "Accepted",
        pull_spec: str | None = None,
    ) -> dict[str, Any]:
        """A new release, the stream's latest (``POST /_sandbox/release-controller/releases``)."""
        spec = pull_spec or (
            _nightly_pull_spec(arch, name) if "nightly" in stream else stable_pull_spec(arch, name)
        )
        tag = _tag(name, phase, spec, "2026-11-19T06:00:00Z")
        self.streams.setdefault((arch, stream), []).insert(0, tag)
        return tag

    def _details(
        self, request: Request, arch: str, stream: str, tag: dict[str, Any]
    ) -> dict[str, Any]:
        name = tag["name"]
        digest = payload_digest(arch, name)
        details = {
            **_public(tag),
            "results": {"blockingJobs": {}, "informingJobs": {}},
            "upgradesTo": [],
            "upgradesFrom": [],
            "changeLog": f"<h2>{name}</h2><p>Created: {tag['_created']}</p>",
            "changeLogJson": {
                "to": {
                    "name": name,
                    "created": tag["_created"],
                    "digest": digest,
                    "promotedFrom": "",
                },
                "components": [{"name": "Kubernetes", "version": "1.32.9"}],
                "updatedImages": [],
            },
        }
        if "stable" in stream:
            details["metadata"] = {"url": self.metadata_url(str(request.base_url), name)}
        return details

    def routes(self) -> None:
        app = self.app
        api = "/{arch}/api/v1/releasestream/{stream}"

        @app.get(api + "/latest")
        async def latest(
            arch: str, stream: str, prefix: str | None = None, phase: str = "Accepted"
        ) -> Any:
            for tag in self.streams.get((arch, stream), []):
                if tag["phase"] == phase and (prefix is None or in_y_stream(tag["name"], prefix)):
                    return _public(tag)
            return PlainTextResponse(f"no release in {stream} matches", status_code=404)

        @app.get(api + "/release/{name}")
        async def release(arch: str, stream: str, name: str, request: Request) -> Any:
            for tag in self.streams.get((arch, stream), []):
                if tag["name"] == name:
                    return self._details(request, arch, stream, tag)
            return PlainTextResponse(f"release {name} not found", status_code=404)

        @app.get(api + "/tags")
        async def tags(arch: str, stream: str) -> Any:
            if (arch, stream) not in self.streams:
                return PlainTextResponse(f"stream {stream} not found", status_code=404)
            return {"name": stream, "tags": [_public(t) for t in self.streams[(arch, stream)]]}

        @app.get("/_metadata/{y_stream}/{release}")
        async def metadata(y_stream: str, release: str) -> Any:
            state = self.metadata.setdefault(y_stream, MetadataState())
            state.checks += 1
            if not state.live and state.remaining is not None:
                if state.remaining > 0:
                    state.remaining -= 1
                else:
                    state.live, state.remaining = True, None
            if not state.live:
                return PlainTextResponse("Not Found", status_code=404)
            return PlainTextResponse(f"Errata for OpenShift {release}")

        @app.get(_CONTROL + "/metadata")
        async def metadata_states() -> dict[str, Any]:
            return {
                y: {"live": s.live, "live_after": s.remaining, "checks": s.checks}
                for y, s in sorted(self.metadata.items())
            }

        @app.post(_CONTROL + "/metadata/{y_stream}")
        async def control_metadata(y_stream: str, body: MetadataControl) -> Any:
            if body.live is None and body.live_after is None:
                return JSONResponse({"error": "give live or live_after"}, status_code=422)
            self.set_metadata(y_stream, live=body.live, live_after=body.live_after)
            state = self.metadata[y_stream]
            return {"live": state.live, "live_after": state.remaining, "checks": state.checks}

        @app.post(_CONTROL + "/releases")
        async def add_release(body: NewRelease) -> Any:
            if body.arch not in ARCHITECTURES:
                return JSONResponse({"error": f"unknown arch {body.arch}"}, status_code=422)
            tag = self.add_release(
                body.stream, body.name, arch=body.arch, phase=body.phase, pull_spec=body.pull_spec
            )
            return _public(tag)

        @app.delete(_CONTROL + "/releases/{arch}/{stream}/{name}")
        async def recycle(arch: str, stream: str, name: str) -> Any:
            tags = self.streams.get((arch, stream), [])
            kept = [t for t in tags if t["name"] != name]
            if len(kept) == len(tags):
                return JSONResponse({"error": f"{name} not in {stream}"}, status_code=404)
            self.streams[(arch, stream)] = kept
            return {"ok": True}
