"""The image health check: the freshness grade of every container image a release ships,
and the vulnerabilities of the unhealthy ones, from Pyxis (reference §8.3).

The rules are pure: :func:`current_grade` (the grade in force now: among the grades whose
start date has come, the one that started last; none → ``Unknown``), :func:`is_unhealthy`
(``Unknown``, or worse than B), the vulnerability table and the shipment MR's comment.
:func:`check_images` asks the port and applies them.

Fixed from the original: an image whose lookup fails is counted, as ``Unknown`` (its
health is not known, so it is not healthy), instead of being skipped silently; the images
come from the shipment file's snapshot (what the Prow job compares), which GitLab serves,
instead of the stage advisory's internal URL.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import yaml

from oar.errors import OarError
from oar.integrations.pyxis import FreshnessGrade, Pyxis, Vulnerability
from oar.jsonvalue import JSON

UNKNOWN = "Unknown"
_SEVERITY_RANK = {"critical": 0, "important": 1, "moderate": 2, "low": 3}
VULNERABILITY_HEADER = "| Affected Package | Severity | CVEs | Suggested Package |"
VULNERABILITY_SEPARATOR = "|-----------------|----------|------|-------------------|"


@dataclass(frozen=True, kw_only=True)
class ShipmentImage:
    """One component image of the shipment: its name and pull spec (by digest)."""

    component: str
    pull_spec: str

    @property
    def digest(self) -> str | None:
        """The hex after ``@sha256:``; None when the pull spec is not by digest."""
        _, found, digest = self.pull_spec.partition("@sha256:")
        return digest or None if found else None


@dataclass(frozen=True, kw_only=True)
class ImageGrade:
    """One image's grade now, its architecture, and why it is unknown if it is."""

    image: ShipmentImage
    grade: str
    architecture: str = "unknown"
    note: str | None = None  # why the grade is Unknown (no record, a failed lookup)

    @property
    def unhealthy(self) -> bool:
        return is_unhealthy(self.grade)


@dataclass(frozen=True, kw_only=True)
class HealthReport:
    """The outcome of a health check: every image's grade, the unhealthy ones'
    vulnerabilities; healthy when no image is unhealthy."""

    grades: tuple[ImageGrade, ...]
    vulnerabilities: tuple[Vulnerability, ...] = ()
    scanned_files: tuple[str, ...] = field(default_factory=tuple)

    @property
    def unhealthy(self) -> tuple[ImageGrade, ...]:
        return tuple(g for g in self.grades if g.unhealthy)

    @property
    def healthy(self) -> bool:
        return not self.unhealthy

    @property
    def missed(self) -> int:
        return sum(1 for g in self.grades if g.grade == UNKNOWN)

    def to_data(self) -> dict[str, JSON]:
        return {
            "healthy": self.healthy,
            "scanned": len(self.grades),
            "unhealthy": len(self.unhealthy),
            "missed": self.missed,
            "grades": [
                {
                    "component": g.image.component,
                    "grade": g.grade,
                    "architecture": g.architecture,
                    "pull_spec": g.image.pull_spec,
                }
                for g in self.grades
            ],
        }


# --- the grading rule ---------------------------------------------------------------------------


def current_grade(grades: Iterable[FreshnessGrade], now: datetime) -> str:
    """The grade in force at ``now``: of the grades already started, the one that started
    last (its end date is not looked at, as in the original); ``Unknown`` if none."""
    started = [g for g in grades if g.start_date is not None and g.start_date <= now and g.grade]
    if not started:
        return UNKNOWN
    return max(started, key=lambda g: g.start_date or now).grade


def is_unhealthy(grade: str) -> bool:
    """``Unknown``, or a grade worse than B (C, D, E, F); A and B are healthy."""
    return grade == UNKNOWN or grade > "B"


# --- the shipment's images ------------------------------------------------------------------------


def shipment_images(text: str) -> list[ShipmentImage]:
    """The component images of a shipment file: ``shipment.snapshot.spec.components[]``,
    each with its ``containerImage``; components without one are skipped."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise OarError(f"the shipment file is not YAML: {exc}") from exc
    shipment = (data or {}).get("shipment") if isinstance(data, dict) else None
    snapshot = (shipment or {}).get("snapshot") or {}
    components = (snapshot.get("spec") or {}).get("components") or []
    images = []
    for component in components:
        if isinstance(component, Mapping) and component.get("containerImage"):
            images.append(
                ShipmentImage(
                    component=str(component.get("name", "")),
                    pull_spec=str(component["containerImage"]),
                )
            )
    return images


def scanned_paths(paths: Iterable[str]) -> list[str]:
    """The shipment files whose images are checked: changed YAML files but the FBC ones."""
    return [p for p in paths if p.endswith((".yaml", ".yml")) and ".fbc." not in p]


# --- asking Pyxis ---------------------------------------------------------------------------------


async def grade_image(pyxis: Pyxis, image: ShipmentImage, now: datetime) -> ImageGrade:
    """One image's grade now; a lookup that fails, or finds nothing, is ``Unknown``."""
    if image.digest is None:
        return ImageGrade(image=image, grade=UNKNOWN, note="not pulled by digest")
    try:
        record = await pyxis.image(image.digest)
    except OarError as exc:
        return ImageGrade(image=image, grade=UNKNOWN, note=f"lookup failed: {exc.message}")
    if record is None:
        return ImageGrade(image=image, grade=UNKNOWN, note="not in the catalog")
    grade = current_grade(record.grades, now)
    return ImageGrade(
        image=image,
        grade=grade,
        architecture=record.architecture,
        note="no grade in force" if grade == UNKNOWN else None,
    )


