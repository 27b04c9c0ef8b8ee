"""Rate limits (issue 4 item 5): cost-based GraphQL limits per client and per IP, shared through
real Redis by several app instances, the same policy per process without Redis, and a Redis that
dies mid-test: requests keep being served from the local fallback, then Redis takes over again."""

from __future__ import annotations

import asyncio
import logging
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import AsyncExitStack, contextmanager
from dataclasses import replace

import httpx
import pytest
import redis
from graphql import parse

from lapor.platform.keys import platform_key, tenant_key
from lapor.platform.ratelimit import LocalStore, RateLimiter
from lapor.schema.limits import document_cost, document_nodes
from lapor.settings import Settings
from tests.apps import graphql, running_app
from tests.conftest import BASE_DOMAIN, _free_port, _redis_answers
from tests.oauth_helpers import machine_token

SMALL = "{ tenant { slug } }"
BIG = "{ " + " ".join(f"p{i}: publicComplaints(first: 100) {{ edges {{ cursor }} }}" for i in range(5)) + " }"
LOCAL_IP = "127.0.0.1"  # what httpx.ASGITransport reports as the client


def host_of(slug: str) -> str:
    return f"{slug}.{BASE_DOMAIN}"


def limits(response: httpx.Response) -> tuple[int, int, int]:
    headers = response.headers
    return (
        int(headers["ratelimit-limit"]),
        int(headers["ratelimit-remaining"]),
        int(headers["ratelimit-reset"]),
    )


def assert_refused(response: httpx.Response) -> dict:
    assert response.status_code == 429, response.text
    retry_after = int(response.headers["retry-after"])
    assert retry_after >= 1
    body = response.json()
    assert body["data"] is None
    (error,) = body["errors"]
    assert error["extensions"] == {"code": "RATE_LIMITED", "retryAfter": retry_after}
    assert error["message"]
    return body


@pytest.fixture
def redis_settings(settings: Settings, redis_url: str) -> Settings:
    # These tests are about the per-tenant buckets; the platform-wide bucket per IP is one Redis
    # key for every test of every run on this machine (tests/test_graphql_gate.py tests it with
    # an address of its own).
    return replace(settings, redis_url=redis_url, rate_limit_ip=0)


