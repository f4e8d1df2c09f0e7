"""The release configuration file: JWE compact (``dir`` / ``A128GCM``) or plaintext JSON.

The key is a symmetric JWK (``{"kty": "oct", "k": "…"}``, 128 bits) given in ``OAR_JWK``,
exactly as the original tool's ``config_store.json``. Plaintext JSON is accepted for
development, with a warning. Errors name the variable and the file, never the key.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from joserfc import jwe
from joserfc.errors import JoseError
from joserfc.jwk import OctKey

from oar.errors import ConfigurationError
from oar.logs import get_logger

log = get_logger(__name__)

HEADER = {"alg": "dir", "enc": "A128GCM"}
KEY_BITS = 128
MASK = "***"
# Keys whose values are secrets in the configuration (and in anything shown from it).
_SECRET_KEY = re.compile(
    r"(token|secret|passw|api_?key|private|credential|jwk|cookie|session)", re.IGNORECASE
)
_COMPACT_JWE = re.compile(
    r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$"
)


def generate_jwk() -> str:
    """A fresh 128-bit symmetric JWK as JSON: the value of ``OAR_JWK``."""
    return json.dumps(OctKey.generate_key(KEY_BITS).as_dict(private=True), sort_keys=True)


def parse_jwk(text: str) -> OctKey:
    """The key in ``OAR_JWK``; ConfigurationError naming the variable when it is not one."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        raise ConfigurationError(
            'OAR_JWK is not JSON: it must be a symmetric JWK such as {"kty": "oct", "k": "…"}',
            variables=["OAR_JWK"],
        ) from None
    if not isinstance(data, dict) or data.get("kty") != "oct" or not data.get("k"):
        raise ConfigurationError(
            'OAR_JWK must be a symmetric JWK: {"kty": "oct", "k": "<base64url key>"}',
            variables=["OAR_JWK"],
        )
    try:
        key = OctKey.import_key(data)
    except (JoseError, ValueError, TypeError) as exc:
        raise ConfigurationError(
            f"OAR_JWK is not a usable key: {type(exc).__name__}", variables=["OAR_JWK"]
        ) from None
    if len(key.raw_value) * 8 != KEY_BITS:
        raise ConfigurationError(
            f"OAR_JWK holds a {len(key.raw_value) * 8}-bit key; A128GCM needs {KEY_BITS} bits",
            variables=["OAR_JWK"],
        )
    return key


def is_encrypted(text: str) -> bool:
    """True when ``text`` is a JWE in compact form (five base64url parts)."""
    return bool(_COMPACT_JWE.match(text.strip()))


def encrypt(plaintext: bytes, jwk: str) -> str:
    """``plaintext`` as a compact JWE under ``jwk`` (``dir`` / ``A128GCM``)."""
    return jwe.encrypt_compact(dict(HEADER), plaintext, parse_jwk(jwk))


def decrypt(token: str, jwk: str, *, source: str = "the configuration") -> bytes:
    """The plaintext of a compact JWE; a wrong key or a damaged file is a clear error."""
    key = parse_jwk(jwk)
    try:
        result = jwe.decrypt_compact(token.strip(), key)
    except (JoseError, ValueError) as exc:
        raise ConfigurationError(
            f"cannot decrypt {source} with OAR_JWK: the key is not the one it was encrypted"
            f" with, or the file is damaged ({type(exc).__name__})",
            variables=["OAR_JWK", "OAR_CONFIG_FILE"],
        ) from None
    header = result.protected
    if header.get("alg") != HEADER["alg"] or header.get("enc") != HEADER["enc"]:
        raise ConfigurationError(
            f"{source} is encrypted with {header.get('alg')}/{header.get('enc')};"
            " OAR reads dir/A128GCM",
            variables=["OAR_CONFIG_FILE"],
        )
    plaintext = result.plaintext
    assert plaintext is not None
    return plaintext


def parse_json(data: bytes | str, *, source: str) -> dict[str, Any]:
    """The configuration object; anything else names the file."""
    try:
        value = json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ConfigurationError(
            f"{source} is not valid JSON: {exc}", variables=["OAR_CONFIG_FILE"]
        ) from None
    if not isinstance(value, dict):
        raise ConfigurationError(
            f"{source} must hold a JSON object, not a {type(value).__name__}",
            variables=["OAR_CONFIG_FILE"],
        )
    return value


def read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigurationError(
            f"OAR_CONFIG_FILE: cannot read {path}: {exc.strerror or exc}",
            variables=["OAR_CONFIG_FILE"],
        ) from None


def load(path: Path, jwk: str | None) -> dict[str, Any]:
    """Read, decrypt (when encrypted) and parse the configuration file."""
    text = read_text(path)
    source = f"OAR_CONFIG_FILE ({path})"
    if is_encrypted(text):
        if not jwk:
            raise ConfigurationError(
                f"{path} is encrypted: set OAR_JWK to the key that decrypts it",
                variables=["OAR_JWK"],
            )
        return parse_json(decrypt(text, jwk, source=source), source=source)
    config = parse_json(text, source=source)
    log.warning("release.config.plaintext", path=str(path))
    return config


def mask_secrets(value: Any, *, key: str = "") -> Any:
    """A copy with the values of secret-looking keys replaced by ``***``, for display."""
    if key and _SECRET_KEY.search(key) and value not in (None, "", {}, []):
        return MASK
    if isinstance(value, Mapping):
        return {str(k): mask_secrets(v, key=str(k)) for k, v in value.items()}
    if isinstance(value, list):
        return [mask_secrets(item, key=key) for item in value]
    return value
