"""Errata Tool: the advisories of the errata flow (and the rpm/rhcos ones of Konflux).

The port has what the release commands do: read an advisory (state, QE owner), move it
(QE -> REL_PREP), take QE ownership, its Jira issues and builds, its push jobs and the push
to CDN stage (after its blocking advisories), its security alerts (read, or refreshed from
ProdSec's review service first) and its Greenwave CVP test results (and a refetch of one).

:class:`ErrataClient` speaks Errata Tool's REST API with httpx, on the paths the
errata-tool library uses (``/api/v1/erratum/{id}``, ``/advisory/{id}.json``, …).
Authentication is a bearer token (``ERRATA_TOKEN``); Kerberos needs a GSSAPI build that
is not installed with OAR, so without a token :meth:`ErrataClient.from_settings` refuses
to start. The in-memory fake is :class:`oar.integrations.fakes.errata.FakeErrata`.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import httpx

from oar.errors import ConfigurationError, IntegrationNotFoundError
from oar.integrations.calls import (
    CallPolicy,
    Failure,
    Kind,
    call,
    failure_for_status,
    parse_retry_after,
)

if TYPE_CHECKING:
    from oar.settings import Settings

SYSTEM = "Errata Tool"
CREDENTIAL = "ERRATA_TOKEN"


class AdvisoryState(enum.StrEnum):
    NEW_FILES = "NEW_FILES"
    QE = "QE"
    REL_PREP = "REL_PREP"
    PUSH_READY = "PUSH_READY"
    IN_PUSH = "IN_PUSH"
    SHIPPED_LIVE = "SHIPPED_LIVE"
    DROPPED_NO_SHIP = "DROPPED_NO_SHIP"


class PushStatus(enum.StrEnum):
    READY = "READY"
    QUEUED = "QUEUED"
    RUNNING = "RUNNING"
    WAITING_ON_PUB = "WAITING_ON_PUB"
    COMPLETE = "COMPLETE"
    FAILED = "FAILED"


# Errata Tool's workflow: the states an advisory may move to from each state.
TRANSITIONS: dict[AdvisoryState, frozenset[AdvisoryState]] = {
    AdvisoryState.NEW_FILES: frozenset({AdvisoryState.QE, AdvisoryState.DROPPED_NO_SHIP}),
    AdvisoryState.QE: frozenset(
        {AdvisoryState.NEW_FILES, AdvisoryState.REL_PREP, AdvisoryState.DROPPED_NO_SHIP}
    ),
    AdvisoryState.REL_PREP: frozenset(
        {AdvisoryState.NEW_FILES, AdvisoryState.QE, AdvisoryState.PUSH_READY}
    ),
    AdvisoryState.PUSH_READY: frozenset({AdvisoryState.REL_PREP, AdvisoryState.IN_PUSH}),
    AdvisoryState.IN_PUSH: frozenset({AdvisoryState.SHIPPED_LIVE, AdvisoryState.PUSH_READY}),
    AdvisoryState.SHIPPED_LIVE: frozenset(),
    AdvisoryState.DROPPED_NO_SHIP: frozenset(),
}


@dataclass(frozen=True, kw_only=True)
class Advisory:
    id: int
    name: str  # RHBA-2026:20101
    type: str  # RHBA, RHSA, RHEA
    state: AdvisoryState
    synopsis: str
    qe_owner: str  # email
    qe_group: str
    product: str
    release: str
    doc_complete: bool = False  # the docs team approved the text
    text_ready: bool = False  # doc approval requested
    # Product security's approval (RHSA): None not requested, False requested, True given.
    security_approved: bool | None = None


@dataclass(frozen=True, kw_only=True)
class AdvisoryIssue:
    """A Jira issue attached to an advisory."""

    key: str
    summary: str
    status: str


@dataclass(frozen=True, kw_only=True)
class Build:
    nvr: str
    product_version: str


@dataclass(frozen=True, kw_only=True)
class PushJob:
    id: int
    target: str  # cdn_stage, cdn_docker_stage, cdn, …
    status: PushStatus


@dataclass(frozen=True, kw_only=True)
class SecurityAlerts:
    """An advisory's security alerts: whether they block it, and the alerts' names."""

    blocking: bool
    alerts: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class TestResult:
    """One external test run (Greenwave CVP) of a build of an advisory."""

    __test__ = False  # not a pytest test class

    id: int
    nvr: str
    status: str  # PASSED, FAILED, PENDING, INELIGIBLE, …
    external_id: str
    advisory_id: int  # relationships.errata.id


class Errata(Protocol):
    """What OAR needs from Errata Tool."""

    async def get_advisory(self, advisory_id: int) -> Advisory: ...

    async def release_advisories(self, release: str) -> list[int]:
        """IDs of the advisories of an Errata Tool release (``RHOSE-4.19.z``)."""

    async def change_state(self, advisory_id: int, state: AdvisoryState) -> Advisory:
        """Move the advisory; Errata Tool refuses transitions its workflow forbids."""

    async def set_qe_owner(self, advisory_id: int, email: str) -> Advisory: ...

    async def jira_issues(self, advisory_id: int) -> list[AdvisoryIssue]: ...

    async def remove_jira_issues(self, advisory_id: int, keys: Sequence[str]) -> list[str]:
        """Detach the Jira issues ``keys`` from the advisory; returns those that were
        attached (and are not any more). Keys not attached are left alone."""

    async def request_doc_approval(self, advisory_id: int) -> Advisory:
        """Ask the docs team to approve the text again (``text_ready`` set)."""

    async def request_prodsec_approval(self, advisory_id: int) -> Advisory:
        """Ask product security to approve the RHSA (``security_approved`` false:
        requested)."""

    async def builds(self, advisory_id: int) -> list[Build]: ...

    async def push_jobs(self, advisory_id: int) -> list[PushJob]: ...

    async def push_to_stage(self, advisory_id: int) -> list[PushJob]:
        """Push to CDN stage (the targets not yet pushed); the new push jobs."""

    async def blocking_advisories(self, advisory_id: int) -> list[str]:
        """Advisories that must ship first, as Errata Tool names them."""

    async def security_alerts(self, advisory_id: int) -> SecurityAlerts: ...

    async def refresh_security_alerts(self, advisory_id: int) -> SecurityAlerts:
        """Ask ProdSec's review service to refresh the advisory's alerts; the fresh ones."""

    async def cvp_results(self, advisory_id: int) -> list[TestResult]:
        """The active Greenwave CVP test results of the advisory's builds."""

    async def refetch_test(self, test_id: int) -> TestResult:
        """Ask Errata Tool to fetch an external test run's result again (the test-run
        page's Refetch); the run as it stands now (usually PENDING)."""


