"""P2 (DESIGN.md section 10): ``complaints(first: 50)`` with unit, category and last event.

Targets: SQL statements per request constant in the page size (at most 6); throughput at least
25% of a bare strawberry ``{ __typename }`` endpoint measured in the same run.

In a scratch database (the same tenants as bench/submit.py): an OAuth client of the regency is
registered and gets a bearer token from ``/oauth/token`` (client credentials); 200 complaints
are submitted through the API, four units created with ``createUnit``, 160 complaints verified
and 120 of them assigned to the units (``verifyComplaint`` + ``assignComplaint``). That runs in
this process, on the app from ``create_app`` behind ``httpx.ASGITransport``; the same
in-process app then counts the SQL statements (SQLAlchemy ``before_cursor_execute`` on the
engine) of the list query with ``first: 5`` and ``first: 50``, after one warm-up request.

Then, one after the other, two servers run as separate uvicorn processes (one worker each) and
are driven by ``--clients`` concurrent keep-alive connections for a warm-up and ``--seconds``:

(a) the bare baseline, ``bench/_bare_graphql_app.py``: strawberry's ``GraphQL`` ASGI app in a
    tiny Starlette app, sent ``{ __typename }``;
(b) the real app, sent the list query with the bearer token on the regency's host (the token
    is verified locally on every request: signature, audience, revocation).

The load generator is bench/submit.py's (same machine, same CPUs: see the note it prints).

    .venv/bin/python bench/list.py
"""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

import httpx
import uvloop
from _common import machine_line
from sqlalchemy import event
from sqlalchemy.engine import make_url
from submit import (
    LAPOR_APP,
    NEVER_LIMITED,
    SECRET_KEY,
    Load,
    background_line,
    client_note,
    graphql_sender,
    lapor_env,
    measure,
    post_request,
    provision,
    report,
    submission_bodies,
)

from lapor.auth.accounts import create_client
from lapor.platform.app import create_app
from lapor.platform.db import Database
from lapor.platform.scratch import find_admin_url, scratch_database
from lapor.settings import Settings
from lapor.tenants.records import Tenant

SCOPES = "complaints:read complaints:submit complaints:triage units:write"
LIST = """
query List($first: Int!) {
  complaints(first: $first) {
    edges { node { trackingId status unit { name } category { name } lastEvent { action at } } }
  }
}"""
UNITS = (
    ("PUPR", "Dinas Pekerjaan Umum dan Penataan Ruang"),
    ("DINKES", "Dinas Kesehatan"),
    ("DISHUB", "Dinas Perhubungan"),
    ("DLH", "Dinas Lingkungan Hidup"),
)
COMPLAINTS, VERIFIED, ASSIGNED = 200, 160, 120  # see seed()


class Api:
    """GraphQL calls on the regency's host through an in-process client; any error raises."""

    def __init__(self, client: httpx.AsyncClient, tenant: Tenant, token: str) -> None:
        self.client = client
        self.host = f"{tenant.slug}.localhost"
        self.staff = {"Authorization": f"Bearer {token}"}

    async def call(self, query: str, *, staff: bool = True, **variables: Any) -> dict[str, Any]:
        headers = {"Host": self.host, **(self.staff if staff else {})}
        response = await self.client.post(
            "/graphql", json={"query": query, "variables": variables}, headers=headers
        )
        body = response.json()
        if response.status_code != 200 or body.get("errors"):
            raise RuntimeError(f"{response.status_code}: {response.text[:500]}")
        payload = next(iter(body["data"].values()))
        if isinstance(payload, dict) and payload.get("errors"):
            raise RuntimeError(f"refused: {payload['errors']}")
        return body["data"]


async def in_batches(calls: list[Any], size: int = 8) -> list[Any]:
    results = []
    for start in range(0, len(calls), size):
        results += await asyncio.gather(*calls[start : start + size])
    return results


async def seed(api: Api) -> None:
    submit_doc = submission_bodies(1)[0]["query"]
    bodies = submission_bodies(COMPLAINTS)
    sent = await in_batches([api.call(submit_doc, staff=False, **b["variables"]) for b in bodies])
    tracking_ids = [data["submitComplaint"]["trackingId"] for data in sent]
    create_unit = "mutation($i: CreateUnitInput!) { createUnit(input: $i) { unit { id } errors { code } } }"
    unit_ids = []
    for code, name in UNITS:
        data = await api.call(create_unit, i={"code": code, "name": name})
        unit_ids.append(data["createUnit"]["unit"]["id"])
    verify = "mutation($i: VerifyComplaintInput!) { verifyComplaint(input: $i) { errors { code } } }"
    # Mixed on every page: of each five, three assigned, one only verified, one left submitted.
    await in_batches(
        [api.call(verify, i={"trackingId": t}) for n, t in enumerate(tracking_ids) if n % 5 != 4]
    )
    assign = "mutation($i: AssignComplaintInput!) { assignComplaint(input: $i) { errors { code } } }"
    await in_batches(
        [
            api.call(assign, i={"trackingId": t, "unitId": unit_ids[n % len(unit_ids)]})
            for n, t in enumerate(tracking_ids)
            if n % 5 < 3
        ]
    )


