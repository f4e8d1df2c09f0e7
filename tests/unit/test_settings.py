"""Settings: defaults, readable errors naming the variable, secrets never shown."""

from __future__ import annotations

import typing
from pathlib import Path

import pytest
from pydantic import AliasChoices, Field, SecretStr

from oar.errors import ConfigurationError
from oar.settings import Settings, documented_variables, env_name, load_settings


def test_defaults_put_a_sqlite_database_in_the_data_directory(tmp_path: Path) -> None:
    settings = load_settings(environ={"OAR_DATA_DIR": str(tmp_path)})
    assert settings.database_url == f"sqlite:///{tmp_path.resolve()}/oar.db"
    assert settings.is_sqlite
    assert settings.host == "127.0.0.1"
    assert settings.port == 8080
    assert settings.loopback_only


def test_the_default_data_directory_follows_xdg(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "share"))
    assert load_settings(environ={}).data_dir == tmp_path / "share" / "oar"


def test_every_invalid_variable_is_named_in_one_error() -> None:
    with pytest.raises(ConfigurationError) as caught:
        load_settings(
            environ={"OAR_PORT": "eighty", "OAR_LOG_LEVEL": "LOUD", "OAR_TASK_RETRIES": "-1"}
        )
    assert set(caught.value.variables) == {"OAR_PORT", "OAR_LOG_LEVEL", "OAR_TASK_RETRIES"}
    for name in ("OAR_PORT", "OAR_LOG_LEVEL", "OAR_TASK_RETRIES"):
        assert name in caught.value.message


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("mysql://u@h/db", "unsupported database 'mysql'"),
        ("sqlite://", "SQLite needs a file path"),
        ("not a url", "not a database URL"),
        ("postgresql://u@h", "needs a database name"),
    ],
)
def test_bad_database_urls_are_explained(url: str, message: str) -> None:
    with pytest.raises(ConfigurationError, match="OAR_DATABASE_URL") as caught:
        load_settings(environ={"OAR_DATABASE_URL": url})
    assert message in caught.value.message


def test_postgres_urls_are_normalised_and_masked() -> None:
    settings = load_settings(
        environ={"OAR_DATABASE_URL": "postgresql+asyncpg://oar:s3cret-pw@db.example:5432/oar"}
    )
    assert settings.database_url == "postgresql://oar:s3cret-pw@db.example:5432/oar"
    assert settings.database_url_masked == "postgresql://oar:***@db.example:5432/oar"
    assert "s3cret-pw" in settings.secret_values()


def test_secrets_never_appear_in_repr_or_str() -> None:
    settings = load_settings(
        environ={
            "OAR_API_TOKEN": "tok-very-secret-value",
            "OAR_DATABASE_URL": "postgresql://oar:s3cret-pw@db/oar",
        }
    )
    for text in (repr(settings), str(settings)):
        assert "tok-very-secret-value" not in text
        assert "s3cret-pw" not in text
    assert settings.api_token is not None
    assert settings.api_token.get_secret_value() == "tok-very-secret-value"


def test_a_dotenv_file_is_read_and_the_environment_wins(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / ".env").write_text("OAR_PORT=9001\nOAR_LOG_LEVEL=DEBUG\n")
    monkeypatch.setenv("OAR_LOG_LEVEL", "ERROR")
    settings = load_settings()
    assert settings.port == 9001
    assert settings.log_level == "ERROR"


def test_executor_ids_are_stable_per_role_and_validated() -> None:
    settings = load_settings(environ={})
    assert settings.executor_id("worker") == settings.executor_id("worker")
    assert settings.executor_id("worker") != settings.executor_id("serve")
    assert load_settings(environ={"OAR_EXECUTOR_ID": "w-1"}).executor_id("worker") == "w-1"
    with pytest.raises(ConfigurationError, match="OAR_EXECUTOR_ID"):
        load_settings(environ={"OAR_EXECUTOR_ID": "has space"})


def test_plugins_are_a_comma_separated_list() -> None:
    settings = load_settings(environ={"OAR_PLUGINS": "a.b, c ,"})
    assert settings.plugins == ("a.b", "c")


