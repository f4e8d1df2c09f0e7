"""``oarctl config``: create, encrypt, decrypt and inspect the release configuration file."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from oar.cli.console import err, handles_errors, json_option, out, print_json, run, settings_or_exit
from oar.errors import ConfigurationError
from oar.release import configfile
from oar.release.configstore import ConfigStore, load_config
from oar.release.versions import ReleaseVersion
from oar.settings import Settings

PATH = click.Path(dir_okay=False, path_type=Path)


@click.group()
def config() -> None:
    """The release configuration file (OAR_CONFIG_FILE), encrypted with OAR_JWK."""


def _jwk(settings: Settings) -> str:
    if settings.oar_jwk is None:
        raise ConfigurationError(
            "OAR_JWK is not set: it is the key (a JWK) that encrypts the configuration;"
            " create one with `oarctl config genkey`",
            variables=["OAR_JWK"],
        )
    return settings.oar_jwk.get_secret_value()


def _write(path: Path | None, text: str) -> None:
    if path is None:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
        return
    path.write_text(text if text.endswith("\n") else text + "\n", encoding="utf-8")
    path.chmod(0o600)


@config.command("genkey")
@handles_errors
def config_genkey() -> None:
    """Print a new 128-bit key for OAR_JWK (keep it secret)."""
    click.echo(configfile.generate_jwk())


@config.command("encrypt")
@click.option("--in", "source", type=PATH, required=True, help="Plaintext JSON configuration.")
@click.option("--out", "target", type=PATH, help="Where to write the JWE (default: stdout).")
@handles_errors
def config_encrypt(source: Path, target: Path | None) -> None:
    """Encrypt a JSON configuration with OAR_JWK (JWE compact, dir / A128GCM)."""
    settings = settings_or_exit(quiet=True)
    text = configfile.read_text(source)
    configfile.parse_json(text, source=str(source))  # refuse to encrypt what cannot be read
    _write(target, configfile.encrypt(text.encode("utf-8"), _jwk(settings)))
    if target is not None:
        err.print(f"encrypted {source} -> {target}", highlight=False)


@config.command("decrypt")
@click.option("--in", "source", type=PATH, help="The JWE file (default: OAR_CONFIG_FILE).")
@click.option("--out", "target", type=PATH, help="Where to write the JSON (default: stdout).")
@handles_errors
def config_decrypt(source: Path | None, target: Path | None) -> None:
    """Decrypt the configuration with OAR_JWK (prints secrets: prefer `show`)."""
    settings = settings_or_exit(quiet=True)
    path = source or settings.config_file
    if path is None:
        raise ConfigurationError("give --in or set OAR_CONFIG_FILE", variables=["OAR_CONFIG_FILE"])
    text = configfile.read_text(path)
    if not configfile.is_encrypted(text):
        raise ConfigurationError(f"{path} is not encrypted (it is not a JWE)")
    plaintext = configfile.decrypt(text, _jwk(settings), source=str(path))
    value = configfile.parse_json(plaintext, source=str(path))
    _write(target, json.dumps(value, indent=2))


@config.command("show")
@click.option("--in", "source", type=PATH, help="The file (default: OAR_CONFIG_FILE).")
@click.option(
    "-r", "--release", help="Also show what ConfigStore reads for this release (build data)."
)
@json_option
@handles_errors
def config_show(source: Path | None, release: str | None, as_json: bool) -> None:
    """Show the configuration with secrets masked (and, with -r, one release's values)."""
    settings = settings_or_exit(quiet=True)
    if source is not None:
        settings = settings.model_copy(update={"config_file": source})
    values = load_config(settings)
    shown: dict[str, Any] = {"configuration": configfile.mask_secrets(values)}
    if release is not None:
        version = ReleaseVersion.parse(release)
        store = run(ConfigStore.load(settings, version, config=values))
        shown["release"] = {
            "release": store.release,
            "y_stream": store.y_stream,
            "release_key": store.release_key,
            "assemblies": store.assembly.chain(),
            **store.metadata().to_dict(),
        }
    if as_json:
        print_json(shown)
        return
    out.print_json(json.dumps(shown, default=str))
