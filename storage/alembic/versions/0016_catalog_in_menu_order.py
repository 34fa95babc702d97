"""catalog in menu order: the catalog page's index follows the order pages are shown in

A category's products are shown featured first, then in the order the catalog file first listed them
(by id), the same in every language; the index a page walks (0006) is that order now, so a page is
still read in order and counted from the index alone, with no sort.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _catalog_index(*columns: str) -> None:
    op.drop_index("ix_products_catalog", table_name="products")
    op.create_index(
        "ix_products_catalog", "products", ["category_id", "active", sa.text("featured DESC"), *columns]
    )


def upgrade() -> None:
    _catalog_index("id")


def downgrade() -> None:
    _catalog_index("name", "id")
