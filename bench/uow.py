"""What one unit of work costs, at service level on SQLite (and PostgreSQL when configured).

Every update opens at least two units of work: the update's record with its customer (the
middleware's, before any handler) and the handler's. This measures, in CPU milliseconds of this
process per repetition, a unit of work with nothing in it, the middleware's own, and one read done
three ways — the ORM, SQLAlchemy Core on the session's connection, and Core on a bare connection
without a session — so the choices for the per-update path can be weighed in one run. The variants
take their turns in rounds and each figure is the median of its rounds.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncEngine

from shop.config import ShopConfig
from shop.customers import TelegramUser, identify
from storage.db import create_engine, create_session_factory
from storage.migrations import upgrade
from storage.models import Customer, Staff
from storage.uow import UnitOfWork

CONFIG = ShopConfig(currency="USD")
USER = TelegramUser(5, "Ann", None, None, "en")
# The customer with their staff role, as plain columns (the ORM's query is CustomerRepository's).
CUSTOMER_ROW = (
    select(*Customer.__table__.c, Staff.role)
    .outerjoin(Staff, Staff.telegram_id == Customer.telegram_id)
    .where(Customer.telegram_id == bindparam("telegram_id"))
)
Variant = Callable[[int], Awaitable[None]]


def variants(engine: AsyncEngine) -> dict[str, Variant]:
    factory = create_session_factory(engine)

    async def empty_writer(_: int) -> None:
        async with UnitOfWork(factory) as uow:
            await uow.begin_write()
            await uow.commit()

    async def update_preamble(update_id: int) -> None:  # what UnitOfWorkMiddleware does
        async with UnitOfWork(factory) as uow:
            await uow.begin_write()
            await uow.updates.mark_processed(1, update_id)
            await identify(uow, USER, CONFIG)
            await uow.commit()

    async def read_orm(_: int) -> None:
        async with UnitOfWork(factory) as uow:
            await uow.customers.with_staff_role(USER.id)
            await uow.commit()

    async def read_core_in_session(_: int) -> None:
        async with UnitOfWork(factory) as uow:
            connection = await uow.session.connection()
            (await connection.execute(CUSTOMER_ROW, {"telegram_id": USER.id})).first()
            await uow.commit()

    async def read_core_no_session(_: int) -> None:
        async with engine.connect() as connection:
            (await connection.execute(CUSTOMER_ROW, {"telegram_id": USER.id})).first()
            await connection.commit()

    return {
        "empty_writer_unit": empty_writer,
        "update_record_and_customer": update_preamble,
        "read_customer_orm": read_orm,
        "read_customer_core_in_session": read_core_in_session,
        "read_customer_core_without_session": read_core_no_session,
    }


async def measure(url: str, repetitions: int, rounds: int) -> dict[str, float]:
    engine = create_engine(url)
    try:
        await upgrade(engine)
        async with UnitOfWork(create_session_factory(engine)) as uow:
            await uow.begin_write()
            await identify(uow, USER, CONFIG)
            await uow.commit()
        taken: dict[str, list[float]] = {}
        update_id = 0
        chosen = variants(engine)
        for _ in range(rounds):
            for name, variant in chosen.items():
                for _ in range(20):  # warm: statements compiled and cached, connections open
                    update_id += 1
                    await variant(update_id)
                started = time.process_time()
                for _ in range(repetitions):
                    update_id += 1
                    await variant(update_id)
                taken.setdefault(name, []).append((time.process_time() - started) * 1000 / repetitions)
        return {f"{name}_ms": round(statistics.median(ms), 3) for name, ms in taken.items()}
    finally:
        await engine.dispose()


async def bench(repetitions: int = 1000, rounds: int = 5, postgres_url: str | None = None) -> dict[str, Any]:
    postgres_url = postgres_url if postgres_url is not None else os.environ.get("BENCH_DATABASE_URL")
    figures: dict[str, Any] = {"benchmark": "uow", "repetitions": repetitions, "rounds": rounds}
    with tempfile.TemporaryDirectory() as folder:
        figures["sqlite"] = await measure(
            f"sqlite+aiosqlite:///{Path(folder) / 'uow.db'}", repetitions, rounds
        )
    if postgres_url:
        from .updates import postgres_database

        async with postgres_database(postgres_url) as url:
            figures["postgresql"] = await measure(url, repetitions, rounds)
    return figures


def main(argv: list[str] | None = None) -> None:
    args = argv if argv is not None else sys.argv[1:]
    print(json.dumps(asyncio.run(bench(int(args[0])) if args else bench())))


if __name__ == "__main__":
    main()
