"""PostgreSQL: a burst of units of work reuses the pool's connections instead of opening new ones."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncEngine

from storage.db import POOL_SIZE, create_session_factory
from storage.uow import UnitOfWork


async def test_bursts_of_units_of_work_reuse_the_pools_connections(engine: AsyncEngine) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite's connections are a file each; the pool's size matters on PostgreSQL")
    opened = 0

    @event.listens_for(engine.sync_engine, "connect")
    def counted(*_: object) -> None:
        nonlocal opened
        opened += 1

    factory = create_session_factory(engine)

    async def read() -> int:
        async with UnitOfWork(factory) as uow:
            value = (await uow.session.execute(text("SELECT 1"))).scalar_one()
            await asyncio.sleep(0.05)  # held while others ask for one
            return int(value)

    for _ in range(3):  # three bursts, each asking for more connections than the pool holds
        assert sum(await asyncio.gather(*(read() for _ in range(3 * POOL_SIZE)))) == 3 * POOL_SIZE
    assert opened <= POOL_SIZE
