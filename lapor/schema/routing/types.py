"""GraphQL types of the routing area (``RoutingRule`` is a contract name, DESIGN.md section 7).

A ``RoutingRule`` is built from the service's :class:`RuleSpec` and keeps it private: the unit and
the categories are resolved through the request's DataLoaders only when a query asks for them,
so listing 50 rules with their units costs one unit statement, not 50.
"""

from __future__ import annotations

import datetime as dt

import strawberry

from lapor.schema import dataloaders
from lapor.schema.common import Node, UserError, global_id
from lapor.schema.complaints.enums import Channel, ComplaintKind, Priority
from lapor.schema.context import LaporContext
from lapor.schema.reference.types import Category, Unit
from lapor.tenants import enums
from lapor.tenants.routing.matching import RuleSpec

Info = strawberry.Info[LaporContext, None]

RoutingAction = strawberry.enum(
    enums.RoutingAction, name="RoutingAction", description="What a matching routing rule does."
)


@strawberry.type(
    description=(
        "One of a tenant's ordered routing rules: the first enabled rule whose conditions all hold "
        "proposes the disposition of a new complaint (empty condition lists match everything)."
    )
)
class RoutingRule(Node):
    position: int = strawberry.field(description="Evaluation order, lowest first.")
    name: str
    enabled: bool
    kinds: list[ComplaintKind] = strawberry.field(description="Any of these kinds (empty: any kind).")
    channels: list[Channel] = strawberry.field(description="Any of these channels (empty: any channel).")
    keywords: list[str] = strawberry.field(
        description="Any of these whole words or phrases in the title or body, ignoring case and accents."
    )
    region_prefixes: list[str] = strawberry.field(
        description="Any of these Kemendagri region-code prefixes, compared by whole segments ('53.71')."
    )
    action: RoutingAction
    priority: Priority | None = strawberry.field(description="The priority a SET_PRIORITY rule sets.")
    target_tenant: str | None = strawberry.field(
        description="Slug of the tenant a TRANSFER_TO_TENANT rule transfers to."
    )
    auto_apply: bool = strawberry.field(
        description="Apply the action on verification instead of only proposing it."
    )
    created_at: dt.datetime
    updated_at: dt.datetime
    spec: strawberry.Private[RuleSpec]

    @strawberry.field(description="Any of these categories (empty: any category, or none).")
    async def categories(self, info: Info) -> list[Category]:
        if not self.spec.category_ids:
            return []
        rows = await dataloaders.categories(info.context).load_many(list(self.spec.category_ids))
        # A category removed after the rule was written simply drops out of the list.
        return [Category.from_row(row) for row in rows if row is not None]

    @strawberry.field(description="The unit an ASSIGN_UNIT rule assigns to.")
    async def unit(self, info: Info) -> Unit | None:
        if self.spec.unit_id is None:
            return None
        row = await dataloaders.units(info.context).load(self.spec.unit_id)
        return Unit.from_row(row) if row is not None else None

    @classmethod
    def from_spec(cls, spec: RuleSpec) -> RoutingRule:
        assert spec.id is not None, "only stored rules have a global id"
        assert spec.created_at is not None and spec.updated_at is not None
        return cls(
            id=global_id("RoutingRule", spec.id),
            position=spec.position,
            name=spec.name,
            enabled=spec.enabled,
            kinds=list(spec.kinds),  # type: ignore[arg-type]
            channels=list(spec.channels),  # type: ignore[arg-type]
            keywords=list(spec.keywords),
            region_prefixes=list(spec.region_prefixes),
            action=spec.action,  # type: ignore[arg-type]
            priority=spec.priority,  # type: ignore[arg-type]
            target_tenant=spec.target_tenant,
            auto_apply=spec.auto_apply,
            created_at=spec.created_at,
            updated_at=spec.updated_at,
            spec=spec,
        )


@strawberry.type(description="What the routing rules would do with a sample complaint; nothing is written.")
class RoutingPreview:
    rule: RoutingRule | None = strawberry.field(description="The first enabled matching rule, if any.")

    @strawberry.field(description="Whether some enabled rule matches the sample.")
    def matched(self) -> bool:
        return self.rule is not None


@strawberry.type
class CreateRoutingRulePayload:
    rule: RoutingRule | None
    errors: list[UserError]


@strawberry.type
class UpdateRoutingRulePayload:
    rule: RoutingRule | None
    errors: list[UserError]


@strawberry.type
class DeleteRoutingRulePayload:
    deleted_id: strawberry.ID | None = strawberry.field(description="The global id of the rule deleted.")
    errors: list[UserError]


@strawberry.type
class ReorderRoutingRulesPayload:
    rules: list[RoutingRule] = strawberry.field(description="Every rule in its new order (empty on errors).")
    errors: list[UserError]
