"""update inbox: long polling keeps the updates it takes until they are handled

Long polling confirmed updates to Telegram only once handled, holding ``getUpdates``' offset at the
oldest one still running: every poll meanwhile brought back (and parsed again) all the updates after it,
and a new update waited behind a slow one. Updates are now kept in this table, in one transaction per
poll, before the offset moves past them; each is deleted once handled, and a start handles what a crash
left here.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07 06:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "update_inbox",
        sa.Column("bot_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("update_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("bot_id", "update_id", name=op.f("pk_update_inbox")),
    )


def downgrade() -> None:
    op.drop_table("update_inbox")
