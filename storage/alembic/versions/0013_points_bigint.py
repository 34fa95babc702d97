"""points: 64-bit, like the money they come from

Points grow with the money paid, and the largest order the shop takes (``shop.limits``) earns more than
a 32-bit column holds: PostgreSQL refused the account's new balance and the payment failed. SQLite's
INTEGER is 64-bit already; its columns are left as they are.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07 03:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = (
    ("loyalty_accounts", "balance"),
    ("loyalty_accounts", "lifetime"),
    ("loyalty_ledger", "points"),
    ("loyalty_ledger", "balance_after"),
    ("orders", "points_used"),
)


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table, column in COLUMNS:
        op.alter_column(table, column, type_=sa.BigInteger(), existing_type=sa.Integer())


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table, column in COLUMNS:
        op.alter_column(table, column, type_=sa.Integer(), existing_type=sa.BigInteger())
