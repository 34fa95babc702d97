"""The migrations build exactly the schema the models describe, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.command import downgrade
from alembic.runtime.migration import MigrationContext
from sqlalchemy import insert, select, text, update
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from storage.db import create_engine
from storage.migrations import alembic_config, current_revision, include_name, upgrade
from storage.models import Base, Customer, LoyaltyAccount, LoyaltyEntry, Product


async def test_autogenerate_finds_no_difference(engine: AsyncEngine) -> None:
    def differences(connection: Connection) -> list[Any]:
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "include_name": include_name}
        )
        return compare_metadata(context, Base.metadata)

    async with engine.connect() as connection:
        assert await connection.run_sync(differences) == []
    assert await current_revision(engine) == "0016"


async def test_search_index_keeps_only_active_products_from_an_older_database(tmp_path: Path) -> None:
    """0007 empties the SQLite search index of hidden products an older database had indexed, and
    downgrading indexes every product again."""
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'old.db'}")
    matches = text("SELECT rowid FROM products_fts WHERE products_fts MATCH '\"tea\"' ORDER BY rowid")
    try:
        await upgrade(engine, "0006")
        async with engine.begin() as connection:
            await connection.execute(
                insert(Product),
                [
                    {
                        "sku": "A",
                        "name": "Green tea",
                        "price_minor": 1,
                        "stock": 1,
                        "active": True,
                        "search_text": "green tea a",
                    },
                    {
                        "sku": "B",
                        "name": "Old tea",
                        "price_minor": 1,
                        "stock": 1,
                        "active": False,
                        "search_text": "old tea b",
                    },
                ],
            )
            assert list(await connection.scalars(matches)) == [1, 2]
        await upgrade(engine)
        async with engine.begin() as connection:
            assert list(await connection.scalars(matches)) == [1]
            await connection.execute(
                text("INSERT INTO products_fts(products_fts) VALUES ('integrity-check')")
            )
        async with engine.begin() as connection:
            await connection.run_sync(lambda sync: downgrade(alembic_config(connection=sync), "0006"))
        async with engine.begin() as connection:
            assert list(await connection.scalars(matches)) == [1, 2]
    finally:
        await engine.dispose()


async def test_loyalty_accounts_learn_when_their_points_expire_from_an_older_database(tmp_path: Path) -> None:
    """0011 starts ``next_expiry`` at the earliest credit of each account holding points (never later
    than the soonest expiry held; the expiry job settles it), and a balance may go below zero after it."""
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'old.db'}")
    soon, later = datetime(2027, 1, 1, tzinfo=UTC), datetime(2027, 6, 1, tzinfo=UTC)
    try:
        await upgrade(engine, "0010")
        async with engine.begin() as connection:
            await connection.execute(insert(Customer), [{"telegram_id": 1}, {"telegram_id": 2}])
            await connection.execute(
                insert(LoyaltyAccount).values(updated_at=soon),
                [
                    {"customer_id": 1, "balance": 30, "lifetime": 30},
                    {"customer_id": 2, "balance": 0, "lifetime": 10},
                ],
            )
            entry = {"kind": "earned", "actor": "system", "created_at": soon, "order_id": None}
            await connection.execute(
                insert(LoyaltyEntry),
                [
                    {**entry, "customer_id": 1, "points": 20, "balance_after": 20, "expires_at": later},
                    {**entry, "customer_id": 1, "points": 10, "balance_after": 30, "expires_at": soon},
                    {**entry, "customer_id": 2, "points": 10, "balance_after": 10, "expires_at": soon},
                    {
                        **entry,
                        "customer_id": 2,
                        "kind": "expired",
                        "points": -10,
                        "balance_after": 0,
                        "expires_at": None,
                    },
                ],
            )
        await upgrade(engine)
        async with engine.begin() as connection:
            accounts = select(LoyaltyAccount.customer_id, LoyaltyAccount.next_expiry).order_by("customer_id")
            assert list(await connection.execute(accounts)) == [(1, soon), (2, None)]
            await connection.execute(update(LoyaltyAccount).values(balance=-5))
    finally:
        await engine.dispose()


async def test_translations_come_to_an_older_database_and_keep_the_search_index(tmp_path: Path) -> None:
    """0015 adds the translation columns in place: products keep their rows and the SQLite search index
    its triggers (a table rebuilt in batch mode would lose them), both ways."""
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'old.db'}")
    matches = text("SELECT rowid FROM products_fts WHERE products_fts MATCH :word ORDER BY rowid")
    row = {
        "sku": "A",
        "name": "Green tea",
        "price_minor": 1,
        "stock": 1,
        "active": True,
        "search_text": "green tea a",
    }
    try:
        await upgrade(engine, "0014")
        async with engine.begin() as connection:
            await connection.execute(insert(Product), [row])  # no translations: 0014 has no such column
        await upgrade(engine)
        async with engine.begin() as connection:
            await connection.execute(
                update(Product).values(
                    translations={"ru": {"name": "Зелёный чай"}}, search_text="green tea a зелёный чай"
                )
            )
        async with engine.begin() as connection:
            assert list(await connection.scalars(matches, {"word": '"зелёный"'})) == [1]
            assert (await connection.execute(select(Product.translations))).scalar_one() == {
                "ru": {"name": "Зелёный чай"}
            }
        async with engine.begin() as connection:
            await connection.run_sync(lambda sync: downgrade(alembic_config(connection=sync), "0014"))
        async with engine.begin() as connection:
            await connection.execute(text("UPDATE products SET search_text = 'green tea a'"))
            assert list(await connection.scalars(matches, {"word": '"green"'})) == [1]
            assert list(await connection.scalars(matches, {"word": '"зелёный"'})) == []
            await connection.execute(
                text("INSERT INTO products_fts(products_fts) VALUES ('integrity-check')")
            )
    finally:
        await engine.dispose()
