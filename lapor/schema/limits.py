"""Guards on what a query may ask for, all strawberry extensions or validation rules, and the
points a document costs against the rate limit.

Depth, aliases and tokens use strawberry's own limiters; parsing and validation are cached per
document. Size follows GitHub's model: a connection's ``first`` multiplies the nodes of
everything beneath it; a document that could return more than ``MAX_NODES`` nodes is refused
before it runs (``QueryCostRule``).

Points (``document_cost``, charged by the GraphQL view over HTTP and the websocket alike; issue 9
item 7, where 30 aliased introspections or submissions cost 1 point): every root field of the
operation, each alias apart, costs at least ``FIELD_COST`` (``submitComplaint``:
``MUTATION_COSTS``), or its possible nodes divided by 100 when that is more; introspection
(``__schema``, ``__type``) counts the nodes it would return, sized from the schema itself
(``IntrospectionSizes``); a root field given a full-text ``search`` costs ``SEARCH_FACTOR`` times
as much (issue 9 item 3: a search is the most expensive read there is).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache, partial
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLEnumType,
    GraphQLError,
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    GraphQLType,
    GraphQLUnionType,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    ValidationRule,
    VariableNode,
    value_from_ast_untyped,
)
from strawberry.extensions import (
    AddValidationRules,
    MaxTokensLimiter,
    ParserCache,
    SchemaExtension,
    ValidationCache,
)
from strawberry.extensions.max_aliases import create_validator as create_alias_validator
from strawberry.extensions.query_depth_limiter import create_validator as create_depth_validator

MAX_DEPTH = 10
MAX_ALIASES = 30
MAX_TOKENS = 3_000
MAX_NODES = 1_000
MAX_PAGE = 100


class QueryCostRule(ValidationRule):
    """Refuse documents whose worst case returns more than ``MAX_NODES`` nodes."""

    def enter_document(self, node: DocumentNode, *_args: Any) -> None:
        # Validation is cached per document, so variables cannot count: they are assumed at the cap.
        total, operation = 0, None
        for definition in node.definitions:
            if isinstance(definition, OperationDefinitionNode):
                nodes = _operation_nodes(node, definition, None)
                if nodes > total:
                    total, operation = nodes, definition
        if total > MAX_NODES:
            self.report_error(
                GraphQLError(
                    f"query could return {total} nodes, more than the limit of {MAX_NODES}; "
                    "ask for smaller pages",
                    operation,
                    extensions={"code": "QUERY_TOO_COSTLY"},
                )
            )


def document_nodes(
    document: DocumentNode, variables: Mapping[str, Any] | None = None, operation_name: str | None = None
) -> int:
    """The most nodes the operation could return: every ``first`` times the pages above it.

    One count serves the validation rule (no variables: each ``first`` variable is assumed at
    ``MAX_PAGE``) and the rate limiter (actual variables). Without an operation name the
    costliest operation of the document counts.
    """
    operations = _operations(document, operation_name)
    return max((_operation_nodes(document, o, variables) for o in operations), default=0)


FIELD_COST = 1
"""The least a root field costs, each alias apart: aliases must not multiply work for free."""
MUTATION_COSTS: Mapping[str, int] = {"submitComplaint": 10}
"""Mutations costlier than ``FIELD_COST``: a submission hashes an access code (argon2), writes a
complaint, its timeline and the national index, and publishes an event."""
SEARCH_FACTOR = 5
"""A root field given a non-empty ``filter.search`` costs this many times its points."""
NODES_PER_POINT = 100


@dataclass(frozen=True)
class IntrospectionSizes:
    """How many items an introspection list field returns per parent, from the live schema.

    Multiplied down a selection they give the expected count of what a query returns: ``types``
    times the mean ``fields`` per type is the schema's number of fields, and so on. ``ofType``
    nests a type's wrappers (non-null, list): its factor ``r`` is chosen so that the series
    ``r + r**2 + ...`` is the mean number of wrappers per type reference.
    """

    per_parent: Mapping[str, float]

    @classmethod
    def of(cls, schema: GraphQLSchema) -> IntrospectionSizes:
        return _sizes(schema)


@lru_cache(maxsize=4)
def _sizes(schema: GraphQLSchema) -> IntrospectionSizes:
    types = list(schema.type_map.values())
    fields = inputs = values = interfaces = possible = args = refs = wrappers = 0

    def wrapped(type_: GraphQLType) -> None:
        nonlocal refs, wrappers
        refs += 1
        while isinstance(type_, GraphQLNonNull | GraphQLList):
            wrappers += 1
            type_ = type_.of_type

    for type_ in types:
        if isinstance(type_, GraphQLObjectType | GraphQLInterfaceType):
            fields += len(type_.fields)
            interfaces += len(type_.interfaces)
            for field in type_.fields.values():
                wrapped(field.type)
                args += len(field.args)
                for arg in field.args.values():
                    wrapped(arg.type)
        elif isinstance(type_, GraphQLInputObjectType):
            inputs += len(type_.fields)
            for input_field in type_.fields.values():
                wrapped(input_field.type)
        elif isinstance(type_, GraphQLEnumType):
            values += len(type_.values)
        if isinstance(type_, GraphQLInterfaceType | GraphQLUnionType):
            possible += len(schema.get_possible_types(type_))
    directive_args = sum(len(d.args) for d in schema.directives)
    count = max(1, len(types))
    mean_wrappers = wrappers / max(1, refs)
    return IntrospectionSizes(
        {
            "types": float(len(types)),
            "directives": float(len(schema.directives)),
            "fields": fields / count,
            "inputFields": inputs / count,
            "enumValues": values / count,
            "interfaces": interfaces / count,
            "possibleTypes": possible / count,
            "args": (args + directive_args) / max(1, fields + len(schema.directives)),
            "ofType": mean_wrappers / (1 + mean_wrappers),
        }
    )


def document_cost(
    document: DocumentNode,
    variables: Mapping[str, Any] | None = None,
    operation_name: str | None = None,
    sizes: IntrospectionSizes | None = None,
) -> int:
    """The points an operation costs: the sum over its root fields (each response key once, as
    execution merges repeated ones) of ``field_points``. Without an operation name, the costliest
    operation of the document counts (strawberry refuses to choose, but the request is charged)."""
    operations = _operations(document, operation_name)
    return max((_operation_points(document, o, variables, sizes) for o in operations), default=1)


def _operation_points(
    document: DocumentNode,
    operation: OperationDefinitionNode,
    variables: Mapping[str, Any] | None,
    sizes: IntrospectionSizes | None,
) -> int:
    counter = _Counter(document, operation, variables)
    by_key: dict[str, int] = {}
    for field in root_fields(document, operation):
        key = field.alias.value if field.alias else field.name.value
        by_key[key] = max(by_key.get(key, 0), _field_points(counter, operation, field, variables, sizes))
    return max(1, sum(by_key.values()))


def _field_points(
    counter: _Counter,
    operation: OperationDefinitionNode,
    field: FieldNode,
    variables: Mapping[str, Any] | None,
    sizes: IntrospectionSizes | None,
) -> int:
    name = field.name.value
    base = FIELD_COST
    if operation.operation is OperationType.MUTATION:
        base = MUTATION_COSTS.get(name, FIELD_COST)
    nodes = min(MAX_NODES, counter.field(field))  # larger documents are refused: they never run
    if name in ("__schema", "__type") and sizes is not None:
        nodes += introspection_nodes(field, counter.fragments, sizes)
    points = max(base, math.ceil(nodes / NODES_PER_POINT - 0.5))  # rounded half up
    if searches(field, variables):
        points *= SEARCH_FACTOR
    return points


def introspection_nodes(
    field: FieldNode, fragments: Mapping[str, FragmentDefinitionNode], sizes: IntrospectionSizes
) -> int:
    """The objects an introspection field returns (itself included): each object-valued field
    below it counts its expected items, ``per_parent`` times the items above it."""
    per_parent = sizes.per_parent

    def count(
        selection_set: SelectionSetNode | None, items: float, depth: int, active: frozenset[str]
    ) -> float:
        if selection_set is None or depth > _MAX_NESTING:
            return 0.0
        total = 0.0
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                if selection.selection_set is None:
                    continue  # a scalar: part of its object
                below = items * per_parent.get(selection.name.value, 1.0)
                total += below + count(selection.selection_set, below, depth + 1, active)
            elif isinstance(selection, InlineFragmentNode):
                total += count(selection.selection_set, items, depth + 1, active)
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                fragment = fragments.get(name)
                if fragment is not None and name not in active:
                    total += count(fragment.selection_set, items, depth + 1, active | {name})
        return total

    return math.ceil(1 + count(field.selection_set, 1.0, 0, frozenset()))


def searches(field: FieldNode, variables: Mapping[str, Any] | None) -> bool:
    """Whether a root field asks for a full-text search: a non-empty ``search`` in its ``filter``
    argument, written in the document or passed in a variable."""
    for argument in field.arguments or ():
        if argument.name.value != "filter":
            continue
        try:
            value = value_from_ast_untyped(argument.value, dict(variables or {}))
        except (TypeError, ValueError):
            return False
        if isinstance(value, Mapping):
            term = value.get("search")
            return isinstance(term, str) and bool(term.strip())
    return False


def document_searches(
    document: DocumentNode, variables: Mapping[str, Any] | None = None, operation_name: str | None = None
) -> bool:
    """Whether the operation that would run asks for a full-text search anywhere at its root."""
    return any(
        searches(field, variables)
        for operation in _operations(document, operation_name)
        for field in root_fields(document, operation)
    )


def root_fields(document: DocumentNode, operation: OperationDefinitionNode) -> Iterator[FieldNode]:
    """The operation's root field selections, through fragments and inline fragments."""
    fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}

    def walk(selection_set: SelectionSetNode, depth: int, active: frozenset[str]) -> Iterator[FieldNode]:
        if depth > _MAX_NESTING:
            return
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                yield selection
            elif isinstance(selection, InlineFragmentNode):
                yield from walk(selection.selection_set, depth + 1, active)
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                fragment = fragments.get(name)
                if fragment is not None and name not in active:
                    yield from walk(fragment.selection_set, depth + 1, active | {name})

    yield from walk(operation.selection_set, 0, frozenset())


