"""Schedules' pure rules: cadences, OAR_SCHEDULES, registration, what the settings change."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from oar.cadence import parse_cadence, parse_overrides
from oar.engine.schedules import ScheduleRegistry, ScheduleRun, effective
from oar.errors import ConfigurationError, UnknownScheduleError
from oar.settings import load_settings


async def _noop(run: ScheduleRun) -> None:
    """Does nothing."""


@pytest.mark.parametrize(
    ("text", "cron", "seconds"),
    [
        ("1s", "*/1 * * * * *", 1),
        ("30", "*/30 * * * * *", 30),
        ("60s", "0 */1 * * * *", 60),
        ("5m", "0 */5 * * * *", 300),
        ("30m", "0 */30 * * * *", 1800),
        ("1h", "0 0 */1 * * *", 3600),
        ("6h", "0 0 */6 * * *", 21600),
        ("24h", "0 0 0 * * *", 86400),
        ("1d", "0 0 0 * * *", 86400),
    ],
)
def test_an_interval_becomes_a_cron_on_an_even_grid(text: str, cron: str, seconds: int) -> None:
    cadence = parse_cadence(text)
    assert (cadence.cron, cadence.seconds, cadence.text) == (cron, seconds, text)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("45s", "does not divide a minute, an hour or a day evenly"),
        ("90s", "does not divide"),
        ("7m", "does not divide"),
        ("5h", "does not divide"),
        ("2d", "does not divide"),
        ("0s", "longer than 0 seconds"),
        ("", "an empty schedule"),
        ("soon", "neither an interval nor a cron expression"),
        ("* * *", "has 3 fields"),
        ("0 99 * * *", "not a valid cron expression"),
    ],
)
def test_a_cadence_that_cannot_run_evenly_is_refused_saying_why(text: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        parse_cadence(text)


def test_a_five_field_cron_fires_at_second_zero_and_knows_its_next_run() -> None:
    cadence = parse_cadence("30 9 * * 1-5")
    assert cadence.cron == "0 30 9 * * 1-5"
    assert cadence.seconds is None
    saturday = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
    assert cadence.next_after(saturday) == datetime(2026, 11, 30, 9, 30, tzinfo=UTC)


def test_an_interval_s_next_run_is_the_next_point_of_its_grid() -> None:
    moment = datetime(2026, 11, 29, 10, 7, 12, tzinfo=UTC)
    assert parse_cadence("15m").next_after(moment) == datetime(2026, 11, 29, 10, 15, tzinfo=UTC)


def test_oar_schedules_is_a_comma_separated_list_of_name_value() -> None:
    settings = load_settings(
        environ={"OAR_SCHEDULES": "detector=30m, notificator=OFF ,checker=on,daily=0 9 * * 1-5,"}
    )
    assert settings.schedule_overrides == {
        "detector": "30m",
        "notificator": "off",
        "checker": "on",
        "daily": "0 9 * * 1-5",
    }
    assert load_settings(environ={}).schedule_overrides == {}


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("detector", "'detector' is not name=value"),
        ("detector=", "is not name=value"),
        ("a=5m,a=off", "schedule 'a' is named twice"),
        ("detector=45s", "detector: interval '45s' does not divide"),
    ],
)
def test_a_wrong_oar_schedules_names_the_variable_and_the_entry(value: str, problem: str) -> None:
    with pytest.raises(ConfigurationError, match="OAR_SCHEDULES") as caught:
        load_settings(environ={"OAR_SCHEDULES": value})
    assert problem in caught.value.message
    assert parse_overrides("") == {}


def test_registration_checks_the_name_the_cadence_and_the_function() -> None:
    schedules = ScheduleRegistry()
    spec = schedules.register("agent.detector", _noop, every="30m")
    assert spec.description == "Does nothing."
    assert spec.enabled
    with pytest.raises(ValueError, match="exactly one of every= or cron="):
        schedules.register("x", _noop)
    with pytest.raises(ValueError, match="exactly one of every= or cron="):
        schedules.register("x", _noop, every="1m", cron="0 * * * *")
    with pytest.raises(ValueError, match="invalid schedule name"):
        schedules.register("has space", _noop, every="1m")
    with pytest.raises(ValueError, match="must be async"):
        schedules.register("sync", lambda run: None, every="1m")  # type: ignore[arg-type,return-value]
    with pytest.raises(ValueError, match="does not divide"):
        schedules.register("odd", _noop, every="7m")

    async def other(run: ScheduleRun) -> None: ...

    with pytest.raises(ValueError, match="already registered to"):
        schedules.register("agent.detector", other, every="1m")
    with pytest.raises(UnknownScheduleError, match=r"known schedules: agent\.detector"):
        schedules.get("agent.nope")


def test_the_settings_turn_a_schedule_off_or_on_or_change_its_cadence() -> None:
    schedules = ScheduleRegistry()
    on = schedules.register("a", _noop, every="30m")
    off = schedules.register("b", _noop, cron="0 9 * * *", enabled=False)

    assert effective(on, {}).enabled
    assert effective(on, {}).cadence.text == "30m"
    assert not effective(on, {"a": "off"}).enabled
    assert not effective(off, {}).enabled
    assert effective(off, {"b": "on"}).enabled
    assert effective(off, {"b": "on"}).cadence.cron == "0 0 9 * * *"
    changed = effective(off, {"b": "5m"})
    assert changed.enabled  # an interval in the settings also turns a schedule on
    assert changed.cadence.cron == "0 */5 * * * *"
