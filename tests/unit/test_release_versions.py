"""Release versions: what parses, what is refused (and how), the y-stream, the build-data
key, and semantic-version ordering."""

from __future__ import annotations

import pytest

from oar.errors import InvalidVersionError
from oar.release.versions import (
    RELEASE_FORM,
    ReleaseVersion,
    is_valid_release,
    parse_y_stream,
    release_key,
    sort_releases,
    y_stream_of,
)


@pytest.mark.parametrize(
    ("text", "y_stream", "key"),
    [
        ("4.19.3", "4.19", "4.19.3"),
        ("4.18.40", "4.18", "4.18.40"),
        ("4.19.0-rc.1", "4.19", "rc.1"),
        ("4.18.0-rc.8", "4.18", "rc.8"),
        ("4.20.0-ec.3", "4.20", "ec.3"),
        ("5.0.0", "5.0", "5.0.0"),
        (" 4.19.3 ", "4.19", "4.19.3"),
    ],
)
def test_valid_releases_give_their_y_stream_and_build_data_key(
    text: str, y_stream: str, key: str
) -> None:
    version = ReleaseVersion.parse(text)
    assert version.y_stream == y_stream == y_stream_of(text)
    assert version.release_key == key == release_key(text)
    assert version.build_data_branch == f"openshift-{y_stream}"
    assert str(version) == text.strip()


@pytest.mark.parametrize(
    "text",
    [
        "",
        "4.19",
        "4.",
        "4.19.3.1",
        "v4.19.3",
        "4.19.03",
        "4.19.x",
        "4.19.0-beta.1",
        "4.19.0-rc1",
        "4.19.0-rc.1+build.5",
        "4.19.0-0.nightly-2026-11-18-101010",
        "latest",
    ],
)
def test_invalid_releases_are_refused_naming_the_expected_form(text: str) -> None:
    with pytest.raises(InvalidVersionError) as caught:
        ReleaseVersion.parse(text)
    assert caught.value.given == text
    assert RELEASE_FORM in caught.value.message
    assert repr(text) in caught.value.message
    assert not is_valid_release(text)


def test_ordering_is_semantic_not_textual() -> None:
    ordered = sort_releases(["4.19.0", "4.18.10", "4.19.0-rc.1", "4.18.9", "4.19.0-ec.2"])
    assert [v.text for v in ordered] == [
        "4.18.9",
        "4.18.10",
        "4.19.0-ec.2",
        "4.19.0-rc.1",
        "4.19.0",
    ]
    v = ReleaseVersion.parse
    assert v("4.18.9") < v("4.18.10") < v("4.19.0-rc.1") < v("4.19.0")
    assert v("4.19.0") > v("4.19.0-rc.1")
    assert v("4.19.0-rc.2") < v("4.19.0-rc.10")
    assert v("4.19.3") == v("4.19.3")
    assert max(v("4.18.10"), v("4.18.9")).text == "4.18.10"
    assert len({v("4.19.3"), v("4.19.3")}) == 1


def test_y_streams_are_validated() -> None:
    assert parse_y_stream("4.19") == "4.19"
    with pytest.raises(InvalidVersionError, match=r"expected X\.Y"):
        parse_y_stream("4.19.3")
