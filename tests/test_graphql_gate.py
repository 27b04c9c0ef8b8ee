"""The GraphQL gate over HTTP (issue 9 items 3, 7, 8, 9, 14, 16, 17): what an operation costs,
what may travel over GET, what input reaches a resolver, what every answer looks like.

Each test replays what the outside review did to d83651b, through the real app on real
PostgreSQL (and Redis where a limit is shared); the websocket side and uvicorn's access log are
in ``tests/test_websocket_gate.py``. Requests come from an address of their own per test, so the
platform-wide bucket per IP (one Redis key per address) is not shared with other tests.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import itertools
import json
import logging
import re
import time
from contextlib import asynccontextmanager
from dataclasses import fields, replace
from importlib import resources
from pathlib import Path

import httpx
import psycopg
import pytest
import sqlalchemy as sa
from graphql import get_introspection_query, parse

from lapor.auth.roles import Role
from lapor.schema import schema
from lapor.schema.common import global_id
from lapor.settings import Settings
from lapor.tenants.context import tenant_transaction
from lapor.tenants.directory import TenantDirectory
from lapor.tenants.enums import TransferKind
from lapor.tenants.tables import audit_event
from lapor.tenants.transfers.service import TransferService
from tests.apps import running_app
from tests.complaint_helpers import ADMIN, sample
from tests.conftest import BASE_DOMAIN
from tests.graphql_client import codes
from tests.oauth_helpers import machine_token, user_token

_addresses = itertools.count(1)


def fresh_ip() -> str:
    """198.18.0.0/15 (RFC 2544, benchmarking): never a real caller, one per use."""
    n = next(_addresses) + (int(time.time() * 1000) % 60_000) * 4
    return f"198.18.{(n >> 8) % 256}.{n % 256}"


@asynccontextmanager
async def app_at(settings: Settings, ip: str | None = None):
    """The real app and an HTTP client whose requests come from ``ip``."""
    async with running_app(settings) as (app, _client):
        transport = httpx.ASGITransport(app=app, client=(ip or fresh_ip(), 40_000))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield app, client


def host_of(slug: str) -> str:
    return f"{slug}.{BASE_DOMAIN}"


async def post(client: httpx.AsyncClient, host: str, query: str, token: str | None = None, **variables):
    headers = {"host": host}
    if token:
        headers["authorization"] = f"Bearer {token}"
    return await client.post("/graphql", json={"query": query, "variables": variables}, headers=headers)


def remaining(response: httpx.Response) -> int:
    return int(response.headers["ratelimit-remaining"])


def no_traceback_logged(caplog: pytest.LogCaptureFixture) -> None:
    bugs = [r for r in caplog.records if r.exc_info or "unexpected error" in r.getMessage()]
    assert not bugs, [r.getMessage() for r in bugs]


COMPLAINT = {
    "title": "Sampah menumpuk di pasar",
    "body": "Sampah tidak diangkut sejak seminggu di Pasar Oeba, baunya menyengat.",
    "categoryCode": "INFRASTRUKTUR",
    "reporter": {"name": "Yosef Tefa", "phone": "+6281311112222"},
}
SUBMIT = "mutation($i: SubmitComplaintInput!) { submitComplaint(input: $i) { trackingId accessCode errors { code } } }"


def tuned(settings: Settings, **overrides: object) -> Settings:
    """``settings`` with the overrides this version of ``Settings`` knows: the same tests then
    run against d83651b (which had no such settings) and fail on the attack itself."""
    known = {f.name for f in fields(Settings)}
    return replace(settings, **{k: v for k, v in overrides.items() if k in known})


@pytest.fixture
def redis_settings(settings: Settings, redis_url: str) -> Settings:
    return replace(settings, redis_url=redis_url)


# --- item 7: the cost model --------------------------------------------------------------------


FULL_INTROSPECTION = get_introspection_query(descriptions=True)
_FRAGMENTS = FULL_INTROSPECTION[FULL_INTROSPECTION.index("fragment FullType") :]
THIRTY_INTROSPECTIONS = (
    "query {"
    + " ".join(
        f"s{i}: __schema {{ queryType {{ name }} types {{ ...FullType }} directives {{ name args {{ ...InputValue }} }} }}"
        for i in range(30)
    )
    + "}\n"
    + _FRAGMENTS
)


def test_introspection_is_priced_by_what_it_returns() -> None:
    """The estimate follows the live schema: within 5 % of the objects a full introspection
    returns; 30 aliases cost 30 times one."""
    from lapor.schema.limits import IntrospectionSizes, document_cost

    sizes = IntrospectionSizes.of(schema._schema)
    result = asyncio.run(schema.execute(FULL_INTROSPECTION))
    assert not result.errors

    def objects(value: object) -> int:
        if isinstance(value, dict):
            return 1 + sum(objects(v) for v in value.values())
        if isinstance(value, list):
            return sum(objects(v) for v in value)
        return 0

    returned = objects(result.data)
    one = document_cost(parse(FULL_INTROSPECTION), sizes=sizes)
    assert abs(one * 100 - returned) <= 0.05 * returned + 50, (one, returned)
    assert one >= 10
    assert document_cost(parse(THIRTY_INTROSPECTIONS), sizes=sizes) >= 30 * (one - 1)


async def test_thirty_aliased_introspections_cost_more_than_a_minute_of_points(
    redis_settings, make_regency
) -> None:
    """The review sent 30 aliased full-schema introspections (1 MB, 0.7 s CPU) for 1 point. Now
    one introspection costs what it returns (at least 10 points), and 30 cost more than the
    caller's whole minute: such a request runs only on a fresh window, takes all of it, and
    nothing else runs until the window ends."""
    first, second = await make_regency(), await make_regency()
    async with app_at(tuned(redis_settings, rate_limit_public=300)) as (_app, client):
        single = await post(client, host_of(first.slug), FULL_INTROSPECTION)
        assert single.status_code == 200 and not single.json().get("errors")
        assert 300 - remaining(single) >= 10, single.headers
        thirty = await post(client, host_of(second.slug), THIRTY_INTROSPECTIONS)
        assert thirty.status_code == 200 and not thirty.json().get("errors"), thirty.text[:300]
        assert remaining(thirty) == 0, "charged as the whole limit"
        after = await post(client, host_of(second.slug), "{ tenant { slug } }")
        assert after.status_code == 429 and codes(after.json()) == ["RATE_LIMITED"]
        again = await post(client, host_of(first.slug), THIRTY_INTROSPECTIONS)
        assert again.status_code == 429, "a window already spent from cannot pay for it"


async def test_each_aliased_submission_costs_ten_points(redis_settings, make_regency, db) -> None:
    """The review filed 10 complaints per request with 10 aliases, for 1 point each request."""
    tenant = await make_regency()
    host = host_of(tenant.slug)
    ten = (
        "mutation($i: SubmitComplaintInput!) {"
        + " ".join(f"s{i}: submitComplaint(input: $i) {{ trackingId errors {{ code }} }}" for i in range(10))
        + "}"
    )
    async with app_at(tuned(redis_settings, rate_limit_public=250)) as (_app, client):
        response = await post(client, host, ten, i=COMPLAINT)
        body = response.json()
        assert response.status_code == 200 and not body.get("errors"), body
        assert all(body["data"][f"s{i}"]["errors"] == [] for i in range(10))
        assert remaining(response) == 250 - 100
        # Two more such requests would be 300 points: the second is refused and files nothing.
        assert (await post(client, host, ten, i=COMPLAINT)).status_code == 200
        refused = await post(client, host, ten, i=COMPLAINT)
        assert refused.status_code == 429 and codes(refused.json()) == ["RATE_LIMITED"]
    async with tenant_transaction(db, tenant) as conn:
        filed = await conn.scalar(sa.text("SELECT count(*) FROM complaint"))
    assert filed == 20


async def test_every_root_field_costs_at_least_a_point_each_alias(redis_settings, make_regency) -> None:
    tenant = await make_regency()
    host = host_of(tenant.slug)
    thirty = "{" + " ".join(f"t{i}: tenant {{ slug }}" for i in range(30)) + "}"
    async with app_at(tuned(redis_settings, rate_limit_public=100)) as (_app, client):
        response = await post(client, host, thirty)
        assert response.status_code == 200 and not response.json().get("errors")
        assert remaining(response) == 100 - 30
        merged = await post(client, host, "{ tenant { slug } tenant { name } }")  # one response key
        assert remaining(merged) == 100 - 30 - 1


async def test_one_ip_cannot_multiply_its_budget_across_tenant_hosts(redis_settings, make_regency) -> None:
    """The public bucket was per IP *and tenant*: one IP had 300 points a minute on each of 700
    hosts. The platform-wide bucket per IP now bounds the sum."""
    a, b = await make_regency(), await make_regency()
    settings = tuned(redis_settings, rate_limit_public=5, rate_limit_ip=8)
    async with app_at(settings) as (_app, client):
        for _ in range(5):
            assert (await post(client, host_of(a.slug), "{ tenant { slug } }")).status_code == 200
        for left in (2, 1, 0):
            response = await post(client, host_of(b.slug), "{ tenant { slug } }")
            assert response.status_code == 200 and remaining(response) == left
            assert int(response.headers["ratelimit-limit"]) == 8, "the tighter bucket is shown"
        refused = await post(client, host_of(b.slug), "{ tenant { slug } }")
        assert refused.status_code == 429 and codes(refused.json()) == ["RATE_LIMITED"]
    async with app_at(settings) as (_app, elsewhere):  # another address has its own
        assert (await post(elsewhere, host_of(b.slug), "{ tenant { slug } }")).status_code == 200


async def test_a_search_costs_five_times_the_same_page(redis_settings, make_regency) -> None:
    tenant = await make_regency()
    host = host_of(tenant.slug)
    page = "query($f: PublicComplaintFilter) { publicComplaints(first: 10, filter: $f) { edges { cursor } } }"
    async with app_at(tuned(redis_settings, rate_limit_public=100)) as (_app, client):
        plain = await post(client, host, page, f={})
        assert plain.status_code == 200 and not plain.json().get("errors") and remaining(plain) == 99
        searched = await post(client, host, page, f={"search": "sampah"})
        assert searched.status_code == 200 and not searched.json().get("errors"), searched.text
        assert remaining(searched) == 99 - 5
        literal = await post(
            client, host, '{ publicComplaints(first: 100, filter: {search: "sampah"}) { edges { cursor } } }'
        )
        assert remaining(literal) == 94 - 5


async def _waiting_on_lock(url: str, count: int) -> None:
    """Until ``count`` backends wait for a lock (read from a connection of its own: inside a
    transaction, pg_stat_activity is one snapshot)."""
    deadline = time.monotonic() + 15
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as watcher:
        while True:
            cursor = await watcher.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                "AND datname = current_database()"
            )
            waiting = (await cursor.fetchone())[0]
            if waiting >= count:
                return
            assert time.monotonic() < deadline, f"{waiting} searches waiting, expected {count}"
            await asyncio.sleep(0.05)


async def test_concurrent_searches_per_caller_are_capped(redis_settings, make_regency, database_url) -> None:
    """Eight concurrent public searches held the database 25 to 31 s each. Two searches of one
    caller are held here (the complaint table locked); the third answers 429 at once instead of
    joining them, and once they end the caller may search again."""
    tenant = await make_regency()
    host = host_of(tenant.slug)
    search = '{ publicComplaints(first: 20, filter: {search: "sampah"}) { edges { cursor } } }'
    plain_url = database_url.replace("postgresql+psycopg://", "postgresql://")
    async with app_at(tuned(redis_settings, max_concurrent_searches=2)) as (_app, client):
        admin = await psycopg.AsyncConnection.connect(plain_url, autocommit=False)
        try:
            await admin.execute(f'LOCK TABLE "{tenant.schema_name}".complaint IN ACCESS EXCLUSIVE MODE')
            held = [asyncio.create_task(post(client, host, search)) for _ in range(2)]
            pending: asyncio.Task[httpx.Response] | None = None
            await _waiting_on_lock(plain_url, 2)
            pending = asyncio.create_task(post(client, host, search))
            await asyncio.wait({pending}, timeout=5)
            assert pending.done(), "the third search waits with the others"
            third = pending.result()
            assert third.status_code == 429, third.text
            assert codes(third.json()) == ["TOO_MANY_CONCURRENT_REQUESTS"]
            assert third.headers["retry-after"] == "1"
            # Not a search: not capped.
            assert (await post(client, host, "{ tenant { slug } }")).status_code == 200
        finally:
            await admin.rollback()
            await admin.close()
            if pending is not None and not pending.done():
                await pending
        for answer in await asyncio.gather(*held):
            assert answer.status_code == 200 and not answer.json().get("errors"), answer.text
        after = await post(client, host, search)
        assert after.status_code == 200 and not after.json().get("errors")


# --- item 8: NUL bytes and integers out of range -----------------------------------------------

BIG = 99_999_999_999_999_999_999  # above bigint (9223372036854775807)


@pytest.mark.parametrize(
    ("name", "query", "variables", "field"),
    [
        ("search literal", '{ publicComplaints(filter: {search: "sam\\u0000pah"}) { edges { cursor } } }', {},
         "filter.search"),
        ("search variable", "query($s: String) { publicComplaints(filter: {search: $s}) { edges { cursor } } }",
         {"s": "sam\x00pah"}, "s"),
        ("trackingId", 'query($t: String!) { trackComplaint(trackingId: $t, accessCode: "ABCD-EFGH-JKLM") { status } }',
         {"t": "KAB-2611-000001\x00"}, "t"),
        ("title", SUBMIT, {"i": {**COMPLAINT, "title": "Jalan\x00rusak"}}, "i.title"),
        ("body", SUBMIT, {"i": {**COMPLAINT, "body": "Lubang besar\x00 di jalan, berbahaya sekali."}}, "i.body"),
        ("lone surrogate", SUBMIT, {"i": {**COMPLAINT, "title": "Jalan \ud800 rusak"}}, "i.title"),
        ("category id", "query($c: [ID!]) { publicComplaints(filter: {categoryId: $c}) { edges { cursor } } }",
         {"c": [global_id("Category", BIG)]}, "c.0"),
        ("category id literal", f'{{ publicComplaints(filter: {{categoryId: ["{global_id("Category", BIG)}"]}}) {{ edges {{ cursor }} }} }}',
         {}, "filter.categoryId"),
        ("first literal", f"{{ publicComplaints(first: {BIG}) {{ edges {{ cursor }} }} }}", {}, "first"),
        ("first variable", "query($n: Int) { publicComplaints(first: $n) { edges { cursor } } }", {"n": BIG}, "n"),
    ],
)  # fmt: skip
async def test_nul_bytes_and_huge_integers_are_invalid_input(
    settings, make_regency, caplog, name, query, variables, field
) -> None:
    """Each answered INTERNAL_SERVER_ERROR with a 60-line traceback in the log (the database
    driver refusing the value); now INVALID_INPUT naming where, and nothing logged."""
    caplog.set_level(logging.INFO)
    tenant = await make_regency()
    async with app_at(settings) as (_app, client):
        response = await client.post(
            "/graphql",
            content=json.dumps({"query": query, "variables": variables}),
            headers={"host": host_of(tenant.slug), "content-type": "application/json"},
        )
    body = response.json()
    assert response.status_code == 200, response.text
    assert codes(body) == ["INVALID_INPUT"], body
    assert body["errors"][0]["extensions"]["field"] == field
    assert "Traceback" not in response.text
    no_traceback_logged(caplog)


async def test_an_id_above_bigint_with_a_staff_token_is_invalid_input(settings, db, make_regency, caplog) -> None:
    caplog.set_level(logging.INFO)
    tenant = await make_regency()
    host = host_of(tenant.slug)
    by_unit = "query($u: [ID!]) { complaints(filter: {unitId: $u}) { edges { cursor } } }"
    by_category = "query($f: ComplaintFilter) { complaints(filter: $f) { edges { cursor } } }"
    assign = "mutation($t: String!, $u: ID!) { assignComplaint(input: {trackingId: $t, unitId: $u}) { errors { code } } }"
    async with app_at(settings) as (app, client):
        token = await machine_token(db, app, host, tenant=tenant.slug, scopes="complaints:read complaints:triage")
        for query, variables in (
            (by_unit, {"u": [global_id("Unit", BIG)]}),  # d83651b: INTERNAL_SERVER_ERROR
            (by_category, {"f": {"categoryId": [global_id("Category", BIG)]}}),  # d83651b: the same
            ("query($id: ID!) { node(id: $id) { id } }", {"id": global_id("Complaint", BIG)}),
            (assign, {"t": "X-1", "u": global_id("Unit", BIG)}),
            (f'{{ node(id: "{global_id("Complaint", BIG)}") {{ id }} }}', {}),
        ):
            body = (await post(client, host, query, token, **variables)).json()
            assert codes(body) == ["INVALID_INPUT"], body
    no_traceback_logged(caplog)


# --- item 9: no secret over GET ----------------------------------------------------------------


async def test_get_refuses_operations_that_carry_a_secret(settings, make_regency, complaints) -> None:
    """``trackComplaint`` with GET put the access code in the URL (and so in the access log); a
    mutation over GET answered 400 text/plain. Both now answer a coded JSON error; a plain
    query still works over GET."""
    tenant = await make_regency()
    host = host_of(tenant.slug)
    submitted = await complaints.submit(tenant, sample())
    track = (
        f'{{ trackComplaint(trackingId: "{submitted.complaint.tracking_id}", '
        f'accessCode: "{submitted.access_code}") {{ status }} }}'
    )
    by_variable = "query($t: String!, $c: String!) { trackComplaint(trackingId: $t, accessCode: $c) { status } }"
    async with app_at(settings) as (_app, client):
        cases = [
            {"query": track},
            {"query": by_variable, "variables": json.dumps({"t": "X", "c": submitted.access_code})},
            {"query": f'mutation {{ completeComplaint(input: {{trackingId: "X", accessCode: "{submitted.access_code}", information: "x"}}) {{ errors {{ code }} }} }}'},
            {"query": "mutation { __typename }"},
        ]
        for params in cases:
            response = await client.get("/graphql", params=params, headers={"host": host})
            assert response.status_code == 400, response.text
            assert response.headers["content-type"].startswith("application/json")
            assert codes(response.json()) == ["BAD_REQUEST"], response.text
            assert response.headers["allow"] == "POST"
            assert "ratelimit-remaining" in response.headers
        fine = await client.get("/graphql", params={"query": "{ tenant { slug } }"}, headers={"host": host})
        assert fine.status_code == 200 and fine.json()["data"]["tenant"]["slug"] == tenant.slug
        posted = await post(client, host, track)
        assert posted.json()["data"]["trackComplaint"]["status"] == "SUBMITTED"


# --- item 14: cross-tenant reads of the transfer ledger are audited ----------------------------


async def _audits(db, tenant, action: str) -> list[sa.Row]:
    async with tenant_transaction(db, tenant) as conn:
        return list(
            await conn.execute(sa.select(audit_event).where(audit_event.c.action == action).order_by(audit_event.c.id))
        )


async def test_ombudsman_reads_of_transfers_are_audited_once_per_read(
    settings, db, complaints, make_regency, national
) -> None:
    """The Ombudsman read any tenant's ``transfers`` (tracking ids, the agencies a complaint went
    between) and nothing was written; now each read leaves exactly one row naming what it saw.
    The tenant's own staff reading its ledger leave none."""
    source, target = await make_regency(), await make_regency()
    transfers = TransferService(db, complaints, TenantDirectory(db, BASE_DOMAIN))
    moved = await complaints.submit(source, sample())
    tid = moved.complaint.tracking_id
    await transfers.transfer(source, ADMIN, tid, target.slug, TransferKind.FORWARD, "Bukan wewenang kami")
    host = host_of(source.slug)
    query = "{ transfers(direction: OUTGOING) { edges { node { trackingId } } } }"
    async with app_at(settings) as (app, client):
        ombudsman = await user_token(
            db, app, client, host=BASE_DOMAIN, tenant=national.slug, role=Role.OMBUDSMAN, national=True,
            scopes="national:read stats:read complaints:read",
        )  # fmt: skip
        own = await machine_token(db, app, host, tenant=source.slug, scopes="complaints:read")
        before = len(await _audits(db, source, "transfer.list"))
        for _ in range(2):
            body = (await post(client, host, query, ombudsman)).json()
            assert not body.get("errors"), body
            assert [e["node"]["trackingId"] for e in body["data"]["transfers"]["edges"]] == [tid]
        assert not (await post(client, host, query, own)).json().get("errors")
    rows = await _audits(db, source, "transfer.list")
    assert len(rows) - before == 2, "exactly one row per Ombudsman read, none for the tenant's own"
    assert rows[-1].details["tracking_ids"] == [tid] and rows[-1].details["direction"] == "OUTGOING"
    assert rows[-1].entity == "transfer"


