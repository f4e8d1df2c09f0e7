"""An in-memory container catalog (the port is :mod:`oar.integrations.pyxis`).

:class:`FakePyxis` is also the state of the sandbox's Pyxis stand-in.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from oar.integrations.pyxis import FreshnessGrade, PyxisImage, Vulnerability, image_id


@dataclass(kw_only=True)
class FakePyxis:
    """Images by ``image_id`` (``sha256:<hex>``), their vulnerabilities by image ``_id``."""

    images: dict[str, PyxisImage] = field(default_factory=dict)
    vulnerability_lists: dict[str, list[Vulnerability]] = field(default_factory=dict)

    def add(
        self,
        digest: str,
        *,
        architecture: str = "amd64",
        grades: tuple[FreshnessGrade, ...] = (),
        vulnerabilities: list[Vulnerability] | None = None,
    ) -> PyxisImage:
        wanted = image_id(digest)
        key = wanted.removeprefix("sha256:")[:24]
        image = PyxisImage(
            id=key,
            image_id=wanted,
            architecture=architecture,
            grades=grades,
            vulnerabilities_href=f"/v1/images/id/{key}/vulnerabilities",
        )
        self.images[wanted] = image
        self.vulnerability_lists[key] = list(vulnerabilities or [])
        return image

    def set_grades(self, digest: str, grades: tuple[FreshnessGrade, ...]) -> None:
        wanted = image_id(digest)
        self.images[wanted] = replace(self.images[wanted], grades=grades)

    def by_id(self, key: str) -> PyxisImage | None:
        return next((i for i in self.images.values() if i.id == key), None)

    async def image(self, digest: str) -> PyxisImage | None:
        return self.images.get(image_id(digest))

    async def vulnerabilities(self, image: PyxisImage) -> list[Vulnerability]:
        return list(self.vulnerability_lists.get(image.id, []))
