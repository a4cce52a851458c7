"""Re-encrypting chat data under the newest Fernet key, in batches; safe to stop and rerun."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import SQLModel

from youworker.db import rows_affected
from youworker.logging import get_logger
from youworker.models import Message, OutboxMail, ToolCall
from youworker.services import audit
from youworker.services.encryption import MessageCipher

log = get_logger(__name__)

ENCRYPTED_COLUMNS: dict[type[SQLModel], tuple[str, ...]] = {
    Message: ("content_enc", "thinking_enc"),
    ToolCall: ("arguments_enc", "result_enc", "error_enc"),
    OutboxMail: ("body_enc",),
}


@dataclass
class RotationReport:
    scanned: int = 0
    rotated: int = 0


async def rotate_all(
    session: AsyncSession, cipher: MessageCipher, batch_size: int = 500
) -> RotationReport:
    """Rewrite every token not yet under the newest key; each batch commits on its own.

    Each write is conditional on the token still being the one read, so an answer saved while
    rotation runs is never overwritten with stale text (it is already under the newest key).
    """
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    report = RotationReport()
    for model, columns in ENCRYPTED_COLUMNS.items():
        table = model.__table__  # type: ignore[attr-defined]
        last_id: uuid.UUID | None = None
        while True:
            statement = (
                select(table.c.id, *(table.c[name] for name in columns))
                .order_by(table.c.id)
                .limit(batch_size)
            )
            if last_id is not None:
                statement = statement.where(table.c.id > last_id)
            rows = (await session.execute(statement)).all()
            if not rows:
                break
            for row_id, *tokens in rows:
                report.scanned += 1
                changes = {
                    name: cipher.rotate(token)
                    for name, token in zip(columns, tokens, strict=True)
                    if token and not cipher.is_current(token)
                }
                if not changes:
                    continue
                guard = [
                    table.c[name] == token
                    for name, token in zip(columns, tokens, strict=True)
                    if name in changes
                ]
                result = await session.execute(
                    update(table).where(table.c.id == row_id, *guard).values(**changes)
                )
                report.rotated += rows_affected(result)
            last_id = rows[-1][0]
            await session.commit()
            log.info(
                "key_rotation.batch",
                table=table.name,
                rows=len(rows),
                rotated_so_far=report.rotated,
            )
    audit.record(session, "security.key_rotation", scanned=report.scanned, rotated=report.rotated)
    await session.commit()
    return report
