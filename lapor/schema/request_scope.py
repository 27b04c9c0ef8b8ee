"""Ends the request's shared read transaction when the operation is done."""

from __future__ import annotations

from collections.abc import AsyncIterator

from strawberry.extensions import SchemaExtension

from lapor.schema.context import LaporContext


class CloseRequestDatabase(SchemaExtension):
    async def on_operation(self) -> AsyncIterator[None]:
        try:
            yield
        finally:  # also when execution raised: a leaked transaction would drain the pool
            context = self.execution_context.context
            if isinstance(context, LaporContext) and "reader" in context.__dict__:
                await context.reader.close()
