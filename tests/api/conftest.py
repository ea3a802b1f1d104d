"""API fixtures: an ASGI client in the test's event loop, a workspace, and token factories."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import jwt
import pytest


@dataclass
class Workspace:
    slug: str
    api_key: str
    sso_secret: str

    def token(self, sub: str, role: str = "member", name: str | None = None, ttl: int = 3600, **claims: Any) -> str:
        payload = {
            "iss": self.slug,
            "sub": sub,
            "name": name or sub.title(),
            "email": f"{sub}@example.com",
            "exp": int(time.time()) + ttl,
            "role": role,
            **claims,
        }
        return jwt.encode(payload, self.sso_secret, algorithm="HS256")


class Api:
    """Posts GraphQL documents as a given caller and returns the decoded JSON body."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client

    async def __call__(
        self,
        query: str,
        variables: dict[str, Any] | None = None,
        *,
        auth: str | None = None,
        expect_errors: bool = False,
    ) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {auth}"} if auth else {}
        response = await self.client.post(
            "/graphql", json={"query": query, "variables": variables or {}}, headers=headers
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        if not expect_errors:
            assert "errors" not in body, body["errors"]
        return body


@pytest.fixture
async def client(services: Any) -> AsyncIterator[httpx.AsyncClient]:
    from ideaengine.app import create_app

    app = create_app(services.settings, services)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as c:
        yield c


@pytest.fixture
def api(client: httpx.AsyncClient) -> Api:
    return Api(client)


async def make_workspace(services: Any, slug: str) -> Workspace:
    from ideaengine import workspaces

    async with services.transaction() as session:
        created = await workspaces.create_workspace(session, services.box, slug)
    return Workspace(slug, created.api_key, created.sso_secret)


@pytest.fixture
async def ws(services: Any) -> Workspace:
    return await make_workspace(services, "acme")


@pytest.fixture
async def other_ws(services: Any) -> Workspace:
    return await make_workspace(services, "globex")
