"""Query fields of the routing area: the rule list and the preview, both scope ``routing:read``.

Both read through the request's shared read transaction (``context.reader``), so a query that
also lists complaints or units enters the tenant once; the preview therefore cannot write.
"""

from __future__ import annotations

import strawberry

from lapor.schema.context import LaporContext
from lapor.schema.permissions import requires
from lapor.schema.routing.inputs import RoutingPreviewInput
from lapor.schema.routing.types import RoutingPreview, RoutingRule
from lapor.tenants.routing import service

Info = strawberry.Info[LaporContext, None]


@strawberry.type
class RoutingQuery:
    @strawberry.field(
        permission_classes=[requires(service.READ_SCOPE)],
        description="The tenant's routing rules in evaluation order, disabled ones included.",
    )
    async def routing_rules(self, info: Info) -> list[RoutingRule]:
        actor = info.context.staff()
        rules = await info.context.reader.run(lambda conn: service.list_rules(conn, actor))
        return [RoutingRule.from_spec(rule) for rule in rules]

    @strawberry.field(
        permission_classes=[requires(service.READ_SCOPE)],
        description="The rule a complaint like the sample would get at submission; writes nothing.",
    )
    async def routing_preview(self, info: Info, input: RoutingPreviewInput) -> RoutingPreview:
        actor = info.context.staff()
        facts = input.to_domain()
        rule = await info.context.reader.run(lambda conn: service.preview(conn, actor, facts))
        return RoutingPreview(rule=RoutingRule.from_spec(rule) if rule is not None else None)
