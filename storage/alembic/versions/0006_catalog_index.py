"""catalog index

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-21 08:36:38.553945
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A catalog page walks this index in its order and counts from it alone (no table reads, no sort).
    op.create_index(
        "ix_products_catalog",
        "products",
        ["category_id", "active", sa.text("featured DESC"), "name", "id"],
    )


def downgrade() -> None:
    op.drop_index("ix_products_catalog", table_name="products")
