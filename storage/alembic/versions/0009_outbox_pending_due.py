"""outbox: the due-time index holds pending rows only

``ix_outbox_status_due`` (status, due_at) covered every row, sent history included, and matched the
claim's ``status = 'pending'`` term by its first column, so SQLite's planner (no statistics) took it for
the claim's per-chat check as well: a scan of every pending row — a 20 000-row broadcast's, 5-8 ms per
claim — instead of the chat index. Partial on the same condition as the chat indexes, it is chosen for
what it is good at (the claim's order by due time) and the chat index for the rest.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04 21:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


PENDING = "status = 'pending'"  # as storage.models has it


def upgrade() -> None:
    op.drop_index("ix_outbox_status_due", table_name="outbox")
    pending = sa.text(PENDING)
    op.create_index(
        "ix_outbox_pending_due", "outbox", ["due_at", "id"], sqlite_where=pending, postgresql_where=pending
    )


def downgrade() -> None:
    op.drop_index("ix_outbox_pending_due", table_name="outbox")
    op.create_index("ix_outbox_status_due", "outbox", ["status", "due_at"])
