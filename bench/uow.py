"""What one unit of work costs, at service level on SQLite (and PostgreSQL when configured).

Before any handler, the middleware asks whether the update was handled before and reads its sender as
a customer; an update that writes is recorded in its effects' transaction (``UnitOfWork.handle``), one
that writes nothing after its handler (``ReadOnlyUpdates``: one writer's transaction for all that arrive
together). This measures, in CPU milliseconds of this process per update, a unit of work with nothing in
it, a writer's unit that records its update, the middleware's reads, the record of a read-only update
alone and of 20 arriving together, and one read done three ways —
the ORM, SQLAlchemy Core through the session, and Core on a bare connection of the async engine without a
— so the choices for the per-update path can be weighed in one run. The variants take their turns in
rounds and each figure is the median of its rounds.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.middlewares import ReadOnlyUpdates
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
TOGETHER = 20  # updates arriving at once, as from one getUpdates under load
Variant = Callable[[Iterator[int]], Awaitable[int]]  # given fresh update ids; returns the updates done


def variants(engine: AsyncEngine) -> dict[str, Variant]:
    factory = create_session_factory(engine)
    read_only = ReadOnlyUpdates(factory)

    async def empty_writer(_: Iterator[int]) -> int:
        async with UnitOfWork(factory) as uow:
            await uow.begin_write()
            await uow.commit()
        return 1

    async def recording_writer(ids: Iterator[int]) -> int:  # the same, recording its update with it
        async with UnitOfWork(factory) as uow:
            uow.handle((1, next(ids)))
            await uow.begin_write()
            await uow.commit()
        return 1

    async def preamble(ids: Iterator[int]) -> int:  # what UnitOfWorkMiddleware reads before the handler
        async with UnitOfWork(factory) as uow:
            await uow.updates.handled(1, next(ids))
            await identify(uow, USER, CONFIG)
        return 1

    async def alone(ids: Iterator[int]) -> int:
        await read_only.record((1, next(ids)))
        return 1

    async def together(ids: Iterator[int]) -> int:
        await asyncio.gather(*(read_only.record((1, next(ids))) for _ in range(TOGETHER)))
        return TOGETHER

    async def read_orm(_: Iterator[int]) -> int:
        async with UnitOfWork(factory) as uow:
            await uow.customers.with_staff_role(USER.id)
            await uow.commit()
        return 1

    async def read_core_in_session(_: Iterator[int]) -> int:
        async with UnitOfWork(factory) as uow:
            (await uow.session.execute(CUSTOMER_ROW, {"telegram_id": USER.id})).first()
            await uow.commit()
        return 1

    async def read_core_no_session(_: Iterator[int]) -> int:
        async with engine.connect() as connection:
            (await connection.execute(CUSTOMER_ROW, {"telegram_id": USER.id})).first()
            await connection.commit()
        return 1

    return {
        "empty_writer_unit": empty_writer,
        "writer_unit_recording_its_update": recording_writer,
        "handled_before_and_customer": preamble,
        "read_only_update_record": alone,
        f"read_only_update_record_{TOGETHER}_together": together,
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
        ids = itertools.count(1)
        chosen = variants(engine)
        for _ in range(rounds):
            for name, variant in chosen.items():
                for _ in range(20):  # warm: statements compiled and cached, connections open
                    await variant(ids)
                started, done = time.process_time(), 0
                for _ in range(repetitions):
                    done += await variant(ids)
                taken.setdefault(name, []).append((time.process_time() - started) * 1000 / done)
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
