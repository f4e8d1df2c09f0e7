"""Release stream names and URLs per architecture (reference §5.4): pure rules."""

from __future__ import annotations

import pytest

from oar.errors import InvalidArgumentError
from oar.integrations.releasecontroller import (
    Release,
    controller_url,
    dev_preview_stream,
    nightly_stream,
    release_stream_url,
    stable_stream,
)

TEMPLATE = "https://{arch}.ocp.releases.ci.openshift.org"


@pytest.mark.parametrize(
    ("arch", "nightly", "stable", "preview"),
    [
        ("amd64", "4.19.0-0.nightly", "4-stable", "4-dev-preview"),
        ("arm64", "4.19.0-0.nightly-arm64", "4-stable-arm64", "4-dev-preview-arm64"),
        ("multi", "4.19.0-0.nightly-multi", "4-stable-multi", "4-dev-preview-multi"),
        ("ppc64le", "4.19.0-0.nightly-ppc64le", "4-stable-ppc64le", "4-dev-preview-ppc64le"),
        ("s390x", "4.19.0-0.nightly-s390x", "4-stable-s390x", "4-dev-preview-s390x"),
    ],
)
def test_stream_names_per_architecture(arch: str, nightly: str, stable: str, preview: str) -> None:
    assert nightly_stream("4.19", arch) == nightly
    assert stable_stream("4.19", arch) == stable
    assert dev_preview_stream("4.19", arch) == preview


def test_urls_as_the_original_resolver_built_them() -> None:
    assert release_stream_url(TEMPLATE, "4.18", nightly=True) == (
        "https://amd64.ocp.releases.ci.openshift.org/api/v1/releasestream/4.18.0-0.nightly/latest"
    )
    assert release_stream_url(TEMPLATE, "4.18", nightly=False, arch="arm64") == (
        "https://arm64.ocp.releases.ci.openshift.org/api/v1/releasestream/4-stable-arm64/latest"
        "?prefix=4.18"
    )
    assert release_stream_url(TEMPLATE, "4.18", nightly=False, build="4.18.47") == (
        "https://amd64.ocp.releases.ci.openshift.org/api/v1/releasestream/4-stable/release/4.18.47"
    )
    assert release_stream_url(TEMPLATE, "5.0", nightly=True, arch="multi").endswith(
        "/5.0.0-0.nightly-multi/latest"
    )


def test_a_template_for_one_host_keeps_the_architecture_in_the_path() -> None:
    assert controller_url("http://127.0.0.1:8901/{arch}/", "ppc64le") == (
        "http://127.0.0.1:8901/ppc64le"
    )


def test_unknown_architectures_and_versions_are_refused() -> None:
    with pytest.raises(InvalidArgumentError, match="'x86_64' is not one of amd64"):
        nightly_stream("4.19", "x86_64")
    with pytest.raises(InvalidArgumentError, match="not a y-stream"):
        stable_stream("4.19.3")


def test_a_release_reads_the_controllers_json() -> None:
    body = {
        "name": "4.18.47",
        "phase": "Accepted",
        "pullSpec": "quay.io/openshift-release-dev/ocp-release:4.18.47-x86_64",
        "downloadURL": "https://openshift-release-artifacts.apps.ci.l2s4.p1.openshiftapps.com/4.18.47",
        "changeLogJson": {"to": {"digest": "sha256:abc"}},
    }
    release = Release.from_json(body)
    assert release.accepted
    assert release.pull_spec.endswith("4.18.47-x86_64")
    assert release.digest == "sha256:abc"
    assert release.raw == body  # kept verbatim for the build tracking file
    assert Release.from_json({"name": "n"}).digest is None
