"""The P2 baseline (bench/list.py): a bare strawberry schema behind ``strawberry.asgi.GraphQL``.

Nothing but strawberry and Starlette: the bench sends it ``{ __typename }``, the cheapest query
a GraphQL server can answer, to measure what the HTTP + GraphQL layers cost by themselves.

    python -m uvicorn _bare_graphql_app:create --factory --app-dir bench
"""

from __future__ import annotations

import strawberry
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from strawberry.asgi import GraphQL


@strawberry.type
class Query:
    @strawberry.field
    def ping(self) -> str:
        return "pong"


async def readyz(_request: Request) -> JSONResponse:
    return JSONResponse({"status": "ready"})


def create() -> Starlette:
    graphql: GraphQL[None, None] = GraphQL(strawberry.Schema(query=Query))
    return Starlette(routes=[Route("/readyz", readyz), Route("/graphql", graphql, methods=["GET", "POST"])])