# --- the real adapter ------------------------------------------------------------------------


def classify(exc: BaseException) -> Failure | None:
    """What an httpx exception means."""
    if isinstance(exc, httpx.HTTPStatusError):
        response = exc.response
        return failure_for_status(
            response.status_code,
            f"HTTP {response.status_code}: {_error_text(response)}",
            retry_after=parse_retry_after(response.headers.get("Retry-After")),
        )
    if isinstance(exc, httpx.TimeoutException):
        return Failure(kind=Kind.TIMEOUT, message=f"socket timeout: {type(exc).__name__}")
    if isinstance(exc, httpx.TransportError):
        return Failure(kind=Kind.TRANSIENT, message=f"connection failed: {exc!r}")
    return None


def _error_text(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:200]
    if isinstance(body, dict):
        return str(body.get("error") or body.get("errors") or body)[:200]
    return str(body)[:200]


def _parse_advisory(erratum: Mapping[str, Any], legacy: Mapping[str, Any]) -> Advisory:
    kind, details = next(iter(erratum["errata"].items()))
    people = legacy.get("people") or {}
    return Advisory(
        id=int(details["id"]),
        name=_advisory_name(str(details.get("fulladvisory", ""))),
        type=str(kind).upper(),
        state=AdvisoryState(details["status"]),
        synopsis=str(details.get("synopsis", "")),
        qe_owner=str(people.get("assigned_to", "")),
        qe_group=str(people.get("qe_group", "")),
        product=str((legacy.get("product") or {}).get("short_name", "")),
        release=str((legacy.get("release") or {}).get("name", "")),
        doc_complete=bool(details.get("doc_complete")),
        text_ready=bool(details.get("text_ready")),
        security_approved=(
            None
            if details.get("security_approved") is None
            else bool(details.get("security_approved"))
        ),
    )


def fixed_ids(erratum: Mapping[str, Any]) -> list[str]:
    """The advisory's ``idsfixed`` from ``GET /api/v1/erratum/{id}``: its Bugzilla bug IDs
    then its Jira keys, each once, in Errata Tool's order."""
    ids: list[str] = []
    for part in ("bugs", "jira_issues"):
        ids.extend(str(i) for i in (erratum.get(part) or {}).get("idsfixed") or [])
    return list(dict.fromkeys(ids))


