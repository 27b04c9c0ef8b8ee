"""The read fields' permission classes: each asks the domain read path (``reads.authorize``).

Put on root fields only (and on ``Complaint.reporter``), so the caller is checked once per field
before its arguments are translated, as DESIGN.md section 11 asks; the domain methods the
resolvers then call check again, for every other adapter that calls them.
"""

from __future__ import annotations

from typing import Any, ClassVar

from strawberry.permission import BasePermission

from lapor.schema.context import LaporContext
from lapor.tenants.complaints import reads


class _DomainRead(BasePermission):
    need: ClassVar[str]

    def has_permission(self, source: Any, info: Any, **kwargs: Any) -> bool:
        context: LaporContext = info.context
        reads.authorize(context.staff(), self.need, subject="field")
        return True


class ReadsComplaints(_DomainRead):
    need = reads.READ_SCOPE


class ReadsReporters(_DomainRead):
    need = reads.IDENTITY_SCOPE
