"""The SQLite driver runs statements that cannot wait in the event loop's thread, and only those."""

from __future__ import annotations

import asyncio
import itertools
import sqlite3
import threading
import time
from pathlib import Path

import aiosqlite
import pytest
from sqlalchemy import text

from shop import catalog
from shop.catalog import ProductQuery
from storage import sqlite_driver
from storage.db import create_engine, create_session_factory
from storage.migrations import upgrade
from storage.sqlite_driver import InlineAdapter, InlineConnection
from storage.uow import UnitOfWork
from tests.factories import make_product


async def _ticks_while(work: asyncio.Future[object] | asyncio.Task[object]) -> list[float]:
    """The longest gaps between ticks of a 10 ms timer while ``work`` runs (a stalled loop shows here)."""
    gaps: list[float] = []
    last = time.monotonic()
    while not work.done():
        await asyncio.sleep(0.01)
        now = time.monotonic()
        gaps.append(now - last)
        last = now
    return sorted(gaps)[-3:]


async def test_a_writer_waiting_for_another_process_never_stalls_the_event_loop(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'shop.db'}"
    engine = create_engine(url)
    await upgrade(engine)
    factory = create_session_factory(engine)
    locked, release = threading.Event(), threading.Event()

    def other_process_writes() -> None:  # another program (the CLI, say) holding the writer's lock
        connection = sqlite3.connect(tmp_path / "shop.db", isolation_level=None)
        connection.execute("BEGIN IMMEDIATE")
        locked.set()
        release.wait(5)
        connection.execute("COMMIT")
        connection.close()

    holder = threading.Thread(target=other_process_writes)
    holder.start()
    locked.wait(5)

    async def write() -> object:
        async with UnitOfWork(factory) as uow:
            await uow.begin_write()  # waits for the other writer: on aiosqlite's thread, not here
            fresh = await uow.updates.mark_new([(1, 1)]) == {(1, 1)}
            await uow.commit()
            return fresh

    async def read_meanwhile() -> int:
        async with UnitOfWork(factory) as uow:  # WAL: a reader is never blocked by the writer
            return int(await uow.session.scalar(text("SELECT count(*) FROM processed_updates")) or 0)

    writing = asyncio.ensure_future(write())
    asyncio.get_running_loop().call_later(0.4, release.set)
    assert await read_meanwhile() == 0
    gaps = await _ticks_while(writing)
    holder.join()
    assert await writing is True
    assert max(gaps) < 0.2, gaps  # the 0.4 s wait happened off the loop
    await engine.dispose()


async def test_reads_writes_and_full_text_search_through_the_driver(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'shop.db'}")
    await upgrade(engine)
    factory = create_session_factory(engine)
    async with engine.connect() as connection:
        raw = await connection.get_raw_connection()
        assert isinstance(raw.driver_connection, InlineConnection)
    await make_product(lambda: UnitOfWork(factory), sku="TEA-1", name="Jasmine tea & <honey>", stock=3)
    await make_product(lambda: UnitOfWork(factory), sku="COF-1", name="Espresso", stock=2)
    async with UnitOfWork(factory) as uow:
        found = await catalog.browse(uow, ProductQuery(text="jasmine"), 0, 10)
        page = await catalog.browse(uow, ProductQuery(), 0, 10)
    assert [p.sku for p in found.products] == ["TEA-1"]
    assert {p.sku for p in page.products} == {"TEA-1", "COF-1"}
    async with UnitOfWork(factory) as uow:  # a write outside a writer's transaction still works
        await uow.session.execute(text("UPDATE products SET stock = 0 WHERE sku = 'COF-1'"))
        await uow.session.commit()
    async with UnitOfWork(factory) as uow:
        assert await uow.session.scalar(text("SELECT stock FROM products WHERE sku = 'COF-1'")) == 0
    await engine.dispose()


