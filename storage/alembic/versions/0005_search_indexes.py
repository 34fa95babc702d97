"""search indexes: SQLite FTS5 (trigram) and PostgreSQL pg_trgm on products.search_text

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-21 08:25:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SQLITE = [
    "CREATE VIRTUAL TABLE products_fts USING fts5("
    "search_text, content='products', content_rowid='id', tokenize='trigram')",
    "CREATE TRIGGER products_fts_insert AFTER INSERT ON products BEGIN "
    "INSERT INTO products_fts(rowid, search_text) VALUES (new.id, new.search_text); END",
    "CREATE TRIGGER products_fts_delete AFTER DELETE ON products BEGIN "
    "INSERT INTO products_fts(products_fts, rowid, search_text) "
    "VALUES ('delete', old.id, old.search_text); END",
    "CREATE TRIGGER products_fts_update AFTER UPDATE OF search_text ON products BEGIN "
    "INSERT INTO products_fts(products_fts, rowid, search_text) VALUES ('delete', old.id, old.search_text); "
    "INSERT INTO products_fts(rowid, search_text) VALUES (new.id, new.search_text); END",
    "INSERT INTO products_fts(products_fts) VALUES ('rebuild')",
]


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        for statement in SQLITE:
            op.execute(statement)
    elif bind.dialect.name == "postgresql":
        # pg_trgm ships with PostgreSQL; a role that may not create extensions keeps searching unindexed.
        with bind.begin_nested() as savepoint:
            try:
                bind.execute(sa.text("CREATE EXTENSION IF NOT EXISTS pg_trgm"))
            except sa.exc.DBAPIError:
                savepoint.rollback()
                return
        op.execute("CREATE INDEX ix_products_search_trgm ON products USING gin (search_text gin_trgm_ops)")


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        for trigger in ("insert", "delete", "update"):
            op.execute(f"DROP TRIGGER IF EXISTS products_fts_{trigger}")
        op.execute("DROP TABLE IF EXISTS products_fts")
    elif bind.dialect.name == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_products_search_trgm")
