"""Adapters built from Settings: missing credentials are refused naming the variables,
and the configured timeout and retries become the call policy."""

from __future__ import annotations

import pytest

from oar.errors import ConfigurationError
from oar.integrations.errata import ErrataClient
from oar.integrations.gitlab import GitLabClient
from oar.integrations.jenkins import JenkinsClient
from oar.integrations.jira import JiraClient
from oar.integrations.ldap import LdapDirectory
from oar.settings import load_settings


@pytest.mark.parametrize(
    ("build", "variables"),
    [
        (JiraClient.from_settings, ("JIRA_USERNAME", "JIRA_TOKEN")),
        (GitLabClient.from_settings, ("GITLAB_TOKEN",)),
        (JenkinsClient.from_settings, ("JENKINS_USER", "JENKINS_TOKEN")),
        (ErrataClient.from_settings, ("ERRATA_TOKEN",)),
    ],
    ids=["jira", "gitlab", "jenkins", "errata"],
)
def test_missing_credentials_name_the_variables(build: object, variables: tuple[str, ...]) -> None:
    settings = load_settings(environ={})
    with pytest.raises(ConfigurationError) as caught:
        build(settings)  # type: ignore[operator]
    assert caught.value.variables == variables
    for name in variables:
        assert name in str(caught.value)


async def test_settings_become_the_call_policy() -> None:
    settings = load_settings(
        environ={
            "OAR_JIRA_URL": "http://127.0.0.1:9/",
            "JIRA_USERNAME": "oar-bot@example.com",
            "JIRA_TOKEN": "t",
            "GITLAB_TOKEN": "t",
            "JENKINS_USER": "u",
            "JENKINS_TOKEN": "t",
            "ERRATA_TOKEN": "t",
            "OAR_INTEGRATION_TIMEOUT": "7.5",
            "OAR_INTEGRATION_RETRIES": "1",
        }
    )
    errata = ErrataClient.from_settings(settings)
    adapters = [
        JiraClient.from_settings(settings),
        GitLabClient.from_settings(settings),
        JenkinsClient.from_settings(settings),
        errata,
        LdapDirectory.from_settings(settings),
    ]
    try:
        assert {(a.policy.timeout, a.policy.retries) for a in adapters} == {(7.5, 1)}
        assert [a.policy.credential for a in adapters] == [
            "JIRA_TOKEN",
            "GITLAB_TOKEN",
            "JENKINS_TOKEN",
            "ERRATA_TOKEN",
            "OAR_LDAP_URL",
        ]
        assert adapters[0].url == "http://127.0.0.1:9"  # type: ignore[attr-defined]
    finally:
        await errata.aclose()
