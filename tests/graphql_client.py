"""A small GraphQL client for tests: the tenant host, an optional staff bearer token, error helpers."""

from __future__ import annotations

from typing import Any

import httpx

from tests.conftest import BASE_DOMAIN
from tests.oauth_helpers import bearer_for


class Gql:
    """Requests to one tenant's host; ``staff=...`` sends a real bearer token (see oauth_helpers)."""

    def __init__(self, client: httpx.AsyncClient, slug: str | None) -> None:
        self.client = client
        self.slug = slug
        self.host = f"{slug}.{BASE_DOMAIN}" if slug else BASE_DOMAIN

    async def raw(
        self, query: str, *, staff: str | None = None, scopes: str | None = None, **variables: Any
    ) -> dict[str, Any]:
        headers = {"host": self.host}
        if staff:
            headers["authorization"] = f"Bearer {await bearer_for(self.client, self.slug, scopes)}"
        response = await self.client.post(
            "/graphql", json={"query": query, "variables": variables}, headers=headers
        )
        assert response.status_code == 200, response.text
        body = response.json()
        assert "Traceback" not in response.text
        return body

    async def ok(self, query: str, **kwargs: Any) -> dict[str, Any]:
        body = await self.raw(query, **kwargs)
        assert not body.get("errors"), body
        return body["data"]


def codes(body: dict[str, Any]) -> list[str]:
    return [error["extensions"]["code"] for error in body.get("errors") or []]
