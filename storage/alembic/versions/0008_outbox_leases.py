"""outbox leases kept apart from due times

A row a worker has claimed is marked ``leased_until`` instead of being pushed to a later ``due_at``, so
every worker can tell a chat whose messages are on their way (its newer rows wait) from one whose next
message is simply due later (quiet hours). Two partial indexes let a claim ask about chats without
reading a broadcast's thousands of waiting rows.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04 18:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


PENDING = "status = 'pending'"  # as storage.models has them
ON_ITS_WAY = "(leased_until IS NOT NULL OR last_error IS NOT NULL)"


def upgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("leased_until", sa.DateTime(timezone=True), nullable=True))
    pending, busy = sa.text(PENDING), sa.text(f"{PENDING} AND {ON_ITS_WAY}")
    op.create_index(
        "ix_outbox_pending_chat", "outbox", ["chat_id", "id"], sqlite_where=pending, postgresql_where=pending
    )
    op.create_index("ix_outbox_busy_chat", "outbox", ["chat_id"], sqlite_where=busy, postgresql_where=busy)


def downgrade() -> None:
    op.drop_index("ix_outbox_busy_chat", table_name="outbox")
    op.drop_index("ix_outbox_pending_chat", table_name="outbox")
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_column("leased_until")
