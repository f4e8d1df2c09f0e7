"""A GitHub stand-in: App authentication (JWT → installation tokens) to begin with.

It checks what GitHub checks: an RS256 JWT signed by the app's private key, issued by the
app's ID, living at most ten minutes; it answers installation tokens that expire in an
hour. The journal shows every token request, so tests can see tokens being reused.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import Request
from fastapi.responses import JSONResponse

from oar.sandbox.server import StandIn

SANDBOX_APP_ID = "424242"
SANDBOX_INSTALLATION_ID = 5150


def generate_private_key() -> str:
    """A fresh RSA key in PEM, as GitHub hands out for an App."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    ).decode()


def public_key_of(private_key_pem: str) -> str:
    key = serialization.load_pem_private_key(private_key_pem.encode(), password=None)
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


@dataclass(kw_only=True)
class SandboxApp:
    app_id: str
    public_key: str
    installations: set[int] = field(default_factory=set)


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse(
        {"message": message, "documentation_url": "https://docs.github.com/rest"},
        status_code=status,
    )


class GitHubStandIn(StandIn):
    name = "github"

    def __init__(self, *, private_key: str | None = None) -> None:
        self.private_key = private_key or generate_private_key()
        self.apps: dict[str, SandboxApp] = {}
        self.tokens: dict[str, dict[str, Any]] = {}
        super().__init__()

    def reset(self) -> None:
        self.apps = {
            SANDBOX_APP_ID: SandboxApp(
                app_id=SANDBOX_APP_ID,
                public_key=public_key_of(self.private_key),
                installations={SANDBOX_INSTALLATION_ID},
            )
        }
        self.tokens = {}

    def _app_from_jwt(self, request: Request) -> SandboxApp | JSONResponse:
        header = request.headers.get("authorization", "")
        if not header.lower().startswith("bearer "):
            return _error(401, "A JSON web token could not be decoded")
        token = header[7:]
        try:
            unverified = jwt.decode(token, options={"verify_signature": False})
            app = self.apps.get(str(unverified.get("iss")))
            if app is None:
                return _error(401, "Integration not found")
            claims = jwt.decode(token, app.public_key, algorithms=["RS256"], leeway=60)
        except jwt.PyJWTError as exc:
            return _error(401, f"A JSON web token could not be decoded: {exc}")
        if int(claims["exp"]) - int(claims["iat"]) > 11 * 60:
            return _error(401, "'Expiration time' claim ('exp') is too far in the future")
        return app

    def routes(self) -> None:
        app = self.app

        @app.get("/app")
        async def get_app(request: Request) -> Any:
            found = self._app_from_jwt(request)
            if isinstance(found, JSONResponse):
                return found
            return {"id": int(found.app_id), "slug": "oar-sandbox", "name": "OAR sandbox"}

        @app.post("/app/installations/{installation_id}/access_tokens", status_code=201)
        async def access_token(installation_id: int, request: Request) -> Any:
            found = self._app_from_jwt(request)
            if isinstance(found, JSONResponse):
                return found
            if installation_id not in found.installations:
                return _error(404, "Not Found")
            token = f"ghs_{secrets.token_urlsafe(27)}"
            expires_at = (datetime.now(UTC) + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
            self.tokens[token] = {"installation_id": installation_id, "expires_at": expires_at}
            return JSONResponse(
                {
                    "token": token,
                    "expires_at": expires_at,
                    "permissions": {
                        "contents": "write",
                        "metadata": "read",
                        "pull_requests": "write",
                    },
                    "repository_selection": "all",
                },
                status_code=201,
            )
