"""The sandbox's release configuration: ``data/oar-config.json``, matching the seed.

``oarctl sandbox`` writes it encrypted under a freshly generated key and prints
``OAR_CONFIG_FILE`` and ``OAR_JWK``, so the release commands run exactly as in
production (a JWE decrypted with OAR_JWK), against the stand-ins.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

from oar.release import configfile

FILE_NAME = "oar-config.jwe"


def config_text() -> str:
    """The plaintext JSON configuration of the sandbox."""
    return (resources.files("oar.sandbox") / "data" / "oar-config.json").read_text()


def config() -> dict[str, Any]:
    value: dict[str, Any] = json.loads(config_text())
    return value


def write_config(directory: Path, *, jwk: str | None = None) -> dict[str, str]:
    """Write the configuration encrypted into ``directory``; return the variables to set
    (``OAR_CONFIG_FILE`` and ``OAR_JWK``; the key is generated unless given)."""
    key = jwk or configfile.generate_jwk()
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / FILE_NAME
    path.write_text(configfile.encrypt(config_text().encode(), key) + "\n", encoding="utf-8")
    path.chmod(0o600)
    return {"OAR_CONFIG_FILE": str(path), "OAR_JWK": key}