async def staff_token(client: httpx.AsyncClient, db: Database, regency: Tenant) -> str:
    """A client-credentials access token of a new OAuth client of ``regency``."""
    registered, secret = await create_client(
        db, name="Bench staf", scopes=frozenset(SCOPES.split()), tenant_slug=regency.slug
    )
    assert secret is not None
    response = await client.post(
        "/oauth/token",
        data={"grant_type": "client_credentials", "scope": SCOPES},
        auth=(registered.client_id, secret),
        headers={"Host": f"{regency.slug}.localhost"},
    )
    if response.status_code != 200:
        raise RuntimeError(f"no token: {response.status_code} {response.text[:300]}")
    return response.json()["access_token"]


async def seed_and_count(url: str, regency: Tenant) -> tuple[str, dict[int, list[str]]]:
    """Seed through the in-process app; (a staff token, the statements of one list request per
    page size)."""
    settings = Settings(
        database_url=url,
        base_domain="localhost",
        secret_key=SECRET_KEY,
        rate_limit_public=NEVER_LIMITED,
        rate_limit_client=NEVER_LIMITED,
    )
    app = create_app(settings, url)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver", timeout=60) as client:
            token = await staff_token(client, app.state.services.db, regency)
            api = Api(client, regency, token)
            await seed(api)
            await api.call(LIST, first=50)  # warm: host resolved, caches filled
            engine = app.state.services.db.public.sync_engine
            counted: dict[int, list[str]] = {}
            for first in (5, 50):
                statements: list[str] = []

                def record(_conn, _cursor, statement, _params, _context, _many, into=statements) -> None:
                    into.append(" ".join(statement.split()))

                event.listen(engine, "before_cursor_execute", record)
                try:
                    data = await api.call(LIST, first=first)
                finally:
                    event.remove(engine, "before_cursor_execute", record)
                edges = data["complaints"]["edges"]
                assert len(edges) == first, len(edges)
                assert any(e["node"]["unit"] for e in edges) and all(e["node"]["lastEvent"] for e in edges)
                counted[first] = statements
    return token, counted


def _page_of(size: int) -> Any:
    def check(data: Any) -> bool:
        return len(((data or {}).get("complaints") or {}).get("edges") or ()) == size

    return check


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument(
        "--cold", action="store_true", help="no single priming request before the concurrent warm-up"
    )
    parser.add_argument(
        "--app", default=LAPOR_APP, help="uvicorn factory of the app under test (to measure a variant)"
    )
    args = parser.parse_args()
    admin_url = find_admin_url()
    print(machine_line(admin_url))
    print(f"clients: {args.clients} concurrent (one connection each), warm-up {args.warmup:.0f} s, "
          f"measured {args.seconds:.0f} s per server; uvicorn, 1 worker")  # fmt: skip
    print(client_note())
    print(background_line())
    print(f"data: {COMPLAINTS} complaints, {VERIFIED} verified, {ASSIGNED} assigned to {len(UNITS)} units")

    with scratch_database(admin_url, "bench") as url:
        regency = await provision(url)
        token, counted = await seed_and_count(url, regency)
        options = {"clients": args.clients, "warmup": args.warmup, "seconds": args.seconds}
        options |= {"database": make_url(url).database or "", "cold": args.cold}
        bare_send = graphql_sender(
            [post_request("/graphql", "localhost", {"query": "{ __typename }"})],
            lambda data: data == {"__typename": "Query"},
        )
        bare_warm, bare = await measure(
            "_bare_graphql_app:create", {}, bare_send, label="bare strawberry { __typename }", **options
        )
        body = {"query": LIST, "variables": {"first": 50}}
        lapor_send = graphql_sender(
            [
                post_request(
                    "/graphql", f"{regency.slug}.localhost", body, {"Authorization": f"Bearer {token}"}
                )
            ],
            _page_of(50),
        )
        lapor_warm, lapor = await measure(
            args.app, lapor_env(url), lapor_send, label="LAPOR complaints(first: 50)",
            **options,
        )  # fmt: skip

    for first, statements in counted.items():
        print(f"SQL statements for complaints(first: {first}): {len(statements)}")
        for statement in statements if first == 50 else ():
            print(f"    {statement[:140]}")
    small, large = (len(counted[5]), len(counted[50]))
    constant = small == large and large <= 6
    print(
        f"statements constant in page size and at most 6: {'yes' if constant else 'NO'} ({small} vs {large})"
    )
    report(bare_warm, bare)
    report(lapor_warm, lapor)
    print_ratio(lapor, bare)


def print_ratio(lapor: Load, bare: Load) -> None:
    ratio = lapor.rps / bare.rps if bare.rps else 0.0
    print(f"ratio LAPOR/bare: {ratio:.2f} (target >= 0.25): {'met' if ratio >= 0.25 else 'NOT met'}")


if __name__ == "__main__":
    uvloop.run(main())
