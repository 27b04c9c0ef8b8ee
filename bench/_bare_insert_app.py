"""The P1 baseline (bench/submit.py): a bare Starlette endpoint inserting one row with psycopg.

No GraphQL, no ORM, no tenant: read the JSON body, ``INSERT ... RETURNING id`` through a
``psycopg_pool.AsyncConnectionPool`` (as many connections as the real app's SQLAlchemy pool may
open), answer JSON. The table is created by the bench script before this process starts.

    BENCH_DATABASE_URL=postgresql://... python -m uvicorn _bare_insert_app:create --factory --app-dir bench
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from psycopg_pool import AsyncConnectionPool
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

TABLE = "bench_bare_complaint"
CREATE_TABLE = f"""
CREATE TABLE IF NOT EXISTS public.{TABLE} (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    title text NOT NULL,
    body text NOT NULL,
    category_code text,
    submitted_at timestamptz NOT NULL DEFAULT now()
)"""
INSERT = f"INSERT INTO public.{TABLE} (title, body, category_code) VALUES (%s, %s, %s) RETURNING id"


def create() -> Starlette:
    pool = AsyncConnectionPool(os.environ["BENCH_DATABASE_URL"], min_size=10, max_size=20, open=False)

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        await pool.open(wait=True)
        try:
            yield
        finally:
            await pool.close()

    async def readyz(_request: Request) -> JSONResponse:
        async with pool.connection() as conn:
            await conn.execute("SELECT 1")
        return JSONResponse({"status": "ready"})

    async def submit(request: Request) -> JSONResponse:
        payload = await request.json()
        data = payload["variables"]["input"]  # the same GraphQL request body the real app is sent
        async with pool.connection() as conn:
            cursor = await conn.execute(INSERT, (data["title"], data["body"], data.get("categoryCode")))
            row = await cursor.fetchone()
        assert row is not None
        return JSONResponse({"data": {"submitComplaint": {"id": row[0], "errors": []}}})

    return Starlette(
        routes=[Route("/readyz", readyz), Route("/graphql", submit, methods=["POST"])],
        lifespan=lifespan,
    )
