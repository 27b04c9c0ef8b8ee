"""The GraphQL schema: one folder per area, merged here."""

from __future__ import annotations

import strawberry
from strawberry.tools import merge_types

from lapor.schema.complaints.mutations import ComplaintMutation
from lapor.schema.complaints.resolvers import ComplaintQuery
from lapor.schema.limits import extensions
from lapor.schema.reference.resolvers import ReferenceMutation, ReferenceQuery
from lapor.schema.request_scope import CloseRequestDatabase
from lapor.schema.routing.mutations import RoutingMutation
from lapor.schema.routing.resolvers import RoutingQuery
from lapor.schema.tenants.resolvers import TenantQuery
from lapor.schema.viewer import ViewerQuery

Query = merge_types("Query", (ViewerQuery, TenantQuery, ComplaintQuery, ReferenceQuery, RoutingQuery))
Mutation = merge_types("Mutation", (ComplaintMutation, ReferenceMutation, RoutingMutation))

schema = strawberry.Schema(
    query=Query,
    mutation=Mutation,
    extensions=[*extensions(), CloseRequestDatabase],
)


def sdl() -> str:
    """The schema in SDL, as `lapor schema` prints it and schema.graphql stores it."""
    return schema.as_str() + "\n"
