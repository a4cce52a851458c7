"""ingestion jobs wait out an unavailable embedder or vector store

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-26 23:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa

import youworker.models.base
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("ingestion_jobs", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "not_before", youworker.models.base.UTCDateTime(timezone=True), nullable=True
            )
        )
        batch_op.add_column(sa.Column("waits", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("ingestion_jobs", schema=None) as batch_op:
        batch_op.drop_column("waits")
        batch_op.drop_column("not_before")