def _advisory_name(full: str) -> str:
    """``RHBA-2026:20101-02`` (with its revision) -> ``RHBA-2026:20101``."""
    return full.rsplit("-", 1)[0] if full.count("-") > 1 else full


def parse_security_alerts(raw: Any) -> SecurityAlerts:
    """``{"alerts": {"blocking": bool, "alerts": [...]}}`` (what the security_alerts
    endpoints answer) -> :class:`SecurityAlerts`. No ``alerts`` or no ``blocking`` in it
    means not blocking, as the original read it (reference §6.3)."""
    alerts = raw.get("alerts") if isinstance(raw, Mapping) else None
    if not isinstance(alerts, Mapping) or "blocking" not in alerts:
        return SecurityAlerts(blocking=False)
    names = tuple(
        str(a.get("name", a)) if isinstance(a, Mapping) else str(a)
        for a in alerts.get("alerts") or ()
    )
    return SecurityAlerts(blocking=bool(alerts["blocking"]), alerts=names)


def parse_test_result(item: Mapping[str, Any]) -> TestResult:
    """One ``external_tests`` item (JSON:API-like) -> :class:`TestResult`."""
    attributes = item.get("attributes") or {}
    relationships = item.get("relationships") or {}
    return TestResult(
        id=int(item["id"]),
        nvr=str((relationships.get("brew_build") or {}).get("nvr", "")),
        status=str(attributes.get("status", "")),
        external_id=str(attributes.get("external_id", "")),
        advisory_id=int((relationships.get("errata") or {}).get("id", 0)),
    )


def _parse_push_job(raw: Mapping[str, Any]) -> PushJob:
    return PushJob(
        id=int(raw["id"]),
        target=str((raw.get("target") or {}).get("name", "")),
        status=PushStatus(raw["status"]),
    )