# --- item 16: GraphiQL from the package --------------------------------------------------------


def _pinned_digests() -> dict[str, str]:
    """The SRI digests strawberry pins in its own GraphiQL page, by the file name we vendor."""
    page = resources.files("strawberry").joinpath("static/graphiql.html").read_text()
    found = dict(re.findall(r'(?:src|href)="https://unpkg\.com/([^"]+)"\s+integrity="(sha384-[^"]+)"', page))
    names = {
        "react@18.2.0/umd/react.production.min.js": "react.production.min.js",
        "react-dom@18.2.0/umd/react-dom.production.min.js": "react-dom.production.min.js",
        "graphiql@3.8.3/graphiql.min.js": "graphiql.min.js",
        "graphiql@3.8.3/graphiql.min.css": "graphiql.min.css",
        "@graphiql/plugin-explorer@1.0.2/dist/index.umd.js": "plugin-explorer.umd.js",
        "@graphiql/plugin-explorer@1.0.2/dist/style.css": "plugin-explorer.css",
    }
    return {ours: found[theirs] for theirs, ours in names.items()}


async def test_graphiql_comes_from_the_package_under_its_own_csp(settings, make_regency) -> None:
    """GraphiQL loaded React and GraphiQL from unpkg.com, with no CSP and no frame protection.
    Now every script and stylesheet comes from this host, byte for byte the releases strawberry
    pins, and the page may not be framed, sniffed or stored."""
    tenant = await make_regency()
    host = host_of(tenant.slug)
    assert settings.graphiql_enabled, "a *.test base domain is development: on by default"
    async with app_at(settings) as (_app, client):
        page = await client.get("/graphql", headers={"host": host, "accept": "text/html"})
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        csp = page.headers["content-security-policy"]
        assert "script-src 'self';" in csp and "frame-ancestors 'none'" in csp and "default-src 'none'" in csp
        assert not re.search(r"https?:|\*", csp), csp
        assert page.headers["x-frame-options"] == "DENY"
        assert page.headers["x-content-type-options"] == "nosniff"
        assert page.headers["cache-control"] == "no-store"
        assert "ratelimit-remaining" in page.headers
        assert "<script>" not in page.text and "unpkg" not in page.text and "https://" not in page.text
        referenced = re.findall(r'(?:src|href)="\?asset=([^"]+)"', page.text)
        pinned = _pinned_digests()
        assert set(pinned) <= set(referenced)
        for name in referenced:
            served = await client.get("/graphql", params={"asset": name}, headers={"host": host, "accept": "*/*"})
            assert served.status_code == 200, name
            assert served.headers["content-type"].split(";")[0] in ("text/javascript", "text/css"), name
            assert served.headers["x-content-type-options"] == "nosniff"
            if name in pinned:
                digest = "sha384-" + base64.b64encode(hashlib.sha384(served.content).digest()).decode()
                assert digest == pinned[name], name
        unknown = await client.get("/graphql", params={"asset": "../../settings.py"}, headers={"host": host})
        assert unknown.status_code == 404 and codes(unknown.json()) == ["NOT_FOUND"]


