"""analytics: the messages index covers what the dashboard reads (PostgreSQL)

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26 17:20:00.000000

The dashboard counts messages, sums tokens and takes latency medians per day; with these
columns in `ix_messages_created` PostgreSQL answers from the index alone (index-only scan)
instead of reading the wide message rows. SQLite has no INCLUDE: its index stays as it is.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COVERED = ["role", "conversation_id", "prompt_tokens", "completion_tokens", "latency_ms", "ttft_ms"]


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.drop_index("ix_messages_created", table_name="messages")
    op.create_index("ix_messages_created", "messages", ["created_at"], postgresql_include=COVERED)


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.drop_index("ix_messages_created", table_name="messages")
    op.create_index("ix_messages_created", "messages", ["created_at"])
