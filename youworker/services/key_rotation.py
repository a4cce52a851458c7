"""Re-encrypting chat data under the newest Fernet key, in batches; safe to stop and rerun."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import SQLModel, col, select

from youworker.logging import get_logger
from youworker.models import Message, ToolCall
from youworker.services import audit
from youworker.services.encryption import MessageCipher

log = get_logger(__name__)

ENCRYPTED_COLUMNS: dict[type[SQLModel], tuple[str, ...]] = {
    Message: ("content_enc", "thinking_enc"),
    ToolCall: ("arguments_enc", "result_enc", "error_enc"),
}


@dataclass
class RotationReport:
    scanned: int = 0
    rotated: int = 0


async def rotate_all(
    session: AsyncSession, cipher: MessageCipher, batch_size: int = 500
) -> RotationReport:
    """Rewrite every token not yet under the newest key; each batch commits on its own."""
    report = RotationReport()
    for model, columns in ENCRYPTED_COLUMNS.items():
        last_id: uuid.UUID | None = None
        id_column = col(model.id)  # type: ignore[attr-defined]
        while True:
            statement = select(model).order_by(id_column).limit(batch_size)
            if last_id is not None:
                statement = statement.where(id_column > last_id)
            rows = list(await session.scalars(statement))
            if not rows:
                break
            for row in rows:
                report.scanned += 1
                changed = False
                for column in columns:
                    token = getattr(row, column)
                    if token and not cipher.is_current(token):
                        setattr(row, column, cipher.rotate(token))
                        changed = True
                report.rotated += changed
            last_id = rows[-1].id  # type: ignore[attr-defined]
            await session.commit()
            log.info(
                "key_rotation.batch",
                table=model.__tablename__,
                rows=len(rows),
                rotated_so_far=report.rotated,
            )
    audit.record(session, "security.key_rotation", scanned=report.scanned, rotated=report.rotated)
    await session.commit()
    return report
