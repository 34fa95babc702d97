"""outbox: whose personal data a message carries

A message to a customer, and a staff alert about their order (name, phone, address, notes, a receipt
photo), kept that data in the outbox after the customer asked to be forgotten. ``about_customer_id``
names the customer, so erasing them erases those rows too; rows from before it are found by chat.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-05 07:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("about_customer_id", sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f("ix_outbox_about_customer_id"), ["about_customer_id"], unique=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_outbox_about_customer_id_customers"),
            "customers",
            ["about_customer_id"],
            ["id"],
            ondelete="CASCADE",
        )


def downgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_outbox_about_customer_id_customers"), type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_outbox_about_customer_id"))
        batch_op.drop_column("about_customer_id")
