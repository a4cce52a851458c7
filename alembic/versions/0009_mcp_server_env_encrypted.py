"""MCP server environments are stored encrypted (env_enc), no longer as plain JSON

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07 13:00:00.000000
"""

import json
from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _as_dict(value: object) -> dict[str, str]:
    # JSON comes back as text on SQLite and as a dict on PostgreSQL.
    loaded = json.loads(value) if isinstance(value, str) else value
    return {str(k): str(v) for k, v in dict(loaded or {}).items()}


def upgrade() -> None:
    with op.batch_alter_table("mcp_servers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("env_enc", sa.Text(), nullable=True))
    connection = op.get_bind()
    rows = [
        (row_id, _as_dict(env))
        for row_id, env in connection.execute(sa.text("SELECT id, env FROM mcp_servers"))
    ]
    if any(env for _, env in rows):
        # Only an installation with stored environments needs its key here.
        from youworker.services.encryption import get_cipher

        cipher = get_cipher()
        for row_id, env in rows:
            if env:
                connection.execute(
                    sa.text("UPDATE mcp_servers SET env_enc = :token WHERE id = :id"),
                    {"token": cipher.encrypt(json.dumps(env, sort_keys=True)), "id": row_id},
                )
    with op.batch_alter_table("mcp_servers", schema=None) as batch_op:
        batch_op.drop_column("env")


def downgrade() -> None:
    with op.batch_alter_table("mcp_servers", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("env", sa.JSON(), nullable=False, server_default=sa.text("'{}'"))
        )
    connection = op.get_bind()
    rows = list(connection.execute(sa.text("SELECT id, env_enc FROM mcp_servers")))
    if any(token for _, token in rows):
        from youworker.services.encryption import get_cipher

        cipher = get_cipher()
        statement = (
            "UPDATE mcp_servers SET env = CAST(:env AS JSON) WHERE id = :id"
            if connection.dialect.name == "postgresql"
            else "UPDATE mcp_servers SET env = :env WHERE id = :id"
        )
        for row_id, token in rows:
            if token:
                connection.execute(
                    sa.text(statement),
                    {"env": cipher.decrypt(token), "id": row_id},
                )
    with op.batch_alter_table("mcp_servers", schema=None) as batch_op:
        batch_op.drop_column("env_enc")
