"""The demo's rules: its environment never carries the caller's OAR settings, puts the
database in the demo's directory and shortens every follow; its seed covers the three
states the demo promises (issue 17)."""

from __future__ import annotations

import shlex
from datetime import UTC, datetime
from pathlib import Path

from oar.sandbox.demo import SEED, demo_environment, demo_nightly, exported
from oar.settings import load_settings


def test_the_environment_is_the_demos_own_whatever_the_shell_has(tmp_path: Path) -> None:
    base = {
        "PATH": "/usr/bin",
        "OAR_DATABASE_URL": "postgresql://prod/oar",
        "OAR_API_TOKEN": "real-token",
        "ERRATA_TOKEN": "real-errata",
    }
    stand_ins = {"ERRATA_TOKEN": "sandbox-errata", "OAR_ERRATA_URL": "http://127.0.0.1:8904"}
    environment = demo_environment(base, stand_ins, data_dir=tmp_path, port=8123)

    assert environment["PATH"] == "/usr/bin"
    assert "OAR_API_TOKEN" not in environment
    assert environment["ERRATA_TOKEN"] == "sandbox-errata"
    settings = load_settings(environ=environment)
    assert settings.database_url == f"sqlite:///{tmp_path / 'oar.db'}"
    assert settings.port == 8123
    assert settings.dashboard_url == "http://127.0.0.1:8123"
    for interval in (
        settings.approval_watch_interval,
        settings.cdn_push_interval,
        settings.signature_check_interval,
        settings.image_consistency_interval,
        settings.stage_testing_interval,
    ):
        assert interval <= 10
    assert settings.job_streams == ("4.19",)
    assert settings.job_interval == "10s"
    assert settings.result_checker_channel


def test_each_start_announces_its_own_nightly() -> None:
    first = demo_nightly(datetime(2026, 11, 30, 4, 5, 6, tzinfo=UTC))
    assert first == "4.19.0-0.nightly-2026-11-30-040506"
    assert demo_nightly(datetime(2026, 11, 30, 4, 5, 7, tzinfo=UTC)) != first


def test_the_env_file_exports_quoted_values_a_shell_reads_back() -> None:
    text = exported({"OAR_JWK": '{"k": "a b"}', "PATH": "/bin"}, ["OAR_JWK"])
    assert text == 'export OAR_JWK=\'{"k": "a b"}\'\n'
    assert shlex.split(text.removeprefix("export ")) == ['OAR_JWK={"k": "a b"}']


def test_the_seed_has_a_new_release_a_blocked_one_and_one_awaiting_its_metadata() -> None:
    by_release: dict[str, list[str]] = {}
    for step in SEED:
        by_release.setdefault(step.release, []).append(step.task)
    assert by_release["4.18.41"] == ["create-test-report"]
    assert by_release["4.18.40"][-1] == "check-greenwave-cvp-tests"
    assert [s.fails for s in SEED if s.task == "check-greenwave-cvp-tests"] == [True]
    assert by_release["4.19.3"][-1] == "change-advisory-status"
    assert all(steps[0] == "create-test-report" for steps in by_release.values())