def operation_of(document: DocumentNode, operation_name: str | None) -> OperationDefinitionNode | None:
    """The operation a request runs: the named one, or the only one (``None`` if ambiguous)."""
    operations = _operations(document, operation_name)
    return operations[0] if len(operations) == 1 else None


def _operations(document: DocumentNode, operation_name: str | None) -> list[OperationDefinitionNode]:
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if operation_name is not None:
        operations = [o for o in operations if o.name is not None and o.name.value == operation_name]
    return operations

_MAX_NESTING = 64
"""Deeper selections are not counted: the depth limiter refuses them anyway, and the count
must never recurse deep enough to hit Python's recursion limit on a hostile document."""


def _operation_nodes(
    document: DocumentNode, operation: OperationDefinitionNode, variables: Mapping[str, Any] | None
) -> int:
    counter = _Counter(document, operation, variables)
    return counter.count(operation.selection_set, 0, frozenset())


class _Counter:
    """Nodes beneath a selection: every ``first`` times the pages above it."""

    def __init__(
        self, document: DocumentNode, operation: OperationDefinitionNode, variables: Mapping[str, Any] | None
    ) -> None:
        self.fragments = {
            d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
        }
        self.variables = variables
        self.defaults = {
            d.variable.name.value: max(0, int(d.default_value.value))
            for d in operation.variable_definitions or ()
            if isinstance(d.default_value, IntValueNode)
        }
        # Counts are linear in the multiplier above them, so a fragment is counted once (at 1) and
        # reused: a document spreading one fragment many times cannot make the count explode.
        self.memo: dict[str, int] = {}

    def first_of(self, node: FieldNode) -> int | None:
        for argument in node.arguments or ():
            if argument.name.value != "first":
                continue
            if isinstance(argument.value, IntValueNode):
                return max(0, int(argument.value.value))
            if isinstance(argument.value, VariableNode):
                if self.variables is None:
                    return MAX_PAGE
                value = self.variables.get(argument.value.name.value)
                if isinstance(value, int) and not isinstance(value, bool):
                    return max(0, value)
                return self.defaults.get(argument.value.name.value, MAX_PAGE)
        return None

    def field(self, node: FieldNode, depth: int = 0, active: frozenset[str] = frozenset()) -> int:
        inner = self.count(node.selection_set, depth + 1, active)
        first = self.first_of(node)
        return inner if first is None else first * (1 + inner)

    def count(self, selection_set: SelectionSetNode | None, depth: int, active: frozenset[str]) -> int:
        if selection_set is None or depth > _MAX_NESTING:
            return 0
        total = 0
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                total += self.field(selection, depth, active)
            elif isinstance(selection, InlineFragmentNode):
                total += self.count(selection.selection_set, depth + 1, active)
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                fragment = self.fragments.get(name)
                if fragment is None or name in active:
                    continue  # unknown or cyclic: other validation rules report it
                if name not in self.memo:
                    self.memo[name] = self.count(fragment.selection_set, depth + 1, active | {name})
                total += self.memo[name]
        return total


# The depth and alias rules are built once: strawberry's QueryDepthLimiter and MaxAliasesLimiter
# build a new rule class per request, which changes ValidationCache's key so it never hits.
_RULES = [
    create_depth_validator(MAX_DEPTH, None, None),
    create_alias_validator(MAX_ALIASES),
    QueryCostRule,
]


def extensions() -> list[Callable[[], SchemaExtension]]:
    """Factories, not instances: strawberry builds each extension per operation (DESIGN.md 11)."""
    return [
        partial(MaxTokensLimiter, max_token_count=MAX_TOKENS),
        partial(AddValidationRules, _RULES),
        partial(ParserCache, maxsize=512),
        partial(ValidationCache, maxsize=512),
    ]
