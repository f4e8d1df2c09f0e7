"""Who may call mutating endpoints: the bearer token, when one is configured.

Without ``OAR_API_TOKEN`` the server refuses to bind beyond loopback (checked at start-up),
so an unauthenticated API is only ever reachable from the machine itself.
"""

from __future__ import annotations

import hmac

from fastapi import HTTPException, Request, status

from oar.service import Service


def service_of(request: Request) -> Service:
    service: Service = request.app.state.service
    return service


async def require_token(request: Request) -> str:
    """Check ``Authorization: Bearer <token>`` in constant time; return the actor name."""
    token = service_of(request).settings.api_token
    if token is None:
        return "local"
    header = request.headers.get("authorization", "")
    scheme, _, given = header.partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(
        given.strip().encode(), token.get_secret_value().encode()
    ):
        raise HTTPException(
            status_code=status.HTTP_401_UNAUTHORIZED,
            detail="a valid API token is required: send Authorization: Bearer <OAR_API_TOKEN>",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return "api-token"