class ErrataClient:
    """The port on Errata Tool's REST API (httpx, bearer token)."""

    def __init__(
        self,
        url: str,
        *,
        token: str,
        policy: CallPolicy | None = None,
        verify: bool = True,
    ) -> None:
        self.url = url.rstrip("/")
        self.policy = policy or CallPolicy(system=SYSTEM, credential=CREDENTIAL)
        self._http = httpx.AsyncClient(
            base_url=self.url,
            headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
            timeout=self.policy.timeout,
            verify=verify,
        )

    @classmethod
    def from_settings(cls, settings: Settings) -> ErrataClient:
        if settings.errata_token is None:
            raise ConfigurationError(
                "Errata Tool needs ERRATA_TOKEN: this OAR cannot use Kerberos (no GSSAPI"
                " library is installed), so set a bearer token for Errata Tool's API",
                variables=["ERRATA_TOKEN"],
            )
        return cls(
            settings.errata_url,
            token=settings.errata_token.get_secret_value(),
            policy=CallPolicy.from_settings(settings, SYSTEM, CREDENTIAL),
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> ErrataClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def _request(
        self,
        operation: str,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, Any] | None = None,
    ) -> Any:
        async def attempt() -> Any:
            response = await self._http.request(method, path, json=json, params=params)
            response.raise_for_status()
            return response.json() if response.content else None

        return await call(self.policy, operation, attempt, classify)

    async def get_advisory(self, advisory_id: int) -> Advisory:
        erratum = await self._request("get_advisory", "GET", f"/api/v1/erratum/{advisory_id}")
        legacy = await self._request("get_advisory", "GET", f"/advisory/{advisory_id}.json")
        return _parse_advisory(erratum, legacy)

    async def release_advisories(self, release: str) -> list[int]:
        found = await self._request(
            "release_advisories", "GET", "/api/v1/releases", params={"filter[name]": release}
        )
        data = found.get("data") or []
        if not data:
            raise IntegrationNotFoundError(SYSTEM, f"no release named {release!r}", status_code=404)
        listed = await self._request(
            "release_advisories", "GET", f"/release/{data[0]['id']}/advisories.json"
        )
        return [int(a["id"]) for a in listed]

    async def change_state(self, advisory_id: int, state: AdvisoryState) -> Advisory:
        await self._request(
            "change_state",
            "POST",
            f"/api/v1/erratum/{advisory_id}/change_state",
            json={"new_state": str(state)},
        )
        return await self.get_advisory(advisory_id)

    async def set_qe_owner(self, advisory_id: int, email: str) -> Advisory:
        await self._request(
            "set_qe_owner",
            "PUT",
            f"/api/v1/erratum/{advisory_id}",
            json={"advisory": {"assigned_to_email": email}},
        )
        return await self.get_advisory(advisory_id)

    async def jira_issues(self, advisory_id: int) -> list[AdvisoryIssue]:
        raw = await self._request("jira_issues", "GET", f"/advisory/{advisory_id}/jira_issues.json")
        return [
            AdvisoryIssue(
                key=str(i["key"]),
                summary=str(i.get("summary", "")),
                status=str(i.get("status", "")),
            )
            for i in raw
        ]

    async def remove_jira_issues(self, advisory_id: int, keys: Sequence[str]) -> list[str]:
        # What the errata-tool library's commit() sends (reference §0.1.4, §4.4): the
        # advisory's whole ``idsfixed`` (Bugzilla IDs and Jira keys, space-separated) less
        # the keys, in one PUT. Matching is on whole keys, never substrings.
        erratum = await self._request("remove_jira_issues", "GET", f"/api/v1/erratum/{advisory_id}")
        fixed = fixed_ids(erratum)
        removed = [k for k in dict.fromkeys(keys) if k in fixed]
        if not removed:
            return []
        kept = [i for i in fixed if i not in removed]
        await self._request(
            "remove_jira_issues",
            "PUT",
            f"/api/v1/erratum/{advisory_id}",
            json={"advisory": {"idsfixed": " ".join(kept)}},
        )
        return removed

    async def request_doc_approval(self, advisory_id: int) -> Advisory:
        # What the original's commit() sent: advisory[text_ready]=1 (reference §4.5).
        await self._request(
            "request_doc_approval",
            "PUT",
            f"/api/v1/erratum/{advisory_id}",
            json={"advisory": {"text_ready": 1}},
        )
        return await self.get_advisory(advisory_id)

    async def request_prodsec_approval(self, advisory_id: int) -> Advisory:
        # advisory[security_approved]=false: requested (true is approved, null not asked).
        await self._request(
            "request_prodsec_approval",
            "PUT",
            f"/api/v1/erratum/{advisory_id}",
            json={"advisory": {"security_approved": False}},
        )
        return await self.get_advisory(advisory_id)

    async def builds(self, advisory_id: int) -> list[Build]:
        raw = await self._request("builds", "GET", f"/advisory/{advisory_id}/builds.json")
        return [
            Build(nvr=str(nvr), product_version=str(product_version))
            for product_version, entries in raw.items()
            for entry in entries
            for nvr in entry
        ]

    async def push_jobs(self, advisory_id: int) -> list[PushJob]:
        raw = await self._request("push_jobs", "GET", f"/api/v1/erratum/{advisory_id}/push")
        return [_parse_push_job(job) for job in raw]

    async def push_to_stage(self, advisory_id: int) -> list[PushJob]:
        raw = await self._request(
            "push_to_stage",
            "POST",
            f"/api/v1/erratum/{advisory_id}/push",
            params={"defaults": "stage"},
        )
        return [_parse_push_job(job) for job in raw or []]

    async def blocking_advisories(self, advisory_id: int) -> list[str]:
        raw = await self._request(
            "blocking_advisories", "GET", f"/errata/blocking_errata_for/{advisory_id}.json"
        )
        return [str(name) for name in raw]

    async def security_alerts(self, advisory_id: int) -> SecurityAlerts:
        raw = await self._request(
            "security_alerts", "GET", f"/api/v1/erratum/{advisory_id}/security_alerts"
        )
        return parse_security_alerts(raw)

    async def refresh_security_alerts(self, advisory_id: int) -> SecurityAlerts:
        raw = await self._request(
            "refresh_security_alerts",
            "POST",
            f"/api/v1/erratum/{advisory_id}/security_alerts/refresh",
        )
        return parse_security_alerts(raw)

    async def cvp_results(self, advisory_id: int) -> list[TestResult]:
        # Paginated as the errata-tool library reads it (externalTests): page after page
        # until one comes back empty.
        results: list[TestResult] = []
        page = 1
        while True:
            raw = await self._request(
                "cvp_results",
                "GET",
                "/api/v1/external_tests",
                params={
                    "filter[test_type]": "greenwave_cvp",
                    "filter[active]": "true",
                    "filter[errata_id]": str(advisory_id),
                    "page[number]": str(page),
                },
            )
            data = raw.get("data") or []
            if not data:
                return results
            results.extend(parse_test_result(item) for item in data)
            page += 1

    async def refetch_test(self, test_id: int) -> TestResult:
        raw = await self._request(
            "refetch_test", "POST", f"/api/v1/external_tests/{test_id}/refetch"
        )
        return parse_test_result(raw.get("data") or {})
