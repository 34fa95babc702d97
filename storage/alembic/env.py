"""Alembic environment: runs on a connection we hand it (see storage.migrations), or on DATABASE_URL."""

from __future__ import annotations

import asyncio
import os
from typing import Any, Literal

from alembic import context
from sqlalchemy.engine import Connection

from storage.db import create_engine
from storage.migrations import include_name
from storage.models import Base, UTCDateTime

config = context.config
target_metadata = Base.metadata


def render_item(kind: str, item: Any, autogen_context: Any) -> str | Literal[False]:
    """Migrations name plain SQLAlchemy types, so old revisions never import today's model code."""
    if kind == "type" and isinstance(item, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def run_with(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_item=render_item,
        render_as_batch=connection.dialect.name == "sqlite",  # SQLite alters tables by copying them
        compare_type=True,
        include_name=include_name,
    )
    with context.begin_transaction():
        context.run_migrations()


async def run_from_url() -> None:
    url = config.get_main_option("sqlalchemy.url") or os.environ.get(
        "DATABASE_URL", "sqlite+aiosqlite:///./orderbot.db"
    )
    engine = create_engine(url)
    async with engine.connect() as connection:
        await connection.run_sync(run_with)
        await connection.commit()
    await engine.dispose()


if context.is_offline_mode():
    context.configure(
        url=config.get_main_option("sqlalchemy.url"), target_metadata=target_metadata, literal_binds=True
    )
    with context.begin_transaction():
        context.run_migrations()
elif (given := config.attributes.get("connection")) is not None:
    run_with(given)
else:
    asyncio.run(run_from_url())
