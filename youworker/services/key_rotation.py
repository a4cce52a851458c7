"""Re-encrypting data at rest under the newest Fernet key, in batches; safe to stop and rerun.

The columns come from the models: every column named `*_enc` on any table (models/base.py), so a
new encrypted column is rotated without anyone remembering to list it here.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Column, Table, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import SQLModel

from youworker import models  # noqa: F401  (registers every table on SQLModel.metadata)
from youworker.db import rows_affected
from youworker.logging import get_logger
from youworker.models.base import encrypted_columns
from youworker.services import audit
from youworker.services.encryption import MessageCipher

log = get_logger(__name__)


def rotated_columns() -> dict[Table, tuple[str, ...]]:
    """The columns `rotate_all` rewrites: every `*_enc` column of every table."""
    return encrypted_columns(SQLModel.metadata)


def _key_column(table: Table) -> Column[object]:
    keys = list(table.primary_key.columns)
    if len(keys) != 1:
        raise RuntimeError(f"{table.name}: encrypted columns need a table with a one-column key")
    return keys[0]


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
    for table, columns in rotated_columns().items():
        key = _key_column(table)
        last_id: object = None
        while True:
            statement = (
                select(key, *(table.c[name] for name in columns)).order_by(key).limit(batch_size)
            )
            if last_id is not None:
                statement = statement.where(key > last_id)
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
                    update(table).where(key == row_id, *guard).values(**changes)
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
