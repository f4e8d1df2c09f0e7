"""A Google Cloud Storage stand-in: the JSON API subset google-cloud-storage uses to list
and download objects.

* ``GET /storage/v1/b/{bucket}/o`` — list (``prefix``, ``delimiter``, ``matchGlob``,
  ``maxResults``, ``pageToken``);
* ``GET /storage/v1/b/{bucket}/o/{object}`` — an object's metadata (``alt=media``: content);
* ``GET /download/storage/v1/b/{bucket}/o/{object}?alt=media`` — content, with the
  ``x-goog-hash`` checksums the library verifies.

Anonymous, like a public bucket. The seed is one Prow run's artifacts
(:data:`oar.sandbox.releasetests.ARTIFACT_RUN`): its ``test-results.yaml`` (with the
duplicate ``ginkgo`` keys real reports have), JUnit reports and a build log.
"""

from __future__ import annotations

import base64
import hashlib
import re
from typing import Any

import google_crc32c
from fastapi import Response
from fastapi.responses import JSONResponse

from oar.sandbox import releasetests
from oar.sandbox.server import StandIn

_CREATED = "2026-11-18T13:00:00.000Z"

TEST_RESULTS_YAML = """\
openshift-extended-test:
  total: 54
  failures: 0
  errors: 0
  skipped: 6
ginkgo:
  total: 1210
  failures: 0
  errors: 0
  skipped: 310
ginkgo:
  total: 88
  failures: 1
  errors: 0
  skipped: 4
cucushift-e2e:
  total: 18
  failures: 0
  errors: 0
  skipped: 0
"""

JUNIT_XML = """\
<?xml version="1.0" encoding="UTF-8"?>
<testsuite name="{suite}" tests="2" failures="0" errors="0" skipped="0">
  <testcase classname="{suite}" name="OCP-12345 cluster operators are available"/>
  <testcase classname="{suite}" name="OCP-23456 nodes are ready"/>
</testsuite>
"""


def seed_objects() -> dict[str, bytes]:
    """bucket object name → content."""
    run = releasetests.ARTIFACT_RUN
    step = run.job_name.rsplit("automated-release-", 1)[-1]
    base = f"logs/{run.job_name}/{run.build_id}/"
    artifacts = f"{base}artifacts/{step}/"
    return {
        f"{base}build-log.txt": b"ci-operator: all steps succeeded\n",
        f"{base}finished.json": b'{"passed": true, "result": "SUCCESS"}\n',
        f"{artifacts}openshift-e2e-test-qe-report/artifacts/test-results.yaml": (
            TEST_RESULTS_YAML.encode()
        ),
        f"{artifacts}openshift-extended-test/artifacts/junit/import-Cluster_Infrastructure.xml": (
            JUNIT_XML.format(suite="Cluster_Infrastructure").encode()
        ),
        f"{artifacts}cucushift-e2e/artifacts/junit_cucushift-e2e-combined.xml": (
            JUNIT_XML.format(suite="cucushift-e2e").encode()
        ),
        f"{artifacts}openshift-extended-test/artifacts/e2e.log": b"started\nfinished\n",
    }


def glob_pattern(glob: str) -> re.Pattern[str]:
    """GCS ``matchGlob``: ``**`` crosses ``/``, ``*`` and ``?`` do not."""
    out = []
    i = 0
    while i < len(glob):
        if glob.startswith("**", i):
            out.append(".*")
            i += 2
        elif glob[i] == "*":
            out.append("[^/]*")
            i += 1
        elif glob[i] == "?":
            out.append("[^/]")
            i += 1
        else:
            out.append(re.escape(glob[i]))
            i += 1
    return re.compile("".join(out) + r"\Z")


def _hashes(data: bytes) -> tuple[str, str]:
    md5 = base64.b64encode(hashlib.md5(data, usedforsecurity=False).digest()).decode()
    checksum = google_crc32c.Checksum(data)  # type: ignore[no-untyped-call]
    crc = base64.b64encode(checksum.digest()).decode()  # type: ignore[no-untyped-call]
    return md5, crc


