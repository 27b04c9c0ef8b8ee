"""Guards on what a query may ask for, all strawberry extensions or validation rules.

Depth, aliases and tokens use strawberry's own limiters; parsing and validation are cached per
document. Cost follows GitHub's model: a connection's ``first`` multiplies the nodes of
everything beneath it; a document that could return more than ``MAX_NODES`` nodes is refused
before it runs.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from graphql import (
    FieldNode,
    GraphQLError,
    IntValueNode,
    ValidationContext,
    ValidationRule,
    VariableNode,
)
from strawberry.extensions import (
    AddValidationRules,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    ParserCache,
    QueryDepthLimiter,
    SchemaExtension,
    ValidationCache,
)

MAX_DEPTH = 10
MAX_ALIASES = 30
MAX_TOKENS = 3_000
MAX_NODES = 1_000
MAX_PAGE = 100


class QueryCostRule(ValidationRule):
    """Refuse documents whose worst case returns more than ``MAX_NODES`` nodes."""

    def __init__(self, context: ValidationContext) -> None:
        super().__init__(context)
        self._multiplier = [1]
        self._total = 0

    def enter_field(self, node: FieldNode, *_args: Any) -> None:
        first = self._first(node)
        multiplier = self._multiplier[-1] * (first if first is not None else 1)
        if first is not None:
            self._total += multiplier
        self._multiplier.append(multiplier)
        if self._total > MAX_NODES:
            self.report_error(
                GraphQLError(
                    f"query could return {self._total} nodes, more than the limit of {MAX_NODES}; "
                    "ask for smaller pages",
                    node,
                    extensions={"code": "QUERY_TOO_COSTLY"},
                )
            )
            self._total = -(10**12)  # report once

    def leave_field(self, *_args: Any) -> None:
        self._multiplier.pop()

    def _first(self, node: FieldNode) -> int | None:
        for argument in node.arguments or ():
            if argument.name.value != "first":
                continue
            if isinstance(argument.value, IntValueNode):
                return max(0, int(argument.value.value))
            if isinstance(argument.value, VariableNode):
                # Validation is cached per document, so variables cannot count: assume the cap.
                return MAX_PAGE
        return None


def extensions() -> list[Callable[[], SchemaExtension]]:
    """Factories, not instances: strawberry builds each extension per operation (DESIGN.md 11)."""
    return [
        partial(QueryDepthLimiter, max_depth=MAX_DEPTH),
        partial(MaxAliasesLimiter, max_alias_count=MAX_ALIASES),
        partial(MaxTokensLimiter, max_token_count=MAX_TOKENS),
        partial(AddValidationRules, [QueryCostRule]),
        partial(ParserCache, maxsize=512),
        partial(ValidationCache, maxsize=512),
    ]
