"""In-memory fakes of the ports, apart from the real adapters: one module per system.

Each fake implements its port's Protocol with the system's rules (a fake imports its port
module, never the reverse); the contract tests in ``tests/contract/`` hold a fake and the
real adapter against the sandbox's stand-in to the same behaviour. Unit tests use the
fakes; several sandbox stand-ins keep their state in one.
"""

from __future__ import annotations

from oar.integrations.fakes.brew import FakeBrew
from oar.integrations.fakes.builddata import FakeBuildData
from oar.integrations.fakes.elliott import FakeElliott
from oar.integrations.fakes.errata import FakeErrata
from oar.integrations.fakes.gcs import FakeJobArtifacts
from oar.integrations.fakes.github import FakePullRequestLabels, FakeRepositoryFiles
from oar.integrations.fakes.gitlab import FakeGitLab, FakeProject
from oar.integrations.fakes.jenkins import FakeJenkins, FakeJob
from oar.integrations.fakes.jira import FakeJira
from oar.integrations.fakes.ldap import FakeDirectory
from oar.integrations.fakes.payloads import FakePayloadInspector
from oar.integrations.fakes.prow import FakeProwJobs
from oar.integrations.fakes.pyxis import FakePyxis
from oar.integrations.fakes.releasecontroller import FakeReleaseStreams
from oar.integrations.fakes.signatures import FakeSignatures
from oar.integrations.fakes.slack import FakeNotifier

__all__ = [
    "FakeBrew",
    "FakeBuildData",
    "FakeDirectory",
    "FakeElliott",
    "FakeErrata",
    "FakeGitLab",
    "FakeJenkins",
    "FakeJira",
    "FakeJob",
    "FakeJobArtifacts",
    "FakeNotifier",
    "FakePayloadInspector",
    "FakeProject",
    "FakeProwJobs",
    "FakePullRequestLabels",
    "FakePyxis",
    "FakeReleaseStreams",
    "FakeRepositoryFiles",
    "FakeSignatures",
]