async def check_images(
    pyxis: Pyxis, images: Sequence[ShipmentImage], now: datetime
) -> HealthReport:
    """Grade every image; fetch the vulnerabilities of the unhealthy ones."""
    grades = [await grade_image(pyxis, image, now) for image in images]
    vulnerabilities: list[Vulnerability] = []
    for grade in grades:
        if not grade.unhealthy or grade.image.digest is None:
            continue
        try:
            record = await pyxis.image(grade.image.digest)
            if record is not None:
                vulnerabilities.extend(await pyxis.vulnerabilities(record))
        except OarError:
            continue  # the image is already counted unhealthy; its table rows are lost
    return HealthReport(grades=tuple(grades), vulnerabilities=tuple(vulnerabilities))


# --- the texts ----------------------------------------------------------------------------------


def severity_rank(severity: str) -> int:
    """Critical < Important < Moderate < Low < anything else."""
    return _SEVERITY_RANK.get(severity.strip().lower(), len(_SEVERITY_RANK))


@dataclass(frozen=True, kw_only=True)
class VulnerabilityRow:
    package: str  # <name>-<version>
    severity: str
    cves: tuple[str, ...]
    suggested: str

    def markdown(self) -> str:
        return f"| {self.package} | {self.severity} | {', '.join(self.cves)} | {self.suggested} |"


def vulnerability_rows(vulnerabilities: Iterable[Vulnerability]) -> list[VulnerabilityRow]:
    """One row per affected ``<name>-<version>``: its CVEs (sorted, once each), the worst
    severity, and the source packages that fix the worst CVE; worst first, then by name."""
    by_package: dict[str, list[Vulnerability]] = {}
    for vulnerability in vulnerabilities:
        for name, version in vulnerability.affected:
            by_package.setdefault(f"{name}-{version}", []).append(vulnerability)
    rows = []
    for package, found in by_package.items():
        worst = min(found, key=lambda v: severity_rank(v.severity))
        rows.append(
            VulnerabilityRow(
                package=package,
                severity=worst.severity,
                cves=tuple(sorted({v.cve_id for v in found})),
                suggested=", ".join(worst.srpm_nevras) or "N/A",
            )
        )
    return sorted(rows, key=lambda r: (severity_rank(r.severity), r.package))


def health_comment(report: HealthReport) -> str:
    """The shipment MR's comment (reference §8.3.16): every line ends with a Markdown hard
    break (two spaces)."""
    unhealthy = report.unhealthy
    lines = [
        f"Images scanned: {len(report.grades)}.",
        f"Unhealthy components detected: {len(unhealthy)}.",
        f"Health info missed: {report.missed}.",
    ]
    if unhealthy:
        lines.append("Unhealthy components:")
        lines.extend(
            f"{g.image.component} (grade {g.grade}, arch {g.architecture}) - {g.image.pull_spec}."
            for g in unhealthy
        )
        rows = vulnerability_rows(report.vulnerabilities)
        if rows:
            lines += ["", "Vulnerabilities summary:", VULNERABILITY_HEADER, VULNERABILITY_SEPARATOR]
            lines.extend(row.markdown() for row in rows)
    return "".join(f"{line}  \n" for line in lines)


def grades_table(report: HealthReport) -> str:
    """The grades as a plain table for the task's log and the Slack thread."""
    width = max((len(g.image.component) for g in report.grades), default=9)
    width = max(width, len("component"))
    lines = [f"{'component':<{width}}  grade    arch     note"]
    for g in report.grades:
        row = f"{g.image.component:<{width}}  {g.grade:<7}  {g.architecture:<7}  {g.note or ''}"
        lines.append(row.rstrip())
    return "\n".join(lines)


def verdict(report: HealthReport) -> str:
    """One line: how many images, how many unhealthy."""
    if report.healthy:
        return f"image health check passed: all {len(report.grades)} images are graded A or B"
    names = ", ".join(f"{g.image.component} ({g.grade})" for g in report.unhealthy)
    return (
        f"image health check failed: {len(report.unhealthy)} of {len(report.grades)}"
        f" images are unhealthy: {names}"
    )