async def test_graphiql_is_off_unless_in_development_or_asked_for(settings, make_regency) -> None:
    assert not Settings(base_domain="lapor.go.id").graphiql_enabled
    assert Settings(base_domain="localhost").graphiql_enabled
    assert Settings.from_env({"LAPOR_BASE_DOMAIN": "lapor.go.id", "LAPOR_GRAPHIQL": "1"}).graphiql_enabled
    assert not Settings.from_env({"LAPOR_BASE_DOMAIN": "localhost", "LAPOR_GRAPHIQL": "0"}).graphiql_enabled
    tenant = await make_regency()
    async with app_at(tuned(settings, graphiql=False)) as (_app, client):
        page = await client.get("/graphql", headers={"host": host_of(tenant.slug), "accept": "text/html"})
        assert page.status_code == 404 and codes(page.json()) == ["NOT_FOUND"]
        assert page.headers["content-type"].startswith("application/json")


def test_graphiql_assets_ship_in_the_wheel() -> None:
    pyproject = Path(__file__).parents[1].joinpath("pyproject.toml").read_text()
    assert '"schema/static/graphiql/*"' in pyproject
    for name in ("index.html", "page.js", "graphiql.min.js", "NOTICE.md"):
        assert resources.files("lapor.schema").joinpath("static/graphiql", name).is_file(), name


