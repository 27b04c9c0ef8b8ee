"""The GraphQL schema: one folder per area, merged here."""

from __future__ import annotations

import strawberry
from strawberry.tools import merge_types

from lapor.schema.tenants.resolvers import TenantQuery

Query = merge_types("Query", (TenantQuery,))

schema = strawberry.Schema(query=Query)


def sdl() -> str:
    """The schema in SDL, as `lapor schema` prints it and schema.graphql stores it."""
    return schema.as_str() + "\n"
