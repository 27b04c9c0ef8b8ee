"""The GraphQL schema: one folder per area, merged here."""

from __future__ import annotations

from typing import Any

import strawberry
from graphql import GraphQLError
from strawberry.tools import merge_types

from lapor.schema.complaints.mutations import ComplaintMutation
from lapor.schema.complaints.resolvers import ComplaintQuery
from lapor.schema.errors import StreamedErrors
from lapor.schema.events.resolvers import EventSubscription
from lapor.schema.input_bounds import InputBounds
from lapor.schema.limits import extensions
from lapor.schema.national.resolvers import NationalQuery
from lapor.schema.reference.resolvers import ReferenceMutation, ReferenceQuery
from lapor.schema.request_scope import CloseRequestDatabase
from lapor.schema.routing.mutations import RoutingMutation
from lapor.schema.routing.resolvers import RoutingQuery
from lapor.schema.tenants.resolvers import TenantQuery
from lapor.schema.transfers.mutations import TransferMutation
from lapor.schema.transfers.resolvers import TransferQuery
from lapor.schema.viewer import ViewerQuery

Query = merge_types(
    "Query",
    (ViewerQuery, TenantQuery, ComplaintQuery, ReferenceQuery, RoutingQuery, TransferQuery, NationalQuery),
)
Mutation = merge_types("Mutation", (ComplaintMutation, ReferenceMutation, RoutingMutation, TransferMutation))
Subscription = merge_types("Subscription", (EventSubscription,))


class LaporSchema(strawberry.Schema):
    def process_errors(self, errors: list[GraphQLError], execution_context: Any = None) -> None:
        """Refusals are answers, not incidents: the error formatter logs only unexpected ones."""


schema = LaporSchema(
    query=Query,
    mutation=Mutation,
    subscription=Subscription,
    extensions=[*extensions(), InputBounds, CloseRequestDatabase, StreamedErrors],
)


def sdl() -> str:
    """The schema in SDL, as `lapor schema` prints it and schema.graphql stores it."""
    return schema.as_str() + "\n"