# --- item 17: every /graphql answer is coded ----------------------------------------------------


async def test_client_mistakes_are_coded_and_never_logged_as_bugs(settings, make_regency, caplog) -> None:
    """A third-party client suite got 400 text/plain for malformed JSON and a mutation over GET,
    and INTERNAL_SERVER_ERROR with a logged traceback for its own variable mistakes."""
    caplog.set_level(logging.INFO)
    tenant = await make_regency()
    host = host_of(tenant.slug)
    transfers = "query($d: TransferDirection!) { transfers(direction: $d) { edges { cursor } } }"
    page = "query($n: Int) { publicComplaints(first: $n) { edges { cursor } } }"
    track = "query($t: String!) { trackComplaint(trackingId: $t, accessCode: \"ABCD\") { status } }"
    async with app_at(settings) as (_app, client):
        for content in (b"{not json", b"[" * 100_000, b'{"query": "\xff\xfe"}', b'"just text"', b"null", b"5"):
            bad = await client.post("/graphql", content=content, headers={"host": host, "content-type": "application/json"})
            assert bad.status_code == 400 and codes(bad.json()) == ["BAD_REQUEST"], bad.text
            assert "ratelimit-remaining" in bad.headers and bad.headers["cache-control"] == "no-store"
        for query, variables, variable in (
            (transfers, {"d": "SIDEWAYS"}, "d"),  # unknown enum value
            (page, {"n": "sepuluh"}, "n"),  # wrong type
            (track, {}, "t"),  # missing required variable
        ):
            body = (await post(client, host, query, **variables)).json()
            (error,) = body["errors"]
            assert error["extensions"]["code"] in ("BAD_USER_INPUT", "GRAPHQL_VALIDATION_FAILED"), body
            assert error["extensions"]["variable"] == variable and f"${variable}" in error["message"]
        too_large = await client.post(
            "/graphql", json={"query": "{ tenant { slug } }", "variables": {"x": "a" * 300_000}}, headers={"host": host}
        )
        assert too_large.status_code == 413
        assert codes(too_large.json()) == ["PAYLOAD_TOO_LARGE"] and too_large.json()["data"] is None
        assert "ratelimit-remaining" in too_large.headers
        answered = await post(client, host, "{ tenant { slug } }")
        for name in ("ratelimit-limit", "ratelimit-remaining", "ratelimit-reset", "x-content-type-options"):
            assert name in answered.headers, name
    no_traceback_logged(caplog)
