"""A small GraphQL client for tests: host, optional development staff identity, error helpers."""

from __future__ import annotations

from typing import Any

import httpx

from tests.conftest import BASE_DOMAIN


class Gql:
    def __init__(self, client: httpx.AsyncClient, slug: str | None) -> None:
        self.client = client
        self.host = f"{slug}.{BASE_DOMAIN}" if slug else BASE_DOMAIN

    async def raw(
        self,
        query: str,
        *,
        staff: str | None = None,
        scopes: str | None = None,
        unit: int | None = None,
        **variables: Any,
    ) -> dict[str, Any]:
        headers = {"host": self.host}
        if staff:
            headers["x-lapor-dev-staff"] = staff
        if scopes is not None:
            headers["x-lapor-dev-scopes"] = scopes
        if unit is not None:
            headers["x-lapor-dev-unit"] = str(unit)
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