@contextmanager
def private_redis(port: int) -> Iterator[subprocess.Popen[bytes]]:
    """A redis-server of this test's own (never the shared one on 6379), stopped on the way out."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("no redis-server binary to start a private Redis")
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    try:
        deadline = time.monotonic() + 10
        while not _redis_answers(url):
            if time.monotonic() > deadline or process.poll() is not None:
                pytest.fail("private redis-server did not start")
            time.sleep(0.05)
        yield process
    finally:
        if process.poll() is None:
            process.terminate()
            process.wait(timeout=10)


# --- the cost of a document ----------------------------------------------------------------


def test_document_cost_follows_page_sizes() -> None:
    assert document_cost(parse(SMALL)) == 1
    assert document_nodes(parse(BIG)) == 500 and document_cost(parse(BIG)) == 5
    nested = parse("{ a(first: 10) { b(first: 20) { c } } }")
    assert document_nodes(nested) == 10 + 10 * 20
    assert document_cost(nested) == 2
    with_fragment = parse("query { a(first: 50) { ...F } } fragment F on A { b(first: 4) { c } }")
    assert document_nodes(with_fragment) == 50 + 50 * 4  # a fragment counts where it is spread
    variables = parse("query Q($n: Int = 30) { a(first: $n) { b } }")
    assert document_nodes(variables) == 100  # unknown (validation): assumed at the page cap
    assert document_nodes(variables, {}) == 30  # the declared default
    assert document_nodes(variables, {"n": 250}) == 250
    two = parse("query A { a(first: 100) { x } } query B { b(first: 400) { x } }")
    assert document_nodes(two, operation_name="A") == 100 and document_nodes(two) == 400


async def test_local_store_keeps_memory_bounded() -> None:
    now = [0.0]
    store = LocalStore(max_keys=100, clock=lambda: now[0])
    for i in range(1_000):
        assert (await store.hit(f"k{i}", 1, 5, 60_000)).allowed
    assert len(store) == 100
    now[0] = 61.0
    await store.hit("fresh", 1, 5, 60_000)
    assert len(store) == 1, "expired windows are dropped"


# --- with Redis ----------------------------------------------------------------------------


async def test_limit_applies_with_decreasing_headers_then_resets(redis_settings, make_regency, redis_url):
    tenant = await make_regency()
    host = host_of(tenant.slug)
    settings = replace(redis_settings, rate_limit_public=5, rate_limit_window=3.0)
    async with running_app(settings) as (_app, client):
        seen = []
        for _ in range(5):
            response = await graphql(client, host, SMALL)
            assert response.status_code == 200 and not response.json().get("errors"), response.text
            limit, remaining, reset = limits(response)
            assert limit == 5 and 0 < reset <= 3
            seen.append(remaining)
        assert seen == [4, 3, 2, 1, 0]
        key = tenant_key(tenant.slug, "rate", "ip", LOCAL_IP)
        stored = redis.Redis.from_url(redis_url)
        assert int(stored.get(key) or 0) == 5 and 0 < stored.pttl(key) <= 3000, "counted in Redis, with a TTL"

        refused = await graphql(client, host, SMALL)
        assert_refused(refused)
        assert limits(refused)[1] == 0
        assert int(stored.get(key) or 0) == 5, "a refused request spends nothing"

        await asyncio.sleep(int(refused.headers["retry-after"]) + 0.2)
        again = await graphql(client, host, SMALL)
        assert again.status_code == 200 and limits(again)[1] == 4, "a new window"


async def test_a_big_query_costs_more_than_a_small_one(redis_settings, make_regency):
    tenant = await make_regency()
    host = host_of(tenant.slug)
    async with running_app(replace(redis_settings, rate_limit_public=100)) as (_app, client):
        small = await graphql(client, host, SMALL)
        assert limits(small)[1] == 99
        big = await graphql(client, host, BIG)
        assert big.status_code == 200 and not big.json().get("errors"), big.text
        assert limits(big)[1] == 94, "five pages of 100 cost 5 points"
        by_variable = await graphql(
            client, host, "query Q($n: Int) { a: publicComplaints(first: $n) { edges { cursor } } }", n=100
        )
        assert by_variable.status_code == 200 and limits(by_variable)[1] == 93


async def test_limit_is_shared_by_two_app_instances_on_one_redis(redis_settings, make_regency):
    tenant = await make_regency()
    host = host_of(tenant.slug)
    settings = replace(redis_settings, rate_limit_public=6)
    async with running_app(settings) as (_a, first), running_app(settings) as (_b, second):
        remaining = []
        for i in range(6):
            response = await graphql((first, second)[i % 2], host, SMALL)
            assert response.status_code == 200, response.text
            remaining.append(limits(response)[1])
        assert remaining == [5, 4, 3, 2, 1, 0], "one bucket for both processes"
        assert_refused(await graphql(first, host, SMALL))
        assert_refused(await graphql(second, host, SMALL))


async def test_buckets_are_per_tenant_and_per_ip(redis_settings, make_regency):
    a, b = await make_regency(), await make_regency()
    async with running_app(replace(redis_settings, rate_limit_public=3)) as (app, client):
        for _ in range(3):
            assert (await graphql(client, host_of(a.slug), SMALL)).status_code == 200
        assert_refused(await graphql(client, host_of(a.slug), SMALL))
        spoofed = await client.post(
            "/graphql",
            json={"query": SMALL},
            headers={"host": host_of(a.slug), "x-forwarded-for": "203.0.113.9"},
        )
        assert_refused(spoofed)  # X-Forwarded-For is not the caller's address

        other_tenant = await graphql(client, host_of(b.slug), SMALL)
        assert other_tenant.status_code == 200 and limits(other_tenant)[1] == 2

        transport = httpx.ASGITransport(app=app, client=("198.51.100.7", 4000))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as elsewhere:
            other_ip = await graphql(elsewhere, host_of(a.slug), SMALL)
        assert other_ip.status_code == 200 and limits(other_ip)[1] == 2


async def test_a_client_spends_from_its_own_bucket(redis_settings, db, make_regency):
    tenant = await make_regency()
    host = host_of(tenant.slug)
    settings = replace(redis_settings, rate_limit_public=50, rate_limit_client=4)
    async with running_app(settings) as (app, client):
        token = await machine_token(db, app, host, tenant=tenant.slug, scopes="complaints:read")
        headers = {"host": host, "authorization": f"Bearer {token}"}
        # Two root fields: 2 points (each root field costs at least one, issue 9 item 7).
        query = {"query": "{ viewer { name } complaints(first: 100) { edges { cursor } } }"}
        for expected in (2, 0):
            response = await client.post("/graphql", json=query, headers=headers)
            assert response.status_code == 200 and not response.json().get("errors"), response.text
            assert limits(response)[:2] == (4, expected)
        assert_refused(await client.post("/graphql", json=query, headers=headers))
        public = await graphql(client, host, SMALL)
        assert public.status_code == 200 and limits(public)[:2] == (50, 49), "the public bucket is apart"


async def test_malformed_requests_are_charged_too(redis_settings, make_regency):
    tenant = await make_regency()
    host = host_of(tenant.slug)
    async with running_app(replace(redis_settings, rate_limit_public=2)) as (_app, client):
        bad = await client.post(
            "/graphql", content=b"{not json", headers={"host": host, "content-type": "application/json"}
        )
        assert bad.status_code == 400 and limits(bad)[1] == 1
        parse_error = await graphql(client, host, "{ tenant { ")
        assert parse_error.status_code == 200 and limits(parse_error)[1] == 0
        assert_refused(
            await client.post(
                "/graphql", content=b"{", headers={"host": host, "content-type": "application/json"}
            )
        )


# --- without Redis ---------------------------------------------------------------------------


async def test_without_redis_the_same_policy_applies_per_process(settings, make_regency):
    assert settings.redis_url is None
    tenant = await make_regency()
    host = host_of(tenant.slug)
    local = replace(settings, rate_limit_public=3)
    async with running_app(local) as (_a, first), running_app(local) as (_b, second):
        assert [limits(await graphql(first, host, SMALL))[1] for _ in range(3)] == [2, 1, 0]
        assert_refused(await graphql(first, host, SMALL))
        other_process = await graphql(second, host, SMALL)
        assert other_process.status_code == 200 and limits(other_process)[1] == 2, "counted per process"


async def test_token_endpoint_is_limited_per_ip(settings, national):
    async with running_app(replace(settings, rate_limit_public=2)) as (_app, client):
        form = {"grant_type": "client_credentials", "client_id": "nobody", "client_secret": "guess"}
        for remaining in (1, 0):
            answer = await client.post("/oauth/token", data=form, headers={"host": BASE_DOMAIN})
            assert answer.status_code in (400, 401) and limits(answer)[1] == remaining, answer.text
        refused = await client.post("/oauth/token", data=form, headers={"host": BASE_DOMAIN})
        assert refused.status_code == 429 and int(refused.headers["retry-after"]) >= 1
        assert refused.json()["error"] == "rate_limited" and refused.json()["error_description"]
        assert platform_key("rate", "oauth-token", LOCAL_IP).startswith("lapor:p:")


async def test_zero_turns_a_limit_off(settings, make_regency):
    tenant = await make_regency()
    async with running_app(replace(settings, rate_limit_public=0, rate_limit_ip=0)) as (_app, client):
        response = await graphql(client, host_of(tenant.slug), SMALL)
        assert response.status_code == 200 and "ratelimit-limit" not in response.headers
    # The per-tenant limit off leaves the platform-wide one per IP.
    async with running_app(replace(settings, rate_limit_public=0, rate_limit_ip=7)) as (_app, client):
        response = await graphql(client, host_of(tenant.slug), SMALL)
        assert response.status_code == 200 and limits(response)[:2] == (7, 6)


# --- Redis dies mid-run ----------------------------------------------------------------------


async def test_redis_stopped_mid_run_falls_back_then_recovers(settings, make_regency, caplog):
    tenant = await make_regency()
    redis_port = _free_port()
    host = host_of(tenant.slug)
    url = f"redis://127.0.0.1:{redis_port}/0"
    key = tenant_key(tenant.slug, "rate", "ip", LOCAL_IP)
    caplog.set_level(logging.WARNING, logger="lapor.platform.ratelimit")
    async with AsyncExitStack() as stack:
        server = stack.enter_context(private_redis(redis_port))
        _app, client = await stack.enter_async_context(
            running_app(replace(settings, redis_url=url, rate_limit_public=20))
        )
        limiter: RateLimiter = _app.state.services.ratelimiter
        limiter.redis_retry_interval = 0.5
        for expected in (19, 18, 17):
            response = await graphql(client, host, SMALL)
            assert response.status_code == 200 and limits(response)[1] == expected
        assert int(redis.Redis.from_url(url).get(key)) == 3

        server.kill()
        server.wait(timeout=10)
        statuses, remaining = [], []
        for _ in range(25):
            response = await graphql(client, host, SMALL)
            statuses.append(response.status_code)
            remaining.append(limits(response)[1])
            assert "Traceback" not in response.text
        # Every request answered: the local stand-in counts a fresh bucket under the same policy.
        assert statuses == [200] * 20 + [429] * 5, statuses
        assert remaining[:20] == list(range(19, -1, -1))
        warnings = [r for r in caplog.records if "Redis unavailable for rate limits" in r.getMessage()]
        assert len(warnings) == 1, "one warning, not one per request"

        stack.enter_context(private_redis(redis_port))  # same port, empty
        deadline = time.monotonic() + 10
        while True:
            response = await graphql(client, host, SMALL)
            assert response.status_code in (200, 429)
            if response.status_code == 200:
                break
            assert time.monotonic() < deadline, "the limiter did not return to Redis"
            await asyncio.sleep(0.2)
        assert limits(response)[1] == 19, "counted in the restarted (empty) Redis"
        assert int(redis.Redis.from_url(url).get(key)) == 1
        assert any("counted in Redis again" in r.getMessage() for r in caplog.records)
