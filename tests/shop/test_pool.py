"""The pool: a burst of units of work reuses the pool's connections instead of opening new ones (both
databases). PostgreSQL: a connection is checked before use only when it has been idle, and replaced when
the server dropped it."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

import storage.db
from storage.db import POOL_SIZE, create_session_factory
from storage.uow import UnitOfWork


def needs_postgresql(engine: AsyncEngine) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite has no server to check or lose")


async def backend_pid(engine: AsyncEngine) -> int:
    async with UnitOfWork(create_session_factory(engine)) as uow:
        return int((await uow.session.execute(text("SELECT pg_backend_pid()"))).scalar_one())


async def test_bursts_of_units_of_work_reuse_the_pools_connections(engine: AsyncEngine) -> None:
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


async def test_only_an_idle_connection_is_pinged(
    engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Units of work in a row use one connection without checking it; after a pause it is checked once."""
    needs_postgresql(engine)
    pings = 0
    dialect: Any = engine.sync_engine.dialect
    real_ping = dialect.do_ping

    def counted(dbapi_connection: Any) -> bool:
        nonlocal pings
        pings += 1
        return bool(real_ping(dbapi_connection))

    monkeypatch.setattr(dialect, "do_ping", counted)
    pids = {await backend_pid(engine) for _ in range(20)}
    assert len(pids) == 1 and pings == 0  # the connection returned last is taken first, unchecked
    await asyncio.sleep(storage.db.PING_AFTER_IDLE_SECONDS + 0.2)
    assert await backend_pid(engine) in pids and pings == 1


async def test_a_connection_the_server_dropped_while_idle_is_replaced_before_use(
    engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A restarted server or an idle timeout ends a pooled connection; the next unit of work still works."""
    needs_postgresql(engine)
    monkeypatch.setattr(storage.db, "PING_AFTER_IDLE_SECONDS", 0.2)
    dropped = await backend_pid(engine)
    admin = create_async_engine(engine.url, poolclass=NullPool)
    async with admin.connect() as other:  # as a restart would, from outside the bot's pool
        await other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": dropped})
    await admin.dispose()
    await asyncio.sleep(0.3)
    pids = {await backend_pid(engine) for _ in range(3)}
    assert dropped not in pids
