"""Issue 9 item 3: what one public search may cost the database.

The attack: with 30,000 complaints in a tenant, ``publicComplaints(first: 100, filter: {search:
"sampah"})`` (a common word) recomputed ``to_tsvector`` on every row, seconds of CPU for one
anonymous request; no ``statement_timeout`` stopped it, and it kept running after the client
disconnected. Here, on real PostgreSQL and a real server:

* the search reads the stored ``search_document`` (t0006): its plan never calls
  ``to_tsvector``, a rare word is found through the GIN index, and a word in every row reads one
  page of rows in date order, not the table (EXPLAIN ANALYZE of the very statement the API sent);
* every tenant transaction carries a ``statement_timeout``: short for the public, longer for a
  caller with a token, longest outside requests; a statement that runs out answers
  ``QUERY_TIMEOUT`` (a lock held by the test makes the statement wait: no timing of queries);
* a client that disconnects has its statement cancelled in PostgreSQL (``pg_stat_activity``);
* search terms are bounded in length and words (a NUL byte is refused earlier, item 8).
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import replace

import psycopg
import pytest
import sqlalchemy as sa
from sqlalchemy import event

from lapor.tenants.context import tenant_transaction
from tests.apps import graphql, running_app
from tests.conftest import BASE_DOMAIN
from tests.graphql_client import codes
from tests.live_server import lapor_serve, server_env
from tests.oauth_helpers import machine_token

ROWS = 30_000
# Even rows carry "sampah" in the title, every body "lorem", each row a word of its own.
FILL = f"""
INSERT INTO complaint (tracking_id, access_code_hash, kind, channel, status, title, body, submitted_at)
SELECT 'T' || g, 'x', 'COMPLAINT', 'WEB', 'VERIFIED',
       'Keluhan ' || g || CASE WHEN g % 2 = 0 THEN ' sampah menumpuk' ELSE ' jalan rusak' END,
       repeat('lorem ipsum pelayanan publik kabupaten ', 12) || 'langka' || g,
       now() - make_interval(secs => g)
