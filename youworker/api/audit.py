"""GET /api/admin/audit.csv: the audit log as CSV (any credential the API accepts), streamed."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse

from youworker.api.deps import request_context
from youworker.api.errors import ERROR_RESPONSES, ErrorResponse
from youworker.api.principal import CurrentPrincipal, DbSession
from youworker.db import session_scope
from youworker.models import User
from youworker.services.audit import trail

router = APIRouter()

Text = Annotated[str, Query(max_length=300)]


@router.get(
    "/api/admin/audit.csv",
    response_class=StreamingResponse,
    responses={
        200: {
            "description": "The filtered audit log as CSV, streamed",
            "content": {"text/csv": {"schema": {"type": "string"}}},
        },
        403: {
            "model": ErrorResponse,
            "description": "Administrators, or group admins for their group",
        },
        **ERROR_RESPONSES,
    },
)
async def export_audit_csv(
    request: Request,
    principal: CurrentPrincipal,
    db: DbSession,
    actor: Text = "",
    action: Text = "",
    resource_type: Text = "",
    resource_id: Text = "",
    group_id: Text = "",
    start: Text = "",
    end: Text = "",
) -> StreamingResponse:
    user = principal.user
    filters = trail.AuditFilter.from_params(
        actor=actor,
        action=action,
        resource_type=resource_type,
        resource_id=resource_id,
        group_id=group_id,
        start=start,
        end=end,
    )
    filters = await trail.begin_export(db, user, filters, request_context(request))
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    return StreamingResponse(
        _lines(user, filters),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="audit-{stamp}.csv"',
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "private, no-store",
        },
    )


async def _lines(user: User, filters: trail.AuditFilter) -> AsyncIterator[str]:
    # The request's session is gone by now: the stream reads with its own.
    async with session_scope() as db:
        async for line in trail.export_csv(db, user, filters):
            yield line
