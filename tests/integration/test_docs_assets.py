"""``/docs``, ``/redoc`` and the dashboard load every asset from this server, never a CDN."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import httpx
import pytest

from oar.service import Service
from oar.web import create_app

# src= and href= of scripts, stylesheets, icons; and the URLs the docs pages' inline
# scripts load (Swagger UI's `url: '/openapi.json'`, Redoc's spec-url).
_ASSET = re.compile(r"""(?:src|href|spec-url)=["']([^"']+)["']|url:\s*'([^']+)'""")


@pytest.fixture
async def client(service: Service) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(service, owns_service=False))
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as http:
        yield http


@pytest.mark.parametrize("page", ["/docs", "/redoc", "/"])
async def test_a_page_references_only_local_assets_and_each_answers(
    client: httpx.AsyncClient, page: str
) -> None:
    answer = await client.get(page)
    assert answer.status_code == 200
    urls = [a or b for a, b in _ASSET.findall(answer.text)]
    assets = [u for u in urls if not u.startswith("#")]
    assert assets, f"{page} references no asset at all"
    for url in assets:
        assert url.startswith("/"), f"{page} loads {url} remotely"
        assert not url.startswith("//"), f"{page} loads {url} remotely"
        if url.startswith("/static/") or url == "/openapi.json":
            fetched = await client.get(url)
            assert fetched.status_code == 200, url
            assert fetched.content, url
    assert "cdn" not in answer.text.lower()