class GcsStandIn(StandIn):
    name = "gcs"

    def __init__(self) -> None:
        self.buckets: dict[str, dict[str, bytes]] = {}
        super().__init__()

    def reset(self) -> None:
        self.buckets = {releasetests.BUCKET: seed_objects()}

    def environment(self, base_url: str) -> dict[str, str]:
        return {"OAR_GCS_URL": base_url, "OAR_GCS_BUCKET": releasetests.BUCKET}

    def fault_body(self, status: int) -> Any:
        return {"error": {"code": status, "message": f"injected {status}", "errors": []}}

    def _resource(self, bucket: str, name: str, data: bytes) -> dict[str, Any]:
        md5, crc = _hashes(data)
        content_type = "application/x-yaml" if name.endswith(".yaml") else "text/plain"
        if name.endswith((".xml", ".json")):
            content_type = "application/" + name.rsplit(".", 1)[1]
        return {
            "kind": "storage#object",
            "id": f"{bucket}/{name}/1",
            "name": name,
            "bucket": bucket,
            "generation": "1",
            "metageneration": "1",
            "contentType": content_type,
            "storageClass": "STANDARD",
            "size": str(len(data)),
            "md5Hash": md5,
            "crc32c": crc,
            "timeCreated": _CREATED,
            "updated": _CREATED,
        }

    def _media(self, data: bytes) -> Response:
        md5, crc = _hashes(data)
        return Response(
            data,
            media_type="application/octet-stream",
            headers={
                "x-goog-hash": f"crc32c={crc},md5={md5}",
                "x-goog-generation": "1",
                "x-goog-metageneration": "1",
                "x-goog-stored-content-length": str(len(data)),
            },
        )

    def routes(self) -> None:
        app = self.app

        def not_found(what: str) -> JSONResponse:
            return JSONResponse(
                {"error": {"code": 404, "message": f"No such object: {what}", "errors": []}},
                status_code=404,
            )

        @app.get("/storage/v1/b/{bucket}")
        async def get_bucket(bucket: str) -> Any:
            if bucket not in self.buckets:
                return JSONResponse(
                    {"error": {"code": 404, "message": "The specified bucket does not exist."}},
                    status_code=404,
                )
            return {
                "kind": "storage#bucket",
                "id": bucket,
                "name": bucket,
                "projectNumber": "424242424242",
                "location": "US-EAST1",
                "locationType": "region",
                "storageClass": "STANDARD",
                "metageneration": "1",
                "timeCreated": _CREATED,
                "updated": _CREATED,
            }

        @app.get("/storage/v1/b/{bucket}/o")
        async def list_objects(  # noqa: PLR0917  (one argument per query parameter)
            bucket: str,
            prefix: str = "",
            delimiter: str | None = None,
            matchGlob: str | None = None,
            maxResults: int = 1000,
            pageToken: str | None = None,
        ) -> Any:
            objects = self.buckets.get(bucket)
            if objects is None:
                return JSONResponse(
                    {"error": {"code": 404, "message": "The specified bucket does not exist."}},
                    status_code=404,
                )
            pattern = glob_pattern(matchGlob) if matchGlob else None
            names = sorted(
                n for n in objects if n.startswith(prefix) and (pattern is None or pattern.match(n))
            )
            prefixes: set[str] = set()
            if delimiter:
                kept = []
                for name in names:
                    rest = name[len(prefix) :]
                    if delimiter in rest:
                        prefixes.add(prefix + rest.split(delimiter, 1)[0] + delimiter)
                    else:
                        kept.append(name)
                names = kept
            start = int(pageToken) if pageToken and pageToken.isdigit() else 0
            page = names[start : start + max(1, maxResults)]
            body: dict[str, Any] = {
                "kind": "storage#objects",
                "items": [self._resource(bucket, n, objects[n]) for n in page],
            }
            if prefixes:
                body["prefixes"] = sorted(prefixes)
            if start + len(page) < len(names):
                body["nextPageToken"] = str(start + len(page))
            return body

        @app.get("/storage/v1/b/{bucket}/o/{name:path}")
        async def get_object(bucket: str, name: str, alt: str = "json") -> Any:
            data = self.buckets.get(bucket, {}).get(name)
            if data is None:
                return not_found(f"{bucket}/{name}")
            if alt == "media":
                return self._media(data)
            return self._resource(bucket, name, data)

        @app.get("/download/storage/v1/b/{bucket}/o/{name:path}")
        async def download(bucket: str, name: str) -> Any:
            data = self.buckets.get(bucket, {}).get(name)
            if data is None:
                return not_found(f"{bucket}/{name}")
            return self._media(data)
