"""conversation titles are stored encrypted (title_enc), like messages

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07 14:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UNTITLED = "New chat"
BATCH = 1000


def _cipher():  # type: ignore[no-untyped-def]
    # Only an installation with titled conversations needs its key here.
    from youworker.services.encryption import get_cipher

    return get_cipher()


def upgrade() -> None:
    with op.batch_alter_table("conversations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("title_enc", sa.Text(), nullable=True))
    connection = op.get_bind()
    titled = sa.text("SELECT id, title FROM conversations WHERE title <> :untitled")
    rows = connection.execute(titled, {"untitled": UNTITLED}).all()
    if rows:
        cipher = _cipher()
        update = sa.text("UPDATE conversations SET title_enc = :token WHERE id = :id")
        for start in range(0, len(rows), BATCH):
            connection.execute(
                update,
                [
                    {"token": cipher.encrypt(title), "id": i}
                    for i, title in rows[start : start + BATCH]
                ],
            )
    with op.batch_alter_table("conversations", schema=None) as batch_op:
        batch_op.drop_column("title")


def downgrade() -> None:
    with op.batch_alter_table("conversations", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "title",
                sa.String(length=200),
                nullable=False,
                server_default=UNTITLED,
            )
        )
    connection = op.get_bind()
    rows = connection.execute(
        sa.text("SELECT id, title_enc FROM conversations WHERE title_enc IS NOT NULL")
    ).all()
    if rows:
        cipher = _cipher()
        update = sa.text("UPDATE conversations SET title = :title WHERE id = :id")
        for start in range(0, len(rows), BATCH):
            connection.execute(
                update,
                [
                    {"title": cipher.decrypt(t)[:200], "id": i}
                    for i, t in rows[start : start + BATCH]
                ],
            )
    with op.batch_alter_table("conversations", schema=None) as batch_op:
        batch_op.drop_column("title_enc")
