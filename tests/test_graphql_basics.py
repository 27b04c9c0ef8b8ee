"""The /graphql endpoint: GraphiQL on GET, error codes on every error, no stack traces."""

from __future__ import annotations

import pytest

from tests.apps import graphql, running_app
from tests.conftest import BASE_DOMAIN


@pytest.fixture
async def client(settings, national):
    async with running_app(settings) as (_app, http):
        yield http


async def test_graphiql_on_get(client) -> None:
    response = await client.get("/graphql", headers={"host": BASE_DOMAIN, "accept": "text/html"})
    assert response.status_code == 200
    assert "graphiql" in response.text.lower()


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ("{ tenant { slug nope } }", "GRAPHQL_VALIDATION_FAILED"),
        ("{ tenant { ", "GRAPHQL_PARSE_FAILED"),
        ("query Q($x: Int!) { tenant { slug } }", "GRAPHQL_VALIDATION_FAILED"),
    ],
)
async def test_client_errors_carry_a_code(client, query, code) -> None:
    response = await graphql(client, BASE_DOMAIN, query)
    body = response.json()
    assert body["errors"], body
    assert all(error["extensions"]["code"] == code for error in body["errors"]), body
    assert "Traceback" not in response.text


async def test_unexpected_errors_are_masked(client, monkeypatch) -> None:
    from lapor.schema.tenants import types

    def explode(_record):
        raise RuntimeError("secret internals: password=hunter2")

    monkeypatch.setattr(types.Tenant, "from_record", classmethod(lambda cls, record: explode(record)))
    response = await graphql(client, BASE_DOMAIN, "{ tenant { slug } }")
    body = response.json()
    assert body["errors"][0]["extensions"]["code"] == "INTERNAL_SERVER_ERROR"
    assert "hunter2" not in response.text and "Traceback" not in response.text


async def test_oversized_bodies_are_refused_before_parsing(client) -> None:
    huge = {"query": "{ tenant { slug } }", "variables": {"x": "a" * 300_000}}
    response = await client.post("/graphql", json=huge, headers={"host": BASE_DOMAIN})
    assert response.status_code == 413
    # A GraphQL error body on /graphql, like every other error there (issue 9 item 17).
    assert [e["extensions"]["code"] for e in response.json()["errors"]] == ["PAYLOAD_TOO_LARGE"]

    async def chunks():
        for _ in range(40):
            yield b"x" * 10_000

    streamed = await client.post(
        "/graphql", content=chunks(), headers={"host": BASE_DOMAIN, "content-type": "application/json"}
    )
    assert streamed.status_code == 413, streamed.text


async def test_batched_requests_get_a_clear_error(client) -> None:
    response = await client.post(
        "/graphql", json=[{"query": "{ tenant { slug } }"}] * 3, headers={"host": BASE_DOMAIN}
    )
    assert response.status_code == 400
    assert "Traceback" not in response.text
