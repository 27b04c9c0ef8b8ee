"""Host -> tenant: slug hosts, custom domains, the national host, unknown and suspended hosts."""

from __future__ import annotations

import asyncio
import dataclasses

import pytest

from lapor.platform.bus import RedisBus, make_bus
from lapor.tenants.events import announce_registry_change
from lapor.tenants.records import TenantStatus
from lapor.tenants.registry import set_status
from tests.apps import graphql, running_app
from tests.conftest import BASE_DOMAIN, unique_slug
from tests.sql_counter import count_statements

TENANT_QUERY = "{ tenant { slug name kind parent { slug } regionCode timeZone } }"


async def _slug_at(client, host: str) -> str | None:
    response = await graphql(client, host, "{ tenant { slug } }")
    if response.status_code != 200:
        return None
    return response.json()["data"]["tenant"]["slug"]


async def test_slug_host_custom_domain_port_and_case(settings, make_regency) -> None:
    regency = await make_regency(domains=(f"lapor.{unique_slug()}.go.id",))
    custom = regency.domains[0]
    async with running_app(settings) as (_app, client):
        assert await _slug_at(client, f"{regency.slug}.{BASE_DOMAIN}") == regency.slug
        assert await _slug_at(client, f"{regency.slug}.{BASE_DOMAIN}:8000") == regency.slug
        assert await _slug_at(client, f"{regency.slug.upper()}.{BASE_DOMAIN.upper()}") == regency.slug
        assert await _slug_at(client, custom) == regency.slug
        assert await _slug_at(client, custom.upper() + ":443") == regency.slug


async def test_tenant_query_answers_from_the_resolved_tenant(settings, make_regency, province) -> None:
    regency = await make_regency(region_code="53.04")
    async with running_app(settings) as (_app, client):
        response = await graphql(client, f"{regency.slug}.{BASE_DOMAIN}", TENANT_QUERY)
    assert response.status_code == 200
    assert response.json() == {
        "data": {
            "tenant": {
                "slug": regency.slug,
                "name": "Kabupaten Uji",
                "kind": "REGENCY",
                "parent": {"slug": province.slug},
                "regionCode": "53.04",
                "timeZone": "Asia/Makassar",
            }
        }
    }


async def test_base_domain_is_the_national_host(settings, national) -> None:
    async with running_app(settings) as (_app, client):
        assert await _slug_at(client, BASE_DOMAIN) == national.slug
        assert await _slug_at(client, f"{national.slug}.{BASE_DOMAIN}") == national.slug


@pytest.mark.parametrize(
    "host",
    ["nope.lapor.test", "deep.ntt.lapor.test", "example.org", "", "[::1]:8000", "127.0.0.1"],
)
async def test_unknown_host_is_404_naming_the_host(settings, host) -> None:
    async with running_app(settings) as (_app, client):
        response = await client.post(
            "/graphql", json={"query": "{ tenant { slug } }"}, headers={"host": host}
        )
    assert response.status_code == 404
    error = response.json()["error"]
    assert error["code"] == "UNKNOWN_HOST"
    assert repr(host) in error["message"]


async def test_suspended_tenant_is_403_with_reason(settings, db, make_regency) -> None:
    regency = await make_regency()
    host = f"{regency.slug}.{BASE_DOMAIN}"
    async with running_app(settings) as (app, client):
        assert await _slug_at(client, host) == regency.slug  # now cached as ACTIVE
        await set_status(db, regency.slug, TenantStatus.SUSPENDED, "audit in progress")
        await announce_registry_change(app.state.services.bus, regency.slug)
        response = await graphql(client, host, "{ tenant { slug } }")
        assert response.status_code == 403
        assert response.json()["error"]["code"] == "TENANT_SUSPENDED"
        assert "audit in progress" in response.json()["error"]["message"]
        await set_status(db, regency.slug, TenantStatus.ACTIVE)
        await announce_registry_change(app.state.services.bus, regency.slug)
        assert await _slug_at(client, host) == regency.slug


async def test_health_checks_need_no_tenant_host(settings) -> None:
    async with running_app(settings) as (_app, client):
        assert (await client.get("/healthz", headers={"host": "anything"})).json() == {"status": "ok"}
        ready = await client.get("/readyz", headers={"host": "anything"})
    assert ready.status_code == 200 and ready.json()["database"] == "ok"


async def test_concurrent_first_requests_share_one_lookup(settings, make_regency) -> None:
    regency = await make_regency()
    host = f"{regency.slug}.{BASE_DOMAIN}"
    async with running_app(settings) as (app, _client):
        directory = app.state.services.directory
        with count_statements(directory.db.public) as statements:
            results = await asyncio.gather(*(directory.resolve(host) for _ in range(20)))
            again = await directory.resolve(host)
    assert {t.slug for t in results if t} == {regency.slug}
    assert again is not None and again.slug == regency.slug
    assert len(statements) == 1, statements


async def test_registry_change_reaches_other_app_instances_through_redis(
    settings, db, redis_url, make_regency
) -> None:
    """Two app instances on one Redis: a suspension announced elsewhere reaches both at once."""
    regency = await make_regency()
    host = f"{regency.slug}.{BASE_DOMAIN}"
    with_redis = dataclasses.replace(settings, redis_url=redis_url, host_cache_ttl=3600)
    async with running_app(with_redis) as (app_one, one), running_app(with_redis) as (_app_two, two):
        assert isinstance(app_one.state.services.bus, RedisBus)
        assert await _slug_at(one, host) == regency.slug
        assert await _slug_at(two, host) == regency.slug
        await set_status(db, regency.slug, TenantStatus.SUSPENDED, "moved")
        announcer = make_bus(redis_url)  # e.g. the CLI, a third process
        try:
            await announce_registry_change(announcer, regency.slug)
        finally:
            await announcer.close()
        for client in (one, two):
            for _ in range(100):
                if (await graphql(client, host, "{ tenant { slug } }")).status_code == 403:
                    break
                await asyncio.sleep(0.02)
            else:
                pytest.fail("the suspension did not reach an app instance through Redis")
