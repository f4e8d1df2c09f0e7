"""Faults through the real adapters against the stand-ins: a 429 with Retry-After is
retried and succeeds, a hang ends in a clear timeout, a refused credential names its
variable."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest

from oar.backoff import Backoff
from oar.errors import IntegrationAuthError, IntegrationTimeoutError
from oar.integrations.calls import CallPolicy
from oar.integrations.errata import ErrataClient
from oar.integrations.gitlab import GitLabClient
from oar.integrations.jenkins import STAGE_PIPELINE, JenkinsClient
from oar.integrations.jira import JiraClient
from oar.integrations.ldap import LdapDirectory
from oar.sandbox import errata as errata_sandbox
from oar.sandbox import gitlab as gitlab_sandbox
from oar.sandbox import jenkins as jenkins_sandbox
from oar.sandbox import jira as jira_sandbox
from oar.sandbox import seed
from oar.sandbox.ldap import LdapStandIn


@dataclass(frozen=True)
class System:
    name: str
    credential: str
    stand_in: Callable[[], Any]
    client: Callable[[str, CallPolicy, str], Any]  # (url, policy, token) -> adapter
    token: str
    path: str  # the path the operation below calls (regex)
    operation: Callable[[Any], Awaitable[Any]]
    check: Callable[[Any], bool]


SYSTEMS = [
    System(
        "Jira",
        "JIRA_TOKEN",
        jira_sandbox.JiraStandIn,
        lambda url, policy, token: JiraClient(
            url, username=jira_sandbox.SANDBOX_USERNAME, token=token, policy=policy
        ),
        jira_sandbox.SANDBOX_TOKEN,
        r"/issue/OCPBUGS-50001$",
        lambda c: c.get_issue("OCPBUGS-50001"),
        lambda issue: issue.status == "ON_QA",
    ),
    System(
        "GitLab",
        "GITLAB_TOKEN",
        gitlab_sandbox.GitLabStandIn,
        lambda url, policy, token: GitLabClient(url, token=token, policy=policy),
        gitlab_sandbox.SANDBOX_TOKEN,
        rf"/merge_requests/{seed.SHIPMENT_MR_IID}$",
        lambda c: c.get_merge_request(seed.SHIPMENT_PROJECT, seed.SHIPMENT_MR_IID),
        lambda mr: mr.iid == seed.SHIPMENT_MR_IID,
    ),
    System(
        "Jenkins",
        "JENKINS_TOKEN",
        jenkins_sandbox.JenkinsStandIn,
        lambda url, policy, token: JenkinsClient(
            url, user=jenkins_sandbox.SANDBOX_USER, token=token, policy=policy
        ),
        jenkins_sandbox.SANDBOX_TOKEN,
        r"/buildWithParameters$",
        lambda c: c.trigger(STAGE_PIPELINE, {"VERSION": seed.Y_STREAM}),
        lambda queue_id: queue_id > 0,
    ),
    System(
        "Errata Tool",
        "ERRATA_TOKEN",
        errata_sandbox.ErrataStandIn,
        lambda url, policy, token: ErrataClient(url, token=token, policy=policy),
        errata_sandbox.SANDBOX_TOKEN,
        r"/api/v1/erratum/150101$",
        lambda c: c.get_advisory(150101),
        lambda advisory: advisory.id == 150101,
    ),
]


def policy(system: System, *, timeout: float = 10.0, retries: int = 2) -> CallPolicy:
    return CallPolicy(
        system=system.name,
        credential=system.credential,
        timeout=timeout,
        retries=retries,
        backoff=Backoff(delay=0.01, max_delay=0.05),
    )


@pytest.mark.parametrize("system", SYSTEMS, ids=lambda s: s.name)
async def test_429_with_retry_after_is_retried_and_succeeds(system: System) -> None:
    stand_in = system.stand_in()
    stand_in.add_fault(path=system.path, status=429, retry_after=1, times=1)
    async with (
        stand_in.serving() as url,
        system.client(url, policy(system), system.token) as client,
    ):
        started = time.monotonic()
        result = await system.operation(client)
        waited = time.monotonic() - started
    assert system.check(result)
    assert len(stand_in.calls(system.path)) == 2  # the refused call, then the retry
    assert waited >= 0.9  # Retry-After: 1 was honoured, not our 10 ms backoff


@pytest.mark.parametrize("system", SYSTEMS, ids=lambda s: s.name)
async def test_hang_ends_in_a_timeout_naming_the_system(system: System) -> None:
    stand_in = system.stand_in()
    stand_in.add_fault(path=system.path, hang=True, times=None)
    async with (
        stand_in.serving() as url,
        system.client(url, policy(system, timeout=0.5, retries=0), system.token) as client,
    ):
        started = time.monotonic()
        with pytest.raises(IntegrationTimeoutError) as caught:
            await system.operation(client)
        elapsed = time.monotonic() - started
        stand_in.faults.clear()
    assert caught.value.system == system.name
    assert system.name in str(caught.value)
    assert elapsed < 5


@pytest.mark.parametrize("system", SYSTEMS, ids=lambda s: s.name)
async def test_refused_credential_names_the_variable(system: System) -> None:
    stand_in = system.stand_in()
    async with (
        stand_in.serving() as url,
        system.client(url, policy(system), "wrong-token") as client,
    ):
        with pytest.raises(IntegrationAuthError) as caught:
            await system.operation(client)
    assert caught.value.variable == system.credential
    assert system.credential in str(caught.value)
    assert caught.value.status_code == 401


async def test_ldap_hang_ends_in_a_timeout() -> None:
    stand_in = LdapStandIn()
    stand_in.add_fault(path="dc=redhat", method="SEARCH", hang=True, times=None)
    async with stand_in.serving() as url:
        directory = LdapDirectory(
            url, policy=CallPolicy(system="LDAP", credential="OAR_LDAP_URL", timeout=0.5, retries=0)
        )
        with pytest.raises(IntegrationTimeoutError, match="LDAP"):
            await directory.manager_of("qa.alice@example.com")


async def test_ldap_busy_server_is_retried() -> None:
    stand_in = LdapStandIn()
    stand_in.add_fault(path="dc=redhat", method="SEARCH", status=503, times=1)
    async with stand_in.serving() as url:
        directory = LdapDirectory(
            url,
            policy=CallPolicy(
                system="LDAP",
                credential="OAR_LDAP_URL",
                retries=2,
                backoff=Backoff(delay=0.01, max_delay=0.05),
            ),
        )
        manager = await directory.manager_of("qa.alice@example.com")
    assert manager is not None
    assert manager.email == "mlead@example.com"
    assert len(stand_in.calls(method="SEARCH")) == 3  # busy, retry, then the manager's entry
