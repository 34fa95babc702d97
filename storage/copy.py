"""Copying a whole shop from one database to another (``orderbot db copy SRC DST``): SQLite → PostgreSQL.

The destination is brought to the current schema and must be empty; every table is copied in dependency
order in one transaction (all or nothing), through the models' column types, so times stay aware UTC
and money stays integers. On PostgreSQL the id sequences are moved past the copied ids.
"""

from __future__ import annotations

from sqlalchemy import func, insert, select, text

from .db import create_engine
from .migrations import upgrade
from .models import Base


class CopyRefused(Exception):
    pass


async def copy_database(source_url: str, target_url: str, batch: int = 1000) -> dict[str, int]:
    """Returns how many rows each table received."""
    source, target = create_engine(source_url), create_engine(target_url)
    tables = Base.metadata.sorted_tables
    try:
        await upgrade(source)
        await upgrade(target)
        async with target.connect() as connection:
            for table in tables:
                if await connection.scalar(select(func.count()).select_from(table)):
                    raise CopyRefused(f"the target database is not empty (table {table.name} has rows)")
        copied: dict[str, int] = {}
        async with source.connect() as reader, target.begin() as writer:
            for table in tables:
                copied[table.name] = 0
                result = await reader.stream(select(table))
                async for rows in result.partitions(batch):
                    await writer.execute(insert(table), [dict(row._mapping) for row in rows])
                    copied[table.name] += len(rows)
            if target.dialect.name == "postgresql":
                for table in tables:
                    if (
                        "id" in table.c
                        and table.c.id.autoincrement is not False
                        and len(table.primary_key) == 1
                    ):
                        await writer.execute(
                            text(
                                f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
                                f"COALESCE((SELECT MAX(id) FROM {table.name}), 0) + 1, false)"
                            )
                        )
        return copied
    finally:
        await source.dispose()
        await target.dispose()
