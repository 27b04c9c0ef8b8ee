"""Guards on what a query may ask for, all strawberry extensions or validation rules.

Depth, aliases and tokens use strawberry's own limiters; parsing and validation are cached per
document. Cost follows GitHub's model: a connection's ``first`` multiplies the nodes of
everything beneath it; a document that could return more than ``MAX_NODES`` nodes is refused
before it runs. The same count, divided by 100, is what a query costs against the rate limit
(``document_cost``, used by the GraphQL view).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import partial
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    ValidationRule,
    VariableNode,
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
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if operation_name is not None:
        operations = [o for o in operations if o.name is not None and o.name.value == operation_name]
    return max((_operation_nodes(document, o, variables) for o in operations), default=0)


def document_cost(
    document: DocumentNode, variables: Mapping[str, Any] | None = None, operation_name: str | None = None
) -> int:
    """GitHub's points: the nodes a query could return divided by 100 (rounded), at least 1."""
    return max(1, (document_nodes(document, variables, operation_name) + 50) // 100)


MAX_COST = MAX_NODES // 100
"""The costliest document that may run; costlier ones are refused by ``QueryCostRule``."""

_MAX_NESTING = 64
"""Deeper selections are not counted: the depth limiter refuses them anyway, and the count
must never recurse deep enough to hit Python's recursion limit on a hostile document."""


def _operation_nodes(
    document: DocumentNode, operation: OperationDefinitionNode, variables: Mapping[str, Any] | None
) -> int:
    fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
    defaults = {
        d.variable.name.value: max(0, int(d.default_value.value))
        for d in operation.variable_definitions or ()
        if isinstance(d.default_value, IntValueNode)
    }
    # Counts are linear in the multiplier above them, so a fragment is counted once (at 1) and
    # reused: a document spreading one fragment many times cannot make the count explode.
    memo: dict[str, int] = {}

    def first_of(node: FieldNode) -> int | None:
        for argument in node.arguments or ():
            if argument.name.value != "first":
                continue
            if isinstance(argument.value, IntValueNode):
                return max(0, int(argument.value.value))
            if isinstance(argument.value, VariableNode):
                if variables is None:
                    return MAX_PAGE
                value = variables.get(argument.value.name.value)
                if isinstance(value, int) and not isinstance(value, bool):
                    return max(0, value)
                return defaults.get(argument.value.name.value, MAX_PAGE)
        return None

    def count(selection_set: SelectionSetNode | None, depth: int, active: frozenset[str]) -> int:
        if selection_set is None or depth > _MAX_NESTING:
            return 0
        total = 0
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                inner = count(selection.selection_set, depth + 1, active)
                first = first_of(selection)
                total += inner if first is None else first * (1 + inner)
            elif isinstance(selection, InlineFragmentNode):
                total += count(selection.selection_set, depth + 1, active)
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                fragment = fragments.get(name)
                if fragment is None or name in active:
                    continue  # unknown or cyclic: other validation rules report it
                if name not in memo:
                    memo[name] = count(fragment.selection_set, depth + 1, active | {name})
                total += memo[name]
        return total

    return count(operation.selection_set, 0, frozenset())


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
