"""Downloading a document's original file (any credential the API accepts).

The REST API's documents live in api/v1/documents.py; this route is the one the pages link to.
"""

from __future__ import annotations

import uuid
from urllib.parse import quote

from fastapi import APIRouter, Response

from youworker.api.errors import ERROR_RESPONSES
from youworker.api.principal import CurrentPrincipal, DbSession
from youworker.services import runtime
from youworker.services.documents import library
from youworker.services.errors import NotFound

router = APIRouter()


def content_disposition(name: str) -> str:
    """`attachment` with an ASCII fallback and the exact UTF-8 name (RFC 6266 / 5987)."""
    fallback = "".join(
        c if c.isascii() and c.isprintable() and c not in '"\\;' else "_" for c in name
    )
    return f"attachment; filename=\"{fallback or 'document'}\"; filename*=UTF-8''{quote(name)}"


@router.get(
    "/api/documents/{document_id}/download",
    response_class=Response,
    responses={
        200: {
            "description": "The original file, with its own media type",
            "content": {"*/*": {"schema": {"type": "string", "format": "binary"}}},
        },
        **ERROR_RESPONSES,
    },
)
async def download(document_id: str, principal: CurrentPrincipal, db: DbSession) -> Response:
    try:
        parsed = uuid.UUID(document_id)
    except ValueError:
        raise NotFound(library.NOT_FOUND) from None
    document, data, media_type = await library.original_file(
        db, principal.user, parsed, runtime.get_file_store()
    )
    return Response(
        content=data,
        media_type=media_type,
        headers={
            "Content-Disposition": content_disposition(document.name),
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "private, no-store",
        },
    )
