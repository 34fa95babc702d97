"""catalog translations: products, categories and order lines carry their names in other languages

A Russian-speaking customer saw an all-English menu. Each row now has an optional JSON ``translations``
(``{"ru": {"name": ..., "description": ...}}``; an order's line keeps the names it was sold under), so
another language needs no new columns. Added as nullable columns: no table is rebuilt (SQLite keeps the
search index's triggers on ``products``).

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-09 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("categories", "products", "order_items")


def upgrade() -> None:
    for table in TABLES:
        op.add_column(table, sa.Column("translations", sa.JSON(none_as_null=True), nullable=True))


def downgrade() -> None:
    for table in TABLES:
        if op.get_bind().dialect.name == "sqlite":
            # SQLite drops a column in place (3.35+); batch mode would rebuild ``products`` and lose the
            # search index's triggers.
            op.execute(f"ALTER TABLE {table} DROP COLUMN translations")
        else:
            op.drop_column(table, "translations")
