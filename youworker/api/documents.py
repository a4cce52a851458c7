"""Downloading a document's original file (session cookie or API key)."""

from __future__ import annotations

import uuid
from urllib.parse import quote

from fastapi import APIRouter, HTTPException, Request, Response

from youworker.api.deps import current_user
from youworker.db import session_scope
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
        }
    },
)
async def download(document_id: str, request: Request) -> Response:
    user = await current_user(request)
    if user is None:
        raise HTTPException(status_code=401, detail="sign in to download documents")
    try:
        parsed = uuid.UUID(document_id)
    except ValueError:
        raise HTTPException(status_code=404, detail=library.NOT_FOUND) from None
    try:
        async with session_scope() as db:
            document, data, media_type = await library.original_file(
                db, user, parsed, runtime.get_file_store()
            )
    except NotFound as exc:
        raise HTTPException(status_code=404, detail=exc.message) from None
    return Response(
        content=data,
        media_type=media_type,
        headers={
            "Content-Disposition": content_disposition(document.name),
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "private, no-store",
        },
    )