FROM generate_series(1, {ROWS}) AS g
"""
SEARCH = "query($s: String, $after: String) { publicComplaints(first: 100, after: $after, filter: {search: $s}) { edges { node { trackingId } } pageInfo { hasNextPage endCursor } } }"
FEED = "{ publicComplaints(first: 5) { edges { node { trackingId } } } }"
STAFF_LIST = "{ complaints(first: 5) { edges { node { trackingId } } } }"


@pytest.fixture(scope="module")
async def crowded(provisioner, province, db):
    """One regency with 30,000 public complaints, analysed (the planner sees the real table)."""
    from lapor.tenants.validation import TenantSpec
    from tests.conftest import unique_slug

    tenant = await provisioner.create(
        TenantSpec(unique_slug("ramai"), "Kabupaten Ramai", "REGENCY", parent=province.slug)
    )
    async with tenant_transaction(db, tenant) as conn:
        await conn.execute(sa.text(FILL))
    async with db.public.begin() as conn:
        await conn.execute(sa.text(f"ANALYZE {tenant.schema_name}.complaint"))
    return tenant


class _Statements:
    """Every statement the app sends on ``engine``, with its parameters (to EXPLAIN it again)."""

    def __init__(self, engine) -> None:
        self.engine = engine.sync_engine
        self.seen: list[tuple[str, object]] = []

    def _record(self, _conn, _cursor, statement, parameters, _context, _executemany) -> None:
        self.seen.append((statement, parameters))

    def __enter__(self) -> _Statements:
        event.listen(self.engine, "before_cursor_execute", self._record)
        return self

    def __exit__(self, *_exc) -> None:
        event.remove(self.engine, "before_cursor_execute", self._record)

    def search(self) -> tuple[str, object]:
        found = [(s, p) for s, p in self.seen if "FROM complaint" in s and "@@" in s and "count(" not in s]
        assert len(found) == 1, [s for s, _p in self.seen]
        return found[0]


def _nodes(plan: dict) -> list[dict]:
    found = [plan]
    for child in plan.get("Plans", []):
        found += _nodes(child)
    return found


def _rows_read(nodes: list[dict]) -> int:
    """Rows of ``complaint`` the scans produced or threw away (each loop counted)."""
    total = 0
    for node in nodes:
        if node.get("Relation Name") == "complaint":
            per_loop = (
                node.get("Actual Rows", 0)
                + node.get("Rows Removed by Filter", 0)
                + node.get("Rows Removed by Index Recheck", 0)
            )
            total += per_loop * max(1, node.get("Actual Loops", 1))
    return total


async def _explain(db, tenant, statement: str, parameters) -> tuple[list[dict], str]:
    async with tenant_transaction(db, tenant) as conn:
        raw = await conn.exec_driver_sql("EXPLAIN (ANALYZE, FORMAT JSON) " + statement, parameters)
        document = raw.scalar_one()
    plan = (document if isinstance(document, list) else json.loads(document))[0]["Plan"]
    return _nodes(plan), json.dumps(plan)


async def test_search_reads_the_stored_vector_a_page_at_a_time(settings, db, crowded) -> None:
    host = f"{crowded.slug}.{BASE_DOMAIN}"
    async with running_app(settings) as (app, client):
        engine = app.state.services.db.public
        plans = {}
        for word in ("sampah", "lorem", "langka12345"):
            with _Statements(engine) as statements:
                response = await graphql(client, host, SEARCH, s=word)
            body = response.json()
            assert response.status_code == 200 and not body.get("errors"), body
            plans[word] = (body, *await _explain(db, crowded, *statements.search()))
        # The page for a common word is the newest 100 matches, in order; the next page follows.
        first_page = plans["sampah"][0]["data"]["publicComplaints"]
        assert [e["node"]["trackingId"] for e in first_page["edges"]] == [f"T{g}" for g in range(2, 201, 2)]
        after = first_page["pageInfo"]["endCursor"]
        second = (await graphql(client, host, SEARCH, s="sampah", after=after)).json()
        assert not second.get("errors"), second
        assert [e["node"]["trackingId"] for e in second["data"]["publicComplaints"]["edges"]] == [
            f"T{g}" for g in range(202, 401, 2)
        ]
    rare_body, rare_nodes, rare_text = plans["langka12345"]
    assert [e["node"]["trackingId"] for e in rare_body["data"]["publicComplaints"]["edges"]] == ["T12345"]
    for word, (_body, _plan, text) in plans.items():
        assert "to_tsvector" not in text, f"{word}: the plan computes the vector per row: {text}"
        assert "search_document" in text, f"{word}: the stored vector is not what is matched: {text}"
    assert any(n.get("Index Name") == "complaint_search_document_idx" for n in rare_nodes), rare_text
    assert _rows_read(rare_nodes) <= 10, rare_text
    for word in ("sampah", "lorem"):  # in half the rows / every row: one page read, not 30,000 rows
        _body, nodes, text = plans[word]
        assert _rows_read(nodes) <= 1_000, f"{word}: read {_rows_read(nodes)} rows of {ROWS}: {text}"


@pytest.mark.parametrize(
    ("search", "why"),
    [("kata " * 40, "200 characters"), (" ".join(f"w{i}" for i in range(13)), "12 words")],
)
async def test_search_terms_are_bounded(settings, crowded, search, why) -> None:
    async with running_app(settings) as (_app, client):
        body = (await graphql(client, f"{crowded.slug}.{BASE_DOMAIN}", SEARCH, s=search)).json()
    assert codes(body) == ["INVALID_INPUT"], body
    assert body["errors"][0]["extensions"].get("field") == "search"
    assert why in body["errors"][0]["message"], body


async def test_every_tenant_transaction_carries_its_budget_s_timeout(db, make_regency) -> None:
    from lapor.tenants.context import Budget, reset_budget, use_budget

    tenant = await make_regency()
    seen = {}
    for budget in Budget:
        token = use_budget(budget)
        try:
            async with tenant_transaction(db, tenant) as conn:
                seen[budget] = await conn.scalar(sa.text("SHOW statement_timeout"))
        finally:
            reset_budget(token)
    assert seen == {Budget.PUBLIC: "2s", Budget.STAFF: "15s", Budget.BACKGROUND: "5min"}
    async with db.public.connect() as conn:  # SET LOCAL: nothing outlives the transaction
        assert await conn.scalar(sa.text("SHOW statement_timeout")) == "0"


async def _waiting_backends(database_url: str) -> list[tuple[int, str]]:
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        cursor = await conn.execute(
            "SELECT pid, query FROM pg_stat_activity WHERE datname = current_database() "
            "AND application_name = 'lapor' AND state = 'active' AND wait_event_type = 'Lock'"
        )
        return [(pid, query) for pid, query in await cursor.fetchall()]


async def test_public_statement_times_out_with_a_code_staff_waits_longer(
    settings, db, database_url, make_regency
) -> None:
    """A lock the test holds on ``complaint`` makes any read of it wait: the public read is stopped
    by its 0.5 s timeout and says QUERY_TIMEOUT; a staff read is still waiting after three times
    that, and answers once the lock is gone."""
    tenant = await make_regency()
    host = f"{tenant.slug}.{BASE_DOMAIN}"
    bounded = replace(settings, db_timeout_public=0.5, db_timeout_staff=60.0)
    async with running_app(bounded) as (app, client):
        token = await machine_token(db, app, host, tenant=tenant.slug, scopes="complaints:read")
        blocker = await psycopg.AsyncConnection.connect(database_url)
        staff = None
        # Whatever happens, the lock goes after 8 s: an unbounded statement then completes (and
        # the test fails on its answer and its time) instead of waiting for ever.
        release = asyncio.get_running_loop().call_later(8, lambda: asyncio.ensure_future(blocker.rollback()))
        try:
            await blocker.execute(f"LOCK TABLE {tenant.schema_name}.complaint IN ACCESS EXCLUSIVE MODE")
            started = time.monotonic()
            response = await graphql(client, host, FEED)
            assert time.monotonic() - started < 5, "the public statement was not bounded"
            body = response.json()
            assert codes(body) == ["QUERY_TIMEOUT"], body
            message = body["errors"][0]["message"]
            assert "0.5 detik" in message and "0.5 seconds" in message, message
            staff = asyncio.ensure_future(
                client.post(
                    "/graphql",
                    json={"query": STAFF_LIST},
                    headers={"host": host, "authorization": f"Bearer {token}"},
                )
            )
            await asyncio.sleep(1.5)
            assert not staff.done(), staff.result().text
            waiting = await _waiting_backends(database_url)
            assert any("FROM complaint" in query for _pid, query in waiting), waiting
        finally:
            release.cancel()
            await blocker.rollback()
            await blocker.close()
        assert staff is not None
        answered = await asyncio.wait_for(staff, 10)
        assert answered.status_code == 200 and not answered.json().get("errors"), answered.text


async def test_a_disconnected_client_s_statement_is_cancelled(database_url, make_regency, tmp_path) -> None:
    """Over a real socket to ``lapor serve``: a public read waits on the test's lock; the client
    hangs up; within a few seconds PostgreSQL no longer runs the statement (public timeout set to
    a minute, so the timeout is not what ends it)."""
    tenant = await make_regency()
    host = f"{tenant.slug}.{BASE_DOMAIN}"
    env = server_env(database_url, LAPOR_DB_TIMEOUT_PUBLIC="60", LAPOR_RATE_LIMIT_PUBLIC="0")
    with lapor_serve(env, tmp_path / "serve.log") as server:
        blocker = await psycopg.AsyncConnection.connect(database_url)
        try:
            await blocker.execute(f"LOCK TABLE {tenant.schema_name}.complaint IN ACCESS EXCLUSIVE MODE")
            body = json.dumps({"query": FEED}).encode()
            sock = server.connect()
            sock.sendall(
                f"POST /graphql HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\n\r\n".encode()
                + body
            )
            pids: list[int] = []
            deadline = time.monotonic() + 10
            while not pids and time.monotonic() < deadline:
                await asyncio.sleep(0.1)
                pids = [pid for pid, query in await _waiting_backends(database_url) if "FROM complaint" in query]
            assert pids, "the request's statement never reached PostgreSQL"
            sock.close()
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline:
                still = [pid for pid, _q in await _waiting_backends(database_url) if pid in pids]
                if not still:
                    break
                await asyncio.sleep(0.1)
            assert not still, f"statement still running 5 s after the client left (backend {still})"
        finally:
            await blocker.rollback()
            await blocker.close()
        await asyncio.sleep(0.3)
        assert "Traceback" not in server.log_tail(), server.log_tail()
