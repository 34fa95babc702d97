"""catalog translations: products, categories and order lines carry their names in other languages

Each row has an optional JSON ``translations`` (``{"ru": {"name": ..., "description": ...}}``; an
order's line keeps the names it was sold under), so another language needs no new columns. Added as
nullable columns: no table is rebuilt (SQLite keeps the search index's triggers on ``products``). The
search text has ё as е, as searches are typed (``shop.catalog.searchable``).

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("categories", "products", "order_items")


TRANSLATIONS = sa.JSON(none_as_null=True).with_variant(JSONB(none_as_null=True), "postgresql")


def upgrade() -> None:
    for table in TABLES:
        op.add_column(table, sa.Column("translations", TRANSLATIONS, nullable=True))
    op.execute("UPDATE products SET search_text = replace(search_text, 'ё', 'е')")


def downgrade() -> None:
    for table in TABLES:
        op.drop_column(table, "translations")  # in place on SQLite too: its search triggers stay
