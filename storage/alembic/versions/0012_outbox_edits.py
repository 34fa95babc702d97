"""outbox: a message may replace one the chat has

The order confirmation used to be sent straight after the order was committed: a crash, or a 502 on
that call, left an order the customer was never told about. It is now an outbox row, written with the
order, that edits the checkout's summary into the confirmation (``edit_message_id``): at least once, and
an edit delivered twice still shows once.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07 03:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("edit_message_id", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_column("edit_message_id")
