"""Pyxis (the Red Hat container catalog API): container images' freshness grades and
vulnerabilities, for the image health check of ``image-consistency-check``.

The shapes are the catalog's REST API v1 (``/api/containers/v1``), as the original read
them (reference §8.3): ``GET /v1/images?filter=image_id==sha256:<hex>&page_size=100&page=0``
answers ``{"data": [image, …], "total": n}``, each image with ``_id``, ``image_id``,
``architecture``, ``freshness_grades[{grade, start_date, end_date}]`` and
``_links.vulnerabilities.href``; ``GET <href>?page_size=100&page=0`` answers
``{"data": [{cve_id, severity, affected_packages[{name, version}],
packages[{srpm_nevra}]}]}``. The catalog is read anonymously.

:class:`PyxisClient` runs on httpx; the in-memory fake is
:class:`oar.integrations.fakes.pyxis.FakePyxis`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol, TypedDict

import httpx

from oar.errors import IntegrationError, InvalidArgumentError
from oar.integrations.calls import CallPolicy, call
from oar.integrations.http import classify_httpx

if TYPE_CHECKING:
    from oar.settings import Settings

SYSTEM = "Pyxis"
CREDENTIAL = ""  # the catalog is read anonymously
PAGE_SIZE = 100
_DIGEST = re.compile(r"^(sha256:)?(?P<hex>[0-9a-f]{64})$")


class RawGrade(TypedDict, total=False):
    grade: str
    start_date: str
    end_date: str


@dataclass(frozen=True, kw_only=True)
class FreshnessGrade:
    grade: str
    start_date: datetime | None
    end_date: datetime | None = None


@dataclass(frozen=True, kw_only=True)
class PyxisImage:
    id: str
    image_id: str  # sha256:<hex>
    architecture: str
    grades: tuple[FreshnessGrade, ...]
    vulnerabilities_href: str | None = None


@dataclass(frozen=True, kw_only=True)
class Vulnerability:
    cve_id: str
    severity: str
    affected: tuple[tuple[str, str], ...]  # (package name, version)
    srpm_nevras: tuple[str, ...] = ()


def image_id(digest: str) -> str:
    """``sha256:<hex>`` for a digest given with or without its prefix."""
    match = _DIGEST.match(digest.strip())
    if match is None:
        raise InvalidArgumentError("digest", f"{digest!r} is not a sha256 image digest")
    return f"sha256:{match['hex']}"


def _date(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None


def parse_image(raw: Mapping[str, Any]) -> PyxisImage:
    links = raw.get("_links") or {}
    href = (links.get("vulnerabilities") or {}).get("href")
    return PyxisImage(
        id=str(raw.get("_id", "")),
        image_id=str(raw.get("image_id", "")),
        architecture=str(raw.get("architecture") or "unknown"),
        grades=tuple(
            FreshnessGrade(
                grade=str(g.get("grade", "")),
                start_date=_date(g.get("start_date")),
                end_date=_date(g.get("end_date")),
            )
            for g in raw.get("freshness_grades") or []
            if isinstance(g, Mapping)
        ),
        vulnerabilities_href=str(href) if href else None,
    )


def parse_vulnerability(raw: Mapping[str, Any]) -> Vulnerability:
    nevras: list[str] = []
    for package in raw.get("packages") or []:
        value = package.get("srpm_nevra") if isinstance(package, Mapping) else None
        if isinstance(value, list):
            nevras.extend(str(v) for v in value)
        elif value:
            nevras.append(str(value))
    return Vulnerability(
        cve_id=str(raw.get("cve_id", "")),
        severity=str(raw.get("severity") or "Unknown"),
        affected=tuple(
            (str(p.get("name", "")), str(p.get("version", "")))
            for p in raw.get("affected_packages") or []
            if isinstance(p, Mapping)
        ),
        srpm_nevras=tuple(nevras),
    )


def _page(text: str, what: str) -> list[Mapping[str, Any]]:
    import json

    try:
        body = json.loads(text)
    except ValueError as exc:
        raise IntegrationError(SYSTEM, f"{what}: not JSON") from exc
    data = body.get("data") if isinstance(body, dict) else None
    if not isinstance(data, list):
        raise IntegrationError(SYSTEM, f"{what}: no data list")
    return [d for d in data if isinstance(d, Mapping)]


class Pyxis(Protocol):
    """What OAR needs from the container catalog."""

    async def image(self, digest: str) -> PyxisImage | None:
        """The catalog's image with this digest (the first one), None when it has none."""

    async def vulnerabilities(self, image: PyxisImage) -> list[Vulnerability]:
        """The image's vulnerabilities (the first page of 100, as the original read)."""


class PyxisClient:
    """:class:`Pyxis` over the catalog's REST API on httpx."""

    def __init__(self, url: str, *, policy: CallPolicy | None = None) -> None:
        self.url = url.rstrip("/")
        self.policy = policy or CallPolicy(system=SYSTEM, credential=CREDENTIAL)
        self._client: httpx.AsyncClient | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> PyxisClient:
        return cls(
            settings.pyxis_url, policy=CallPolicy.from_settings(settings, SYSTEM, CREDENTIAL)
        )

    async def __aenter__(self) -> PyxisClient:
        self._client = httpx.AsyncClient(timeout=self.policy.timeout)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()

    async def _get(self, operation: str, path: str, params: dict[str, str | int]) -> str:
        if self._client is None:
            raise RuntimeError("PyxisClient used outside 'async with'")
        client = self._client

        async def attempt() -> str:
            response = await client.get(f"{self.url}{path}", params=params)
            response.raise_for_status()
            return response.text

        return await call(self.policy, operation, attempt, classify_httpx)

    async def image(self, digest: str) -> PyxisImage | None:
        wanted = image_id(digest)
        text = await self._get(
            f"image {wanted}",
            "/v1/images",
            {"filter": f"image_id=={wanted}", "page_size": PAGE_SIZE, "page": 0},
        )
        found = _page(text, f"image {wanted}")
        return parse_image(found[0]) if found else None

    async def vulnerabilities(self, image: PyxisImage) -> list[Vulnerability]:
        if not image.vulnerabilities_href:
            return []
        text = await self._get(
            f"vulnerabilities of {image.image_id}",
            image.vulnerabilities_href,
            {"page_size": PAGE_SIZE, "page": 0},
        )
        return [parse_vulnerability(v) for v in _page(text, "vulnerabilities")]
