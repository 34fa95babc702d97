"""SQLite's sessions, run at once in the event loop's thread: SQLAlchemy's own Session over pysqlite, behind
``AsyncSession``'s interface.

Every call of an ``AsyncSession`` crosses SQLAlchemy's greenlet bridge: a greenlet made for the call,
and a switch out and back for every await inside it (the driver's cursor, execute, fetch, close), each a
few coroutines deep in aiosqlite. Against PostgreSQL that carries the network's waits. Against SQLite the
statements themselves take microseconds (they already ran in the loop's thread, through a connection
class of ours that kept them off aiosqlite's thread), so the bridge was most of the cost: a unit of work
reading one customer 252-275 µs through it, 130 µs on a plain ``Session`` over the standard ``sqlite3``
module; three reads 430 against 230.

``LoopSession`` is an ``AsyncSession`` whose hot calls (``execute``, ``scalar``, ``scalars``, ``get``,
``flush``, ``delete``, ``commit``, ``rollback``, ``close``, ``connection``) run on its sync ``Session``
directly, bound to a pysqlite engine of the same file (``loop_engine``); its other calls still go
through the bridge, which runs sync code as it is. The calls that can wait still leave the loop's thread:

- ``BEGIN IMMEDIATE`` is tried without waiting; when another process holds the writer's lock, the
  connection is marked and ``LoopSession.connection`` (``UnitOfWork.begin_write`` asks for it) waits for
  the lock on a thread;
- a full-text search (``MATCH``) runs on a thread (``DEEP``: the statement's execution option);
- every ``CHECKPOINT_EVERY``-th writer's commit copies the WAL into the database file on a thread, on a
  connection of its own (the connections' auto-checkpoint is off: the commit crossing its threshold
  would copy and fsync in the loop's thread).

A write outside a writer's transaction (``begin_write``) would wait for the lock in the loop's thread
(and if the writer holding it is of this process, it could not finish meanwhile): the connections' busy
timeout is short (``BUSY_TIMEOUT_HERE_MS``), so such a write fails with "database is locked" instead of
stalling the loop. The bot's writes all begin with ``begin_write``.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import sqlite3
import weakref
from typing import Any

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.ext.asyncio import AsyncSession

from .per_loop import PerLoop, per_loop

log = logging.getLogger("orderbot")
IMMEDIATE = "orderbot_immediate"  # execution option asking SQLite for BEGIN IMMEDIATE
DEEP = "orderbot_deep"  # execution option of a statement that may work for milliseconds: on a thread
CHECKPOINT_EVERY = 200  # writer commits of this process between two checkpoints of the WAL
_commits = itertools.count(1)
# How long a statement in the loop's thread may wait for a lock: a reader under WAL waits only in rare
# moments (another process recovering the WAL). BEGIN IMMEDIATE does not wait here at all.
BUSY_TIMEOUT_HERE_MS = 100
CHECKPOINT = "PRAGMA wal_checkpoint(PASSIVE)"  # copies what it can, never waiting for a reader
# Every connection zeroes what it deletes or overwrites, in its pages and on the free list: a customer who
# asks to be forgotten must not stay in the file's free space (an address deleted months ago, an alert
# swept out after 30 days, a name since changed).
SECURE_DELETE = "ON"
_PREBUFFER = {"prebuffer_rows": True}  # as AsyncSession asks: rows read before execute returns


class LoopConnection(sqlite3.Connection):
    """A sqlite3 connection that remembers whether it holds, or must still wait for, the writer's lock."""

    writing = False
    wait_for_writer = False
    busy_timeout_ms = 0  # how long BEGIN IMMEDIATE may wait for another process, on a thread


def loop_engine(file: str, busy_timeout_ms: int, pool_size: int) -> Engine:
    """A pysqlite engine of ``file`` for ``LoopSession``: WAL, foreign keys, our own ``BEGIN``."""
    engine = create_engine(
        f"sqlite:///{file}",
        pool_size=pool_size,
        max_overflow=0,
        pool_reset_on_return=None,  # every unit of work ends its transaction itself
        connect_args={
            "factory": LoopConnection,
            "check_same_thread": False,  # a search or a wait for the lock runs on a thread, the rest here
            "timeout": BUSY_TIMEOUT_HERE_MS / 1000,  # see the module's docstring
            "isolation_level": None,  # we emit BEGIN ourselves
        },
    )

    @event.listens_for(engine, "connect")
    def on_connect(connection: LoopConnection, _record: Any) -> None:
        connection.busy_timeout_ms = busy_timeout_ms
        pragmas = ("journal_mode=WAL", "foreign_keys=ON", "synchronous=NORMAL", "wal_autocheckpoint=0")
        for pragma in (*pragmas, f"secure_delete={SECURE_DELETE}"):
            connection.execute(f"PRAGMA {pragma}").close()

    @event.listens_for(engine, "begin")
    def on_begin(connection: Any) -> None:
        raw: LoopConnection = connection.connection.driver_connection
        if not connection.get_execution_options().get(IMMEDIATE, False):
            raw.execute("BEGIN")
            return
        raw.execute("PRAGMA busy_timeout = 0")  # tried without waiting (another process may write long)
        try:
            raw.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) and "busy" not in str(error):
                raise
            raw.wait_for_writer = True  # another process writes: LoopSession.connection waits on a thread
            return
        finally:
            raw.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_HERE_MS}")
        raw.writing = True

    @event.listens_for(engine, "commit")
    @event.listens_for(engine, "rollback")
    def on_end(connection: Any) -> None:
        raw: LoopConnection = connection.connection.driver_connection
        raw.writing = raw.wait_for_writer = False

    return engine


