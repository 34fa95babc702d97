"""Schema migrations (Alembic), callable from a running program: ``await upgrade(engine)``."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

log = logging.getLogger("orderbot")
SCRIPTS = Path(__file__).with_name("alembic")
# Indexes made by SQL in migrations, which autogenerate cannot compare on every engine: the search
# indexes (0005) and the catalog page's ordered index with a DESC column (0006).
OUTSIDE_MODELS = ("products_fts", "ix_products_search_trgm", "ix_products_catalog")


def include_name(name: str | None, type_: str, parent_names: Any) -> bool:
    """What autogenerate compares: everything but the engine-specific search indexes."""
    return not (name or "").startswith(OUTSIDE_MODELS)


def alembic_config(url: str | None = None, connection: Connection | None = None) -> Config:
    """Alembic's configuration for our scripts, on a database ``url`` or an open ``connection``."""
    config = Config()
    config.set_main_option("script_location", str(SCRIPTS))
    if url:
        config.set_main_option("sqlalchemy.url", url)
    config.attributes["connection"] = connection
    return config


async def upgrade(engine: AsyncEngine, revision: str = "head") -> None:
    """Bring the database to ``revision`` (creates the SQLite file on first start). Alembic's own lines
    (its engine, each step) are left out of the log; one line says what changed, if anything."""
    from alembic.runtime.migration import MigrationContext

    def run(connection: Connection) -> tuple[str | None, str | None]:
        before = MigrationContext.configure(connection).get_current_revision()
        command.upgrade(alembic_config(connection=connection), revision)
        return before, MigrationContext.configure(connection).get_current_revision()

    alembic_log = logging.getLogger("alembic")
    level = alembic_log.level
    alembic_log.setLevel(logging.WARNING)
    try:
        async with engine.begin() as connection:
            before, after = await connection.run_sync(run)
    finally:
        alembic_log.setLevel(level)
    if before != after:
        log.info("database schema upgraded from %s to %s", before or "nothing", after)


async def current_revision(engine: AsyncEngine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    def read(connection: Connection) -> str | None:
        return MigrationContext.configure(connection).get_current_revision()

    async with engine.connect() as connection:
        return await connection.run_sync(read)
