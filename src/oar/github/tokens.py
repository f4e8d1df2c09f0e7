"""GitHub App installation tokens: minted through githubkit's App auth, cached per
installation until shortly before they expire, refreshed once however many handlers ask."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from githubkit import AppAuthStrategy, GitHub, TokenAuthStrategy
from githubkit.cache import MemCacheStrategy
from githubkit.exception import GitHubException, RequestFailed, RequestTimeout

from oar.db.types import utcnow
from oar.errors import (
    IntegrationAuthError,
    IntegrationError,
    IntegrationNotFoundError,
    IntegrationTimeoutError,
    IntegrationUnavailableError,
)
from oar.logs import get_logger

log = get_logger(__name__)

# Refresh a token this long before GitHub says it expires (tokens live one hour).
REFRESH_MARGIN = timedelta(minutes=5)


@dataclass(frozen=True, kw_only=True)
class InstallationToken:
    token: str
    expires_at: datetime


class InstallationTokens:
    """Access tokens per installation, with one refresh in flight per installation."""

    def __init__(
        self,
        *,
        app_id: str,
        private_key: str,
        base_url: str,
        timeout: float = 30.0,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.base_url = base_url
        self.timeout = timeout
        self.clock = clock
        # A cache of our own: githubkit's shared default keys the app JWT by app ID alone, so
        # a rotated private key would keep signing with the old key for minutes.
        self._app = GitHub(
            AppAuthStrategy(app_id, private_key),
            base_url=base_url,
            timeout=timeout,
            cache_strategy=MemCacheStrategy(),
        )
        self._cache: dict[int, InstallationToken] = {}
        self._locks: dict[int, asyncio.Lock] = {}
        self.minted = 0

    async def token(self, installation_id: int) -> str:
        cached = self._fresh(installation_id)
        if cached is not None:
            return cached
        lock = self._locks.setdefault(installation_id, asyncio.Lock())
        async with lock:
            cached = self._fresh(installation_id)  # another handler refreshed it meanwhile
            if cached is not None:
                return cached
            minted = await self._mint(installation_id)
            self._cache[installation_id] = minted
            return minted.token

    def _fresh(self, installation_id: int) -> str | None:
        cached = self._cache.get(installation_id)
        if cached is not None and cached.expires_at - REFRESH_MARGIN > self.clock():
            return cached.token
        return None

    async def _mint(self, installation_id: int) -> InstallationToken:
        try:
            response = await self._app.rest.apps.async_create_installation_access_token(
                installation_id
            )
        except RequestFailed as exc:
            status = exc.response.status_code
            if status in (401, 403):
                raise IntegrationAuthError(
                    "GitHub", "GITHUBAPP_ID / GITHUBAPP_PRIVATE_KEY", status_code=status
                ) from exc
            if status == 404:
                raise IntegrationNotFoundError(
                    "GitHub", f"no installation {installation_id} of this app", status_code=404
                ) from exc
            raise IntegrationUnavailableError(
                "GitHub", f"installation token request failed (HTTP {status})", status_code=status
            ) from exc
        except RequestTimeout as exc:
            raise IntegrationTimeoutError(
                "GitHub", f"no answer from {self.base_url} within {self.timeout:g}s"
            ) from exc
        except GitHubException as exc:
            raise IntegrationError("GitHub", f"installation token request failed: {exc!r}") from exc
        data = response.parsed_data
        expires_at = datetime.fromisoformat(str(data.expires_at).replace("Z", "+00:00"))
        self.minted += 1
        log.info("github.token_minted", installation_id=installation_id, expires_at=str(expires_at))
        return InstallationToken(token=data.token, expires_at=expires_at)

    async def client(self, installation_id: int) -> GitHub[TokenAuthStrategy]:
        """An async-capable githubkit client acting as the installation."""
        token = await self.token(installation_id)
        return GitHub(TokenAuthStrategy(token), base_url=self.base_url, timeout=self.timeout)