def _wait_for_writer(raw: LoopConnection) -> None:
    """On a thread: ``BEGIN IMMEDIATE``, waiting up to the busy timeout for another process's writer."""
    raw.execute(f"PRAGMA busy_timeout = {raw.busy_timeout_ms}")
    try:
        raw.execute("BEGIN IMMEDIATE")
    finally:
        raw.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_HERE_MS}")
    raw.wait_for_writer, raw.writing = False, True


def checkpoint(file: str) -> None:
    """On a thread: copy what it can of the WAL into the database file, never waiting. The commit
    before it stands either way, so a failure is only logged (the next checkpoint copies it all)."""
    try:
        connection = sqlite3.connect(file, isolation_level=None)
        try:
            connection.execute(CHECKPOINT).close()
        finally:
            connection.close()
    except sqlite3.Error as error:
        log.warning("WAL checkpoint failed: %s", error)


_SLOTS: PerLoop[asyncio.Semaphore] = weakref.WeakKeyDictionary()  # each loop engine's pool, as slots


class LoopSession(AsyncSession):
    """An ``AsyncSession`` over SQLite whose hot calls run at once on its sync session (see the module).

    A sync pool that has lent all its connections makes the next caller wait, in the loop's thread, for
    one that only the loop can give back: so a session first waits for a slot of the pool here, the
    asyncio way, and holds it while its transaction lasts (its connection is back in the pool after a
    commit, a rollback or closing).
    """

    def __init__(self, bind: Any = None, *, loop_bind: Engine, **kw: Any) -> None:
        super().__init__(bind, **kw)
        self.sync_session.bind = loop_bind
        self._loop_bind = loop_bind
        self._slot: asyncio.Semaphore | None = None

    async def _take_slot(self) -> None:
        """A slot of the pool for this transaction, unless it has one."""
        if self._slot is None:
            size = self._loop_bind.pool.size()  # type: ignore[attr-defined]  # a QueuePool's
            slots = per_loop(_SLOTS, self._loop_bind, lambda: asyncio.Semaphore(size))
            await slots.acquire()
            self._slot = slots

    @property
    def bind(self) -> Any:
        """The async engine the session was made for (its sync session's is the pysqlite one)."""
        return self._async_bind

    @bind.setter
    def bind(self, bind: Any) -> None:
        self._async_bind = bind

    async def execute(  # type: ignore[override]
        self, statement: Any, params: Any = None, *, execution_options: Any = None, **kw: Any
    ) -> Any:
        await self._take_slot()
        options = {**_PREBUFFER, **execution_options} if execution_options else _PREBUFFER
        if statement.get_execution_options().get(DEEP):
            execute: Any = self.sync_session.execute
            return await asyncio.to_thread(execute, statement, params, execution_options=options, **kw)
        return self.sync_session.execute(statement, params, execution_options=options, **kw)

    async def scalar(  # type: ignore[override]
        self, statement: Any, params: Any = None, *, execution_options: Any = None, **kw: Any
    ) -> Any:
        if statement.get_execution_options().get(DEEP):
            return (await self.execute(statement, params, execution_options=execution_options, **kw)).scalar()
        await self._take_slot()
        options = {**_PREBUFFER, **execution_options} if execution_options else _PREBUFFER
        return self.sync_session.scalar(statement, params, execution_options=options, **kw)

    async def scalars(  # type: ignore[override]
        self, statement: Any, params: Any = None, *, execution_options: Any = None, **kw: Any
    ) -> Any:
        return (await self.execute(statement, params, execution_options=execution_options, **kw)).scalars()

    async def get(self, entity: Any, ident: Any, **kw: Any) -> Any:  # type: ignore[override]
        await self._take_slot()
        return self.sync_session.get(entity, ident, **kw)

    async def flush(self, objects: Any = None) -> None:
        await self._take_slot()
        self.sync_session.flush(objects)

    async def delete(self, instance: object) -> None:
        await self._take_slot()
        self.sync_session.delete(instance)

    async def commit(self) -> None:
        file = self._writer()
        try:
            self.sync_session.commit()
        finally:
            self._release_slot()
        if file is not None and next(_commits) % CHECKPOINT_EVERY == 0:
            await asyncio.to_thread(checkpoint, file)

    def _writer(self) -> str | None:
        """The database file, when this session's transaction holds the writer's lock."""
        if not self.sync_session.in_transaction():
            return None
        connection = self.sync_session.connection()
        raw = connection.connection.driver_connection
        return (
            str(connection.engine.url.database) if isinstance(raw, LoopConnection) and raw.writing else None
        )

    async def rollback(self) -> None:
        try:
            self.sync_session.rollback()
        finally:
            self._release_slot()

    async def close(self) -> None:
        try:
            self.sync_session.close()
        finally:
            self._release_slot()

    def _release_slot(self) -> None:
        """The transaction is over and its connection back in the pool."""
        if self._slot is not None:
            self._slot.release()
            self._slot = None

    async def connection(self, **kw: Any) -> Any:  # type: ignore[override]
        """The sync session's connection (an ``AsyncConnection`` needs an async driver); a writer's
        (``IMMEDIATE``) once it holds the lock, waited for on a thread when another process has it."""
        await self._take_slot()
        connection = self.sync_session.connection(**kw)
        raw = connection.connection.driver_connection
        if isinstance(raw, LoopConnection) and raw.wait_for_writer:
            await asyncio.to_thread(_wait_for_writer, raw)
        return connection
