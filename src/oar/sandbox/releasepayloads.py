"""A ReleasePayload stand-in: the CI cluster's ``release.openshift.io/v1alpha1`` API.

``GET …/namespaces/<ns>/releasepayloads`` lists, ``GET …/releasepayloads/<name>`` reads one,
``PATCH`` (``application/merge-patch+json``) merges labels, as ``oc label`` does. Calls
want ``Authorization: Bearer`` :data:`SANDBOX_KUBE_TOKEN` (401 otherwise). A payload
exists once the release controller stand-in's builds are seeded, or once added with
``POST /_sandbox/releasepayloads`` ``{"name": build, "arch": "amd64"}``.
"""

from __future__ import annotations

import secrets
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from oar.integrations.releasepayloads import namespace_of
from oar.sandbox.releasecontroller import seed_streams
from oar.sandbox.server import StandIn

SANDBOX_KUBE_TOKEN = "sha256~oar-sandbox-kube-token"  # noqa: S105  (sandbox only)
_API = "/apis/release.openshift.io/v1alpha1/namespaces/{namespace}/releasepayloads"


class NewPayload(BaseModel):
    name: str
    arch: str = "amd64"


def _status(code: int, reason: str, message: str) -> JSONResponse:
    body = {"kind": "Status", "apiVersion": "v1", "status": "Failure", "message": message}
    return JSONResponse({**body, "reason": reason, "code": code}, status_code=code)


class ReleasePayloadStandIn(StandIn):
    name = "releasepayloads"

    def __init__(self) -> None:
        # namespace → name → labels
        self.payloads: dict[str, dict[str, dict[str, str]]] = {}
        super().__init__()

    def reset(self) -> None:
        self.payloads = {}
        for (arch, _stream), tags in seed_streams().items():
            for tag in tags:
                self.payloads.setdefault(namespace_of(arch), {})[str(tag["name"])] = {}

    def add_payload(self, name: str, *, arch: str = "amd64") -> None:
        """A build's ReleasePayload, unlabelled (``POST /_sandbox/releasepayloads``)."""
        self.payloads.setdefault(namespace_of(arch), {}).setdefault(name, {})

    def environment(self, base_url: str) -> dict[str, str]:
        return {"OAR_KUBE_API_URL": base_url, "OAR_KUBE_TOKEN": SANDBOX_KUBE_TOKEN}

    def _object(self, namespace: str, name: str) -> dict[str, Any]:
        return {
            "apiVersion": "release.openshift.io/v1alpha1",
            "kind": "ReleasePayload",
            "metadata": {
                "name": name,
                "namespace": namespace,
                "labels": dict(self.payloads[namespace][name]),
            },
        }

    @staticmethod
    def _authorized(request: Request) -> bool:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        return scheme.lower() == "bearer" and secrets.compare_digest(
            token.encode(), SANDBOX_KUBE_TOKEN.encode()
        )

    def routes(self) -> None:
        app = self.app

        @app.get(_API)
        async def list_payloads(namespace: str, request: Request) -> Any:
            if not self._authorized(request):
                return _status(401, "Unauthorized", "Unauthorized")
            names = sorted(self.payloads.get(namespace, {}))
            return {
                "apiVersion": "release.openshift.io/v1alpha1",
                "kind": "ReleasePayloadList",
                "items": [self._object(namespace, n) for n in names],
            }

        @app.get(_API + "/{name}")
        async def get_payload(namespace: str, name: str, request: Request) -> Any:
            if not self._authorized(request):
                return _status(401, "Unauthorized", "Unauthorized")
            if name not in self.payloads.get(namespace, {}):
                return _status(404, "NotFound", f'releasepayloads "{name}" not found')
            return self._object(namespace, name)

        @app.patch(_API + "/{name}")
        async def patch_payload(namespace: str, name: str, request: Request) -> Any:
            if not self._authorized(request):
                return _status(401, "Unauthorized", "Unauthorized")
            if name not in self.payloads.get(namespace, {}):
                return _status(404, "NotFound", f'releasepayloads "{name}" not found')
            if request.headers.get("content-type", "").split(";")[0] != (
                "application/merge-patch+json"
            ):
                return _status(415, "UnsupportedMediaType", "unsupported patch type")
            body = await request.json()
            labels = (body.get("metadata") or {}).get("labels") or {}
            current = self.payloads[namespace][name]
            for key, value in labels.items():
                if value is None:
                    current.pop(key, None)
                else:
                    current[str(key)] = str(value)
            return self._object(namespace, name)

        @app.post("/_sandbox/releasepayloads")
        async def add_payload(body: NewPayload) -> Any:
            self.add_payload(body.name, arch=body.arch)
            return {"name": body.name, "namespace": namespace_of(body.arch)}

        @app.get("/_sandbox/releasepayloads")
        async def labels() -> Any:
            return {"payloads": self.payloads}
