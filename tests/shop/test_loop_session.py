"""SQLite's sessions run their statements at once in the event loop's thread, except those that can wait:
a writer's wait for another process, a full-text search, a checkpoint (``storage.loop_session``)."""

from __future__ import annotations

import asyncio
import itertools
import sqlite3
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import event, text
from sqlalchemy.exc import OperationalError

from shop import catalog
from shop.catalog import ProductQuery
from storage import loop_session
from storage.db import POOL_SIZE, create_engine, create_session_factory
from storage.loop_session import LoopSession
from storage.migrations import upgrade
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


async def test_statements_run_in_the_loops_thread_and_a_search_on_another(tmp_path: Path) -> None:
    """Reads and a writer's statements run where they are asked for; a full-text search on a thread. The
    async engine beside the sessions (migrations, the health check) works as well."""
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'shop.db'}")
    await upgrade(engine)
    factory = create_session_factory(engine)
    await make_product(lambda: UnitOfWork(factory), sku="TEA-1", name="Jasmine tea & <honey>", stock=3)
    await make_product(lambda: UnitOfWork(factory), sku="COF-1", name="Espresso", stock=2)
    threads: dict[str, set[int]] = {"search": set(), "other": set()}

    def where(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        threads["search" if " MATCH " in statement else "other"].add(threading.get_ident())

    async with UnitOfWork(factory) as uow:
        assert isinstance(uow.session, LoopSession)
        bind = uow.session.sync_session.get_bind()
    event.listen(bind, "before_cursor_execute", where)
    async with UnitOfWork(factory) as uow:
        found = await catalog.browse(uow, ProductQuery(text="jasmine"), 0, 10)
        page = await catalog.browse(uow, ProductQuery(), 0, 10)
    assert [p.sku for p in found.products] == ["TEA-1"]
    assert {p.sku for p in page.products} == {"TEA-1", "COF-1"}
    async with UnitOfWork(factory) as uow:
        await uow.begin_write()
        assert await uow.updates.mark_new([(1, 1)]) == {(1, 1)}
        await uow.commit()
    async with UnitOfWork(factory) as uow:  # a write outside a writer's transaction, nobody else writing
        await uow.session.execute(text("UPDATE products SET stock = 0 WHERE sku = 'COF-1'"))
        await uow.session.commit()
    async with UnitOfWork(factory) as uow:
        assert await uow.session.scalar(text("SELECT stock FROM products WHERE sku = 'COF-1'")) == 0
    assert threads["other"] == {threading.get_ident()}
    assert threads["search"] and threading.get_ident() not in threads["search"]
    async with engine.connect() as connection:
        assert (await connection.execute(text("SELECT count(*) FROM products"))).scalar() == 2
    await engine.dispose()


async def test_a_write_outside_a_writers_transaction_never_waits_in_the_loops_thread(tmp_path: Path) -> None:
    """It would wait for the lock with the event loop stopped (and the writer holding it, if it is ours,
    could never finish): it fails at once instead. Writers begin with ``begin_write``."""
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'shop.db'}")
    await upgrade(engine)
    factory = create_session_factory(engine)
    other = sqlite3.connect(tmp_path / "shop.db", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    started = time.monotonic()
    async with UnitOfWork(factory) as uow:
        with pytest.raises(OperationalError, match="locked"):
            await uow.session.execute(text("INSERT INTO processed_updates VALUES (1, 1, '2026-01-01')"))
    assert time.monotonic() - started < 1
    other.execute("ROLLBACK")
    other.close()
    await engine.dispose()


async def test_more_units_of_work_than_the_pool_holds_reading_then_writing_all_finish(tmp_path: Path) -> None:
    """Each waits for a connection of the pool the asyncio way, and gives it back when its transaction
    ends: one that has read and waits for the writer's turn holds none (a writer waiting for a
    connection held by those waiting for it would wait for ever)."""
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'shop.db'}")
    await upgrade(engine)
    factory = create_session_factory(engine)

    async def read_then_write(update_id: int) -> bool:
        async with UnitOfWork(factory) as uow:
            await uow.session.scalar(text("SELECT count(*) FROM processed_updates"))
            await asyncio.sleep(0.01)
            await uow.begin_write()
            fresh = await uow.updates.mark_new([(1, update_id)]) == {(1, update_id)}
            await asyncio.sleep(0.001)  # holding the writer's lock while the others queue
            await uow.commit()
            return fresh

    done = await asyncio.wait_for(asyncio.gather(*(read_then_write(n) for n in range(3 * POOL_SIZE))), 20)
    assert all(done)
    await engine.dispose()


async def test_a_unit_of_works_reads_share_one_snapshot(tmp_path: Path) -> None:
    """``BEGIN`` is ours (pysqlite's own transactions are off): still a transaction, so what another
    connection commits meanwhile is not seen until it ends, and a writer's transaction after it sees it."""
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
    """A writer's commit runs at once and only appends to the WAL (the connections' auto-checkpoint is
    off); every ``CHECKPOINT_EVERY``-th writer's commit copies the WAL into the database file, on a
    thread."""
    path = tmp_path / "shop.db"
    engine = create_engine(f"sqlite+aiosqlite:///{path}")
    await upgrade(engine)
    factory = create_session_factory(engine)
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # the database file holds everything so far
    other.close()
    monkeypatch.setattr(loop_session, "CHECKPOINT_EVERY", 5)
    monkeypatch.setattr(loop_session, "_commits", itertools.count(1))

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
    monkeypatch.setattr(loop_session, "CHECKPOINT", "SELECT * FROM no_such_table")  # fails, as a disk may
    monkeypatch.setattr(loop_session, "CHECKPOINT_EVERY", 1)  # every writer's commit checkpoints
    async with UnitOfWork(factory) as uow:
        await uow.begin_write()
        await uow.updates.mark_new([(1, 1)])
        await uow.commit()  # no error: the commit is done, the checkpoint waits for the next one
    async with UnitOfWork(factory) as uow:
        assert await uow.session.scalar(text("SELECT count(*) FROM processed_updates")) == 1
    await engine.dispose()
