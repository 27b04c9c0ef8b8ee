"""Issue 9 item 11: unknown ``Host`` headers. The attack: each distinct unknown host cost a registry
query, skipped every limiter, and 20,000 of them cleared the whole host cache, known tenants
included. Here, on real PostgreSQL, through the real ASGI app:

* 20,000 distinct unknown hosts from one IP cost at most ``LAPOR_RATE_LIMIT_UNKNOWN_HOST``
  registry queries (then 429 with ``Retry-After``, without a query), and the known tenant's
  entry is still cached afterwards: its next request costs no registry query, and is served;
* the caches are LRU with bounds: unknown hosts only push out unknown hosts, known tenants only
  the least recently used known tenant, never the whole cache.
"""

from __future__ import annotations

import asyncio
import collections
import json
from dataclasses import replace

from lapor.tenants.directory import TenantDirectory
from tests.apps import graphql, running_app
from tests.conftest import BASE_DOMAIN
from tests.sql_counter import count_statements

FLOOD = 20_000


async def _asgi_get(app, host: str, ip: str) -> tuple[int, dict[str, str], bytes]:
    """One request straight into the ASGI app (no HTTP client: 20,000 of them stay fast)."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/graphql",
        "raw_path": b"/graphql",
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", host.encode()), (b"content-type", b"application/json")],
        "client": (ip, 40000),
        "server": ("127.0.0.1", 8000),
    }
    sent: list[dict] = []

    async def receive() -> dict:
        return {"type": "http.request", "body": b'{"query": "{ tenant { slug } }"}', "more_body": False}

    async def send(message: dict) -> None:
        sent.append(message)

    await app(scope, receive, send)
    start = next(m for m in sent if m["type"] == "http.response.start")
    headers = {k.decode(): v.decode() for k, v in start.get("headers", [])}
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return start["status"], headers, body


async def test_twenty_thousand_unknown_hosts_cost_a_bounded_number_of_queries(settings, make_regency) -> None:
    known = await make_regency()
    known_host = f"{known.slug}.{BASE_DOMAIN}"
    attacker = "198.51.100.23"
    budget = getattr(settings, "rate_limit_unknown_host", 60)  # (60 by default; the attacked code had none)
    assert 0 < budget < 1_000
    async with running_app(settings) as (app, client):
        response = await graphql(client, known_host, "{ tenant { slug } }")
        assert response.json() == {"data": {"tenant": {"slug": known.slug}}}
        engine = app.state.services.db.public
        statuses: collections.Counter[int] = collections.Counter()
        with count_statements(engine) as statements:
            for i in range(FLOOD):
                status, headers, body = await _asgi_get(app, f"h{i}.penyerang.example", attacker)
                statuses[status] += 1
                if status == 429:
                    assert int(headers["retry-after"]) >= 1
                    assert json.loads(body)["error"]["code"] == "RATE_LIMITED"
        assert statuses == {404: budget, 429: FLOOD - budget}, statuses
        assert len(statements) <= budget, f"{len(statements)} registry queries for {FLOOD} unknown hosts"

        # The known tenant kept its cache entry, and the flooding IP is still served on it.
        with count_statements(engine) as statements:
            status, _headers, body = await _asgi_get(app, known_host, attacker)
        assert (status, json.loads(body)) == (200, {"data": {"tenant": {"slug": known.slug}}})
        assert statements == [], f"the known tenant's entry was evicted: {statements}"
        # Another IP's unknown host is its own budget's business: still 404, not 429.
        status, _headers, body = await _asgi_get(app, "lain.penyerang.example", "198.51.100.24")
        assert (status, json.loads(body)["error"]["code"]) == (404, "UNKNOWN_HOST")


async def test_unknown_hosts_push_out_only_unknown_hosts(db, make_regency) -> None:
    known = await make_regency()
    known_host = f"{known.slug}.{BASE_DOMAIN}"
    directory = TenantDirectory(db, BASE_DOMAIN, max_unknown=50)
    assert await directory.resolve(known_host) == known
    with count_statements(db.public) as statements:
        for i in range(200):
            assert await directory.resolve(f"u{i}.penyerang.example") is None
    assert len(statements) == 200 and directory.unknown_count == 50 and len(directory) == 1
    with count_statements(db.public) as statements:
        assert await directory.resolve(known_host) == known
        assert await directory.resolve("u199.penyerang.example") is None  # recent: still remembered
    assert statements == []
    with count_statements(db.public) as statements:
        assert await directory.resolve("u0.penyerang.example") is None  # oldest: pushed out
    assert len(statements) == 1


async def test_known_hosts_are_evicted_least_recently_used_first(db, make_regency) -> None:
    a, b, c = [await make_regency() for _ in range(3)]
    hosts = {t.slug: f"{t.slug}.{BASE_DOMAIN}" for t in (a, b, c)}
    directory = TenantDirectory(db, BASE_DOMAIN, max_hosts=2)
    for tenant in (a, b, a, c):  # a used again after b: b is the least recently used
        assert await directory.resolve(hosts[tenant.slug]) == tenant
    with count_statements(db.public) as statements:
        assert await directory.resolve(hosts[a.slug]) == a
        assert await directory.resolve(hosts[c.slug]) == c
    assert statements == [], "a bound was reached and more than the oldest entry went"
    with count_statements(db.public) as statements:
        assert await directory.resolve(hosts[b.slug]) == b
    assert len(statements) == 1


async def test_a_known_host_whose_entry_expired_is_not_charged_as_unknown(settings, make_regency) -> None:
    """An IP that spent its unknown-host budget is still served a tenant it uses after that
    tenant's cache entry expired (a lookup again, not a 429): expiry and registry outages must
    not turn known hosts into charged ones."""
    known = await make_regency()
    known_host = f"{known.slug}.{BASE_DOMAIN}"
    client_ip = "198.51.100.31"
    budget = getattr(settings, "rate_limit_unknown_host", 60)
    async with running_app(replace(settings, host_cache_ttl=0.5)) as (app, _client):
        assert (await _asgi_get(app, known_host, client_ip))[0] == 200  # never seen: 1 point
        statuses = collections.Counter(
            [(await _asgi_get(app, f"x{i}.penyerang.example", client_ip))[0] for i in range(budget + 5)]
        )
        assert statuses == {404: budget - 1, 429: 6}, statuses
        await asyncio.sleep(0.6)  # the known entry (ttl 0.5 s) has expired
        with count_statements(app.state.services.db.public) as statements:
            status, _headers, body = await _asgi_get(app, known_host, client_ip)
        assert (status, json.loads(body)) == (200, {"data": {"tenant": {"slug": known.slug}}})
        assert len(statements) == 1, statements
