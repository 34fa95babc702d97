"""loyalty: a balance may go below zero; accounts know when their soonest points expire

Taking back the points of a refunded or cancelled order takes all it earned, even if the customer spent
them, so the balance may be negative until new points make it up: the two ``balance >= 0`` checks go.
``loyalty_accounts.next_expiry`` (never later than the soonest expiry of the points held) lets the expiry
job find whom to look at; points returned from a cancelled order keep their old expiry, so the ledger's
sums no longer tell. It starts at the customer's earliest credit, and the job settles it.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-08 07:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("loyalty_accounts", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_loyalty_accounts_balance_not_negative"), type_="check")
        batch_op.add_column(sa.Column("next_expiry", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index(batch_op.f("ix_loyalty_accounts_next_expiry"), ["next_expiry"], unique=False)
    with op.batch_alter_table("loyalty_ledger", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_loyalty_ledger_balance_not_negative"), type_="check")
    op.execute(
        "UPDATE loyalty_accounts SET next_expiry = (SELECT MIN(expires_at) FROM loyalty_ledger"
        " WHERE loyalty_ledger.customer_id = loyalty_accounts.customer_id AND points > 0)"
        " WHERE balance > 0"
    )


def downgrade() -> None:
    """Fails while any balance is below zero: the older schema cannot hold one."""
    with op.batch_alter_table("loyalty_ledger", schema=None) as batch_op:
        batch_op.create_check_constraint(
            batch_op.f("ck_loyalty_ledger_balance_not_negative"), "balance_after >= 0"
        )
    with op.batch_alter_table("loyalty_accounts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_loyalty_accounts_next_expiry"))
        batch_op.drop_column("next_expiry")
        batch_op.create_check_constraint(
            batch_op.f("ck_loyalty_accounts_balance_not_negative"), "balance >= 0"
        )