async def test_a_read_and_a_writers_statements_never_leave_the_loops_thread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Reads, and a writer's statements after ``BEGIN IMMEDIATE``, run where they are asked for, through
    ``InlineCursor``: no call goes to aiosqlite's thread. A full-text search and a write outside a
    writer's transaction still do; ``AsyncConnection.execute`` (the health check's) works as well."""
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'shop.db'}")
    await upgrade(engine)
    factory = create_session_factory(engine)
    await make_product(lambda: UnitOfWork(factory), sku="TEA-1", name="Jasmine tea", stock=3)
    trips: list[str] = []
    to_thread = aiosqlite.Connection._execute

    async def counted(self: aiosqlite.Connection, fn: object, *args: object, **kwargs: object) -> object:
        trips.append(getattr(fn, "__name__", "?"))
        return await to_thread(self, fn, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(aiosqlite.Connection, "_execute", counted)
    async with engine.connect() as connection:
        raw = await connection.get_raw_connection()
        assert isinstance(raw.dbapi_connection, InlineAdapter)
        assert (await connection.execute(text("SELECT 1"))).scalar() == 1
    async with UnitOfWork(factory) as uow:
        page = await catalog.browse(uow, ProductQuery(), 0, 10)
        assert [p.sku for p in page.products] == ["TEA-1"]
    async with UnitOfWork(factory) as uow:
        await uow.begin_write()
        assert await uow.updates.mark_new([(1, 1)]) == {(1, 1)}
        await uow.commit()
    assert trips == []
    async with UnitOfWork(factory) as uow:
        found = await catalog.browse(uow, ProductQuery(text="jasmine"), 0, 10)
        assert [p.sku for p in found.products] == ["TEA-1"]
        await uow.session.execute(text("UPDATE products SET stock = 2 WHERE sku = 'TEA-1'"))
        await uow.session.commit()
    assert "execute" in trips  # the search's, and the write's
    await engine.dispose()


def test_only_a_full_text_match_is_sent_to_the_thread() -> None:
    assert sqlite_driver._deep("SELECT rowid FROM products_fts WHERE products_fts MATCH ?")
    assert not sqlite_driver._deep("SELECT rematch, MATCHES FROM t")  # the word, not a part of one
    assert not sqlite_driver._deep("SELECT id FROM products WHERE name = 'match'")


async def test_a_unit_of_works_reads_share_one_snapshot(tmp_path: Path) -> None:
    """``BEGIN`` is run at once by the driver (``InlineConnection.begin_deferred``), not through
    SQLAlchemy's execution: still a transaction, so what another connection commits meanwhile is not
    seen until it ends, and a writer's transaction after it sees it."""
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'shop.db'}")
    await upgrade(engine)
    factory = create_session_factory(engine)
    await make_product(lambda: UnitOfWork(factory), sku="TEA-1", stock=3)
    stock = text("SELECT stock FROM products WHERE sku = 'TEA-1'")
    async with UnitOfWork(factory) as uow:
        assert await uow.session.scalar(stock) == 3
        other = sqlite3.connect(tmp_path / "shop.db", isolation_level=None)
        other.execute("UPDATE products SET stock = 1 WHERE sku = 'TEA-1'")
        other.close()
        assert await uow.session.scalar(stock) == 3  # the same snapshot
        assert await uow.begin_write()  # the reads end; the writer's transaction starts afresh
        assert await uow.session.scalar(stock) == 1
    await engine.dispose()


async def test_writers_commit_to_the_wal_and_every_so_many_commits_checkpoint_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A writer's commit runs at once and only appends to the WAL (the connection's auto-checkpoint is
    off); every ``CHECKPOINT_EVERY``-th writer's commit copies the WAL into the database file."""
    path = tmp_path / "shop.db"
    engine = create_engine(f"sqlite+aiosqlite:///{path}")
    await upgrade(engine)
    factory = create_session_factory(engine)
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # the database file holds everything so far
    other.close()
    monkeypatch.setattr(sqlite_driver, "CHECKPOINT_EVERY", 5)
    monkeypatch.setattr(sqlite_driver, "_commits", itertools.count(1))

    async def write(update_id: int) -> None:
        async with UnitOfWork(factory) as uow:
            await uow.begin_write()
            await uow.updates.mark_new([(1, update_id)])
            await uow.commit()

    before = path.read_bytes()
    for update_id in range(1, 5):
        await write(update_id)
    assert path.read_bytes() == before  # four commits: all in the WAL
    async with UnitOfWork(factory) as uow:  # and read from it
        assert await uow.session.scalar(text("SELECT count(*) FROM processed_updates")) == 4
    await write(5)
    assert path.read_bytes() != before  # the fifth checkpointed
    async with UnitOfWork(factory) as uow:  # and left its connection as it found it
        assert await uow.session.scalar(text("SELECT count(*) FROM processed_updates")) == 5
        await uow.end_read()
    await write(6)
    await engine.dispose()
    check = sqlite3.connect(path)
    assert check.execute("SELECT count(*) FROM processed_updates").fetchone() == (6,)
    check.close()


async def test_a_failed_checkpoint_leaves_the_commit_before_it_standing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'shop.db'}")
    await upgrade(engine)
    factory = create_session_factory(engine)
    real_pragma = sqlite_driver._pragma

    def failing(connection: sqlite3.Connection, pragma: str) -> object:
        if pragma.startswith("wal_checkpoint"):
            raise sqlite3.OperationalError("disk I/O error")
        return real_pragma(connection, pragma)

    monkeypatch.setattr(sqlite_driver, "_pragma", failing)
    monkeypatch.setattr(sqlite_driver, "CHECKPOINT_EVERY", 1)  # every writer's commit checkpoints
    async with UnitOfWork(factory) as uow:
        await uow.begin_write()
        await uow.updates.mark_new([(1, 1)])
        await uow.commit()  # no error: the commit is done, the checkpoint waits for the next one
    async with UnitOfWork(factory) as uow:
        assert await uow.session.scalar(text("SELECT count(*) FROM processed_updates")) == 1
    await engine.dispose()