def test_the_configuration_reference_documents_every_variable() -> None:
    reference = (Path(__file__).parents[2] / "docs" / "configuration.md").read_text()
    missing = [name for name in documented_variables() if f"`{name}`" not in reference]
    assert missing == []


@pytest.mark.parametrize(
    ("token", "problem"),
    [
        ("", "is empty, which would turn authentication off"),
        ("   ", "is empty, which would turn authentication off"),
        ("short-tok-15chr", "is 15 characters; use at least 16"),
        ("sixteen chars ok", "printable ASCII without spaces"),
    ],
)
def test_an_empty_or_short_api_token_stops_start_up(token: str, problem: str) -> None:
    """Issue 13 item 3: an empty OAR_API_TOKEN used to turn authentication off."""
    with pytest.raises(ConfigurationError, match="OAR_API_TOKEN") as caught:
        load_settings(environ={"OAR_API_TOKEN": token})
    assert problem in caught.value.message
    assert caught.value.variables == ("OAR_API_TOKEN",)
    if token.strip():
        assert token not in caught.value.message


def test_a_sixteen_character_token_is_enough() -> None:
    settings = load_settings(environ={"OAR_API_TOKEN": "0123456789abcdef"})
    assert settings.api_token is not None


def test_allowed_origins_are_normalized_and_checked() -> None:
    settings = load_settings(
        environ={"OAR_ALLOWED_ORIGINS": "http://LocalHost:3000, https://ops.example"}
    )
    assert settings.allowed_origins == ("http://localhost:3000", "https://ops.example:443")
    with pytest.raises(ConfigurationError, match=r"OAR_ALLOWED_ORIGINS.*not an origin"):
        load_settings(environ={"OAR_ALLOWED_ORIGINS": "http://ops.example/path"})


def _secret_fields() -> list[str]:
    return [
        name
        for name, info in Settings.model_fields.items()
        if info.annotation is SecretStr or SecretStr in typing.get_args(info.annotation)
    ]


def test_every_secret_field_is_scrubbed_without_being_listed_by_hand() -> None:
    """A new SecretStr setting is scrubbed from logs without anyone remembering to."""
    fields = _secret_fields()
    assert "api_token" in fields
    assert "errata_token" in fields
    environ = {env_name(name): f"secret-{name}-value" for name in fields}
    # The database URL is shown masked; its password is the secret.
    environ["OAR_DATABASE_URL"] = "postgresql://oar:secret-database-password@db/oar"
    secrets = load_settings(environ=environ).secret_values()
    for name in fields:
        expected = (
            "secret-database-password" if name == "database_url_setting" else f"secret-{name}-value"
        )
        assert expected in secrets, f"{env_name(name)} is not scrubbed from logs"


class _WithANewSecret(Settings):
    new_service_token: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("NEW_SERVICE_TOKEN")
    )


def test_a_secret_setting_added_later_is_scrubbed_too() -> None:
    settings = _WithANewSecret.model_validate({"NEW_SERVICE_TOKEN": "secret-new-service"})
    assert "secret-new-service" in settings.secret_values()


def test_an_empty_data_directory_is_refused_not_the_current_directory() -> None:
    with pytest.raises(ConfigurationError) as caught:
        load_settings(environ={"OAR_DATA_DIR": ""})
    assert list(caught.value.variables) == ["OAR_DATA_DIR"]
    assert "OAR_DATA_DIR: is empty" in caught.value.message
    assert "Value error" not in caught.value.message


def test_comma_separated_lists_are_read_from_the_real_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """pydantic-settings decodes tuple variables as JSON unless told not to: the documented
    plain form (``a,b``) must work when it comes from the process environment."""
    monkeypatch.setenv("OAR_ALLOWED_ORIGINS", "http://localhost:3000,http://127.0.0.1:5000")
    monkeypatch.setenv("OAR_PLUGINS", "myorg.tasks, myorg.hooks")
    settings = load_settings(env_file=None)
    assert settings.allowed_origins == ("http://localhost:3000", "http://127.0.0.1:5000")
    assert settings.plugins == ("myorg.tasks", "myorg.hooks")
