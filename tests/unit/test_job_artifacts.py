"""Artifact rules: test-results.yaml parsing and the JUnit patterns (reference §5.8, §5.11)."""

from __future__ import annotations

import pytest

from oar.errors import IntegrationError
from oar.integrations.gcs import is_junit, is_test_results, parse_test_results, run_prefix
from oar.sandbox.gcs import TEST_RESULTS_YAML, glob_pattern


def test_duplicate_ginkgo_keys_both_survive() -> None:
    results = parse_test_results(TEST_RESULTS_YAML)
    assert set(results) == {"openshift-extended-test", "ginkgo-1", "ginkgo-2", "cucushift-e2e"}
    assert results["ginkgo-1"]["total"] == 1210
    assert results["ginkgo-2"]["total"] == 88


def test_a_third_ginkgo_key_is_left_alone_as_the_original_did() -> None:
    text = "ginkgo: {total: 1}\nginkgo: {total: 2}\nginkgo: {total: 3}\n"
    assert parse_test_results(text) == {
        "ginkgo-1": {"total": 1},
        "ginkgo-2": {"total": 2},
        "ginkgo": {"total": 3},
    }


def test_invalid_yaml_is_an_integration_error() -> None:
    with pytest.raises(IntegrationError, match="not valid YAML"):
        parse_test_results("a: [unclosed")


@pytest.mark.parametrize(
    ("name", "junit"),
    [
        ("logs/j/1/artifacts/s/openshift-extended-test/artifacts/junit/import-Cluster.xml", True),
        ("logs/j/1/artifacts/s/cucumber/artifacts/junit/TEST-features-api.xml", True),
        ("logs/j/1/artifacts/s/gui_test/artifacts/console-cypress.xml", True),
        ("logs/j/1/artifacts/s/cucushift-e2e/artifacts/junit_cucushift-e2e-combined-1.xml", True),
        ("logs/j/1/artifacts/s/openshift-extended-test/artifacts/e2e.log", False),
        ("logs/j/1/artifacts/junit_operator.xml", False),
    ],
)
def test_junit_patterns(name: str, junit: bool) -> None:
    assert is_junit(name) is junit


def test_run_paths() -> None:
    assert run_prefix("periodic-ci-x", "199") == "logs/periodic-ci-x/199/"
    assert is_test_results(
        "logs/j/1/artifacts/s/openshift-e2e-test-qe-report/artifacts/test-results.yaml"
    )
    with pytest.raises(IntegrationError, match="not a job run"):
        run_prefix("../etc", "")


def test_the_gcs_stand_ins_match_glob_follows_gcs() -> None:
    pattern = glob_pattern("logs/j/1/**/report/*.yaml")
    assert pattern.match("logs/j/1/a/b/report/test-results.yaml")
    assert not pattern.match("logs/j/1/a/report/sub/test-results.yaml")
    assert not pattern.match("logs/j/2/a/report/test-results.yaml")
