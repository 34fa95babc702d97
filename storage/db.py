"""Engines and sessions: one code path for SQLite (default) and PostgreSQL.

SQLite runs with WAL, foreign keys, a busy timeout and secure_delete (``loop_session.SECURE_DELETE``).
Reads begin deferred (never blocked by a writer under WAL); a unit of work that writes begins
``BEGIN IMMEDIATE``, so two writers queue on the busy timeout instead of deadlocking when a read lock
would have to be upgraded.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
import weakref
from typing import Any

from sqlalchemy import event, exc
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from . import loop_session
from .per_loop import PerLoop, per_loop

SQLITE_BUSY_TIMEOUT_MS = 30_000
POOL_SIZE = 15  # connections per process, all kept open (docs/deploy.md: size max_connections for N workers)
PING_AFTER_IDLE_SECONDS = 1.0  # a PostgreSQL connection idle this long is checked before use
_RETURNED_AT = "orderbot_returned_at"
# SQLite: the pysqlite engine of each async engine's file, for LoopSession
_LOOP_ENGINES: weakref.WeakKeyDictionary[Any, Any] = weakref.WeakKeyDictionary()
IMMEDIATE = loop_session.IMMEDIATE  # execution option asking SQLite for BEGIN IMMEDIATE
SECURE_DELETE = loop_session.SECURE_DELETE


def sqlite_file(url: URL) -> str | None:
    """The path of the SQLite database file ``url`` names; None for another database or one in memory."""
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return None
    return url.database


def create_engine(database_url: str, **kwargs: Any) -> AsyncEngine:
    url = make_url(database_url)
    sqlite = url.get_backend_name() == "sqlite"
    file = sqlite_file(url) if not url.query else None  # URI options: aiosqlite's own connect
    if file is not None or not sqlite:
        # At most POOL_SIZE connections, all kept open. SQLAlchemy's default (5 kept + 10 more) closed the
        # 10 after every burst and opened them again at the next: a new PostgreSQL connection costs ~2.5 ms
        # of the bot's CPU and a server process (bench steps: 632 connections opened for 5200 updates; now
        # 15); a new SQLite one a thread, the file opened and six pragmas.
        kwargs.setdefault("pool_size", POOL_SIZE)
        kwargs.setdefault("max_overflow", 0)
    if sqlite:
        kwargs.setdefault("connect_args", {"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000})
        # Every use ends its transaction itself (storage/uow.py); the pool's extra ROLLBACK on return
        # would be one more trip to aiosqlite's thread each time.
        kwargs.setdefault("pool_reset_on_return", None)
        engine = create_async_engine(url, **kwargs)
        if file is not None:
            # Sessions run at once on a sync session of a pysqlite engine (storage/loop_session.py); this
            # async engine serves the rest (migrations, the health check).
            loop = loop_session.loop_engine(file, SQLITE_BUSY_TIMEOUT_MS, kwargs["pool_size"])
            _LOOP_ENGINES[engine.sync_engine] = loop
            event.listen(engine.sync_engine, "engine_disposed", lambda _: loop.dispose())
        _configure_sqlite(engine)
        return engine
    # The connection returned last is taken first: a quiet shop uses one, a busy one reuses them within
    # milliseconds, so few are ever idle long enough to need the ping below.
    kwargs.setdefault("pool_use_lifo", True)
    engine = create_async_engine(url, **kwargs)
    if not kwargs.get("pool_pre_ping"):
        _ping_when_idle(engine)
    return engine


def _ping_when_idle(engine: AsyncEngine) -> None:
    """Pessimistic disconnect handling for connections that have been idle: one that sat in the pool for
    PING_AFTER_IDLE_SECONDS or more is pinged before use, and replaced if the server went away meanwhile
    (a restart, an idle timeout). SQLAlchemy's ``pool_pre_ping`` pings at every checkout — with asyncpg
    three round trips (BEGIN, a ping, ROLLBACK), a third of all a busy bot's trips to PostgreSQL, for a
    connection used a few milliseconds before. One that breaks while in use fails its unit of work either
    way; SQLAlchemy then replaces every connection in the pool (its optimistic handling)."""
    sync_engine = engine.sync_engine
    dialect = sync_engine.dialect

    @event.listens_for(sync_engine, "checkin")
    def _returned(dbapi_connection: Any, record: Any) -> None:
        record.info[_RETURNED_AT] = time.monotonic()

    @event.listens_for(sync_engine, "checkout")
    def _checked_out(dbapi_connection: Any, record: Any, proxy: Any) -> None:
        returned_at = record.info.get(_RETURNED_AT)
        if returned_at is None or time.monotonic() - returned_at < PING_AFTER_IDLE_SECONDS:
            return  # new, or used a moment ago
        try:
            dialect.do_ping(dbapi_connection)
        except Exception as error:  # whatever broke it, it cannot serve: the pool connects afresh
            raise exc.DisconnectionError() from error


def _configure_sqlite(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we emit BEGIN ourselves (see on_begin)
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute(f"PRAGMA secure_delete={SECURE_DELETE}")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def on_begin(connection: Any) -> None:  # IMMEDIATE waits for a writer on aiosqlite's thread
        immediate = connection.get_execution_options().get(IMMEDIATE, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


_WRITERS: PerLoop[asyncio.Lock] = weakref.WeakKeyDictionary()  # each engine's writers' queue


def writer_lock(bind: AsyncEngine | None) -> asyncio.Lock | None:
    """SQLite: the lock this process's writers queue on before ``BEGIN IMMEDIATE``; None elsewhere.

    SQLite lets one writer in at a time. Without this, every waiting writer polls the file lock in its
    own thread, sleeping longer and longer between tries (sqlite's busy handler): under load most of a
    second passes with nobody writing. Queued here, the next writer starts the moment the last one ends,
    in arrival order; other processes (the CLI) still meet the busy timeout as before.
    """
    if bind is None or not is_sqlite(bind):
        return None
    return per_loop(_WRITERS, bind.sync_engine, asyncio.Lock)


def empty_wal(file: str) -> bool:
    """Copy the whole WAL into the SQLite database ``file`` and cut the WAL to nothing, waiting (up to the
    busy timeout) for readers of older snapshots to finish; False if one held on longer. After an erasure
    the WAL still holds the pages as they were before it, until a checkpoint writes over them."""
    connection = sqlite3.connect(file, timeout=SQLITE_BUSY_TIMEOUT_MS / 1000, isolation_level=None)
    try:
        busy, _, _ = connection.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
    finally:
        connection.close()
    return not busy


def is_sqlite(engine: AsyncEngine) -> bool:
    return engine.dialect.name == "sqlite"


def create_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    loop = _LOOP_ENGINES.get(engine.sync_engine)
    if loop is not None:
        return async_sessionmaker(
            engine, class_=loop_session.LoopSession, loop_bind=loop, expire_on_commit=False, autoflush=True
        )
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=True)
