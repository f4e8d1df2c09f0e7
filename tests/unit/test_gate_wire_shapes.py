"""The gates' parsers driven by wire shapes kept as fixture files. The shapes are written
from what the reference records of the original's reads (oar-commands.md §5.1: an
external test's id, attributes.status, relationships.errata.id and brew_build.nvr,
attributes.external_data.json_body.subject_identifier; §6.3: response["alerts"] with
"blocking" and "alerts"; §7.4: elliott's JSON object indented 4, kind -> keys), not
captured from a live system (none is reachable here)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from oar.integrations.elliott import parse_trackers
from oar.integrations.errata import SecurityAlerts, parse_security_alerts, parse_test_result

FIXTURES = Path(__file__).parent.parent / "fixtures"


def fixture(path: str) -> Any:
    return json.loads((FIXTURES / path).read_text())


def test_an_external_test_page_gives_id_nvr_status_and_advisory() -> None:
    page = fixture("errata/external_tests_greenwave_cvp.json")
    failed, waived = (parse_test_result(item) for item in page["data"])
    assert (failed.id, failed.status, failed.advisory_id) == (2611003, "FAILED", 140201)
    assert failed.nvr == "ose-sriov-network-operator-bundle-container-v4.18.40-202611170700.p0"
    assert failed.external_id == "c4a1e5f2-0d6e-4b8a-9a3c-3e7f1b2d5c61"
    assert waived.status == "WAIVED"


def test_the_security_alerts_answer_says_blocking_and_names_the_alerts() -> None:
    alerts = parse_security_alerts(fixture("errata/security_alerts_refresh.json"))
    assert alerts == SecurityAlerts(
        blocking=True, alerts=("cve_missing_impact", "embargoed_cve_public_date")
    )


def test_no_alerts_or_no_blocking_key_is_not_blocking_as_the_original_read_it() -> None:
    assert parse_security_alerts({}) == SecurityAlerts(blocking=False)
    assert parse_security_alerts({"alerts": {}}) == SecurityAlerts(blocking=False)
    assert parse_security_alerts({"alerts": {"alerts": ["x"]}}) == SecurityAlerts(blocking=False)


def test_elliotts_output_is_kind_to_sorted_keys() -> None:
    text = (FIXTURES / "elliott/find-bugs-cve-only.json").read_text()
    trackers = parse_trackers(text)
    assert trackers["rpm"] == ["OCPBUGS-49001", "OCPBUGS-49010"]
    assert trackers["image"] == ["OCPBUGS-49006"]
    assert set(trackers) == {"extras", "image", "metadata", "microshift", "rhcos", "rpm"}
