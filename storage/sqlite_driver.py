"""aiosqlite, with the statements that can never wait run where they are asked for.

aiosqlite runs every call on its own thread and wakes the event loop with the answer: a thread switch,
a future and a loop wake-up for every statement, every fetch and every commit. Most of our statements
take microseconds, so that round trip cost more than the work: recording an update and reading its
customer (two transactions) took 4.1 ms through the thread and 1.5 ms here, on the same machine. Under
WAL, though, only a few calls can wait for another connection:

- ``BEGIN IMMEDIATE`` waits for the writer's lock when another process holds it (it is tried here first
  without waiting: this process's own writers queue before it, so the lock is usually free);
- a write outside a writer's transaction would have to take that lock;
- a checkpoint, copying the WAL into the database file (disk writes and an fsync; see below);
- a full-text search (``MATCH``) over a large catalog does real work for milliseconds.

Those still go to aiosqlite's thread, so the event loop never stalls on a lock or the disk. Everything
else — reads, ``BEGIN``, the statements of a writer that already holds the lock, commits, rollbacks —
runs at once in the caller's thread. Calls never overlap (SQLAlchemy awaits each), so the sqlite3
connection is opened with ``check_same_thread=False`` and used from one thread at a time. SQLAlchemy
sees the connection through ``InlineAdapter``, whose cursor runs such a statement on the sqlite3 cursor
directly instead of through aiosqlite's coroutines (``InlineCursor``).

A writer's ``COMMIT`` appends its pages to the WAL (no fsync: ``synchronous=NORMAL``) unless it is the
one that crosses SQLite's auto-checkpoint threshold and copies the WAL into the database file (disk
writes and an fsync, milliseconds). So the connection's auto-checkpoint is off and every
``CHECKPOINT_EVERY``-th writer's commit of the process runs a passive checkpoint on the thread after
committing here. Every writer's commit used to go to the thread for the rare one that checkpoints: a
thread switch and a loop wake-up for each, and the record of every update is a writer's (``bench steps``:
2-7% of the bot's CPU per update). The database file still holds everything when the last connection
closes: SQLite checkpoints then whatever the setting.
"""

from __future__ import annotations

import collections
import itertools
import logging
import re
import sqlite3
from collections.abc import Callable
from typing import Any, cast

import aiosqlite
from sqlalchemy.dialects.sqlite.aiosqlite import AsyncAdapt_aiosqlite_connection, AsyncAdapt_aiosqlite_cursor
from sqlalchemy.util import await_only

CHECKPOINT_EVERY = 200  # writer commits of this process between two checkpoints of the WAL
_commits = itertools.count(1)  # writer commits of this process
log = logging.getLogger("orderbot")
_DEEP = re.compile(r"\bMATCH\b")  # keeps working in fetches after the first row: off the loop


def _deep(sql: str) -> bool:
    """A full-text search. The regular expression alone took 22 µs on a 1 300-character ``SELECT`` (every
    position tried for a word boundary) — on every statement; looking for the word first takes 1 µs."""
    return "MATCH" in sql and _DEEP.search(sql) is not None


class InlineConnection(aiosqlite.Connection):
    """An aiosqlite connection that runs a call in the caller's thread when it cannot wait."""

    def __init__(self, database: str, busy_timeout_ms: int, iter_chunk_size: int = 64) -> None:
        super().__init__(self._open, iter_chunk_size)
        self._database = database
        self._busy_timeout_ms = busy_timeout_ms
        self._wal = False  # in WAL mode, so this connection's commits never wait for the disk
        self._writing = False  # this connection holds the writer's lock (after BEGIN IMMEDIATE)
        self._deep: sqlite3.Cursor | None = None  # a cursor whose statement runs on the thread

    def _open(self) -> sqlite3.Connection:  # on aiosqlite's thread, when first awaited
        timeout = self._busy_timeout_ms / 1000
        connection = sqlite3.connect(self._database, timeout=timeout, check_same_thread=False)
        self._wal = _pragma(connection, "journal_mode=WAL") == "wal"
        if self._wal:
            _pragma(connection, "wal_autocheckpoint=0")  # see CHECKPOINT_EVERY
        return connection

    def _checkpoint(self) -> None:
        """On aiosqlite's thread: copy what it can of the WAL, never waiting. The commit before it
        stands either way, so a failure is only logged (the next checkpoint copies it all)."""
        try:
            _pragma(self._conn, "wal_checkpoint(PASSIVE)")
        except sqlite3.Error as error:
            log.warning("WAL checkpoint failed: %s", error)

    async def _execute(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        name = getattr(fn, "__name__", "")
        if name in ("execute", "executemany"):
            return await self._statement(fn, args, kwargs)
        if name == "commit":
            writer, self._writing = self._writing, False
            if writer and not self._wal:
                return await super()._execute(fn, *args, **kwargs)
            result = self._here(fn, args, kwargs)
            if writer and next(_commits) % CHECKPOINT_EVERY == 0:
                await super()._execute(self._checkpoint)
            return result
        if name == "rollback":
            inline, self._writing = True, False
        elif name in ("fetchone", "fetchmany", "fetchall"):
            inline = getattr(fn, "__self__", None) is not self._deep
        else:  # a new cursor, or closing one; closing the connection may checkpoint
            inline = name == "cursor" or (
                name == "close" and isinstance(getattr(fn, "__self__", None), sqlite3.Cursor)
            )
        if inline:
            return self._here(fn, args, kwargs)
        return await super()._execute(fn, *args, **kwargs)

    async def _statement(self, fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        sql: str = args[0] if args else kwargs.get("sql", "")
        if self.at_once(sql, getattr(fn, "__self__", None)):
            return self._here(fn, args, kwargs)
        return await super()._execute(fn, *args, **kwargs)  # a search, or a write that may take the lock

    def at_once(self, sql: str, cursor: sqlite3.Cursor | None) -> bool:
        """Whether ``sql`` runs here, now, on ``cursor``: it cannot wait (see the module's docstring)."""
        if _deep(sql):
            self._deep = cursor  # its fetches go to the thread too
            return False
        if cursor is self._deep:
            self._deep = None
        return self._writing or sql.lstrip()[:6].upper() in ("SELECT", "BEGIN")

    def begin_immediate(self) -> None:
        """``BEGIN IMMEDIATE`` from SQLAlchemy's ``begin`` event (``storage.db``), here when the writer's
        lock is free (this process's writers queue before it, so it usually is); when another process
        holds it, waited for on aiosqlite's thread, through SQLAlchemy's greenlet bridge like a statement.
        As a statement it cost a cursor made, executed and closed: three trips through the bridge."""
        connection = self._conn
        connection.execute("PRAGMA busy_timeout = 0")
        try:
            connection.execute("BEGIN IMMEDIATE")
            busy = False
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) and "busy" not in str(error):
                raise
            busy = True
        finally:
            connection.execute(f"PRAGMA busy_timeout = {self._busy_timeout_ms}")
        if busy:  # another process is writing: wait for it on the thread
            await_only(super()._execute(connection.execute, "BEGIN IMMEDIATE"))
        self._writing = True

    def begin_deferred(self) -> None:
        """``BEGIN`` at once, from SQLAlchemy's ``begin`` event (``storage.db``): it never waits under WAL,
        so it needs neither the thread nor a statement's way through SQLAlchemy and its greenlet bridge."""
        self._here(self._conn.execute, ("BEGIN",), {})

    def _here(self, fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        if not self._running or not self._connection:
            raise ValueError("Connection closed")
        return fn(*args, **kwargs)

    def here(self, fn: Callable[..., Any], *args: Any) -> Any:
        """``fn(*args)`` now, in this thread, if the connection is open."""
        return self._here(fn, args, {})

    @property
    def raw(self) -> sqlite3.Connection:
        return self._conn


class InlineCursor(AsyncAdapt_aiosqlite_cursor):
    """SQLAlchemy's cursor over an ``InlineConnection``: a statement that runs at once skips aiosqlite's
    coroutines. SQLAlchemy's own cursor makes an aiosqlite cursor, executes, fetches and closes it
    through three awaits, each a greenlet switch and two or three coroutines deep; here the sqlite3
    cursor is made and closed directly and the statement run with its rows fetched in one await (one
    is kept: ``AsyncConnection.execute`` insists that an async driver awaits). A statement with its
    fetch: 32 → 23 µs. Anything else (a search, a write outside a writer's transaction, many rows of
    parameters) goes SQLAlchemy's way, to aiosqlite's thread."""

    __slots__ = ()

    @property
    def _sqlite(self) -> sqlite3.Cursor:
        return cast(aiosqlite.Cursor, self._cursor)._cursor

    def _make_new_cursor(self, connection: Any) -> Any:
        try:
            return aiosqlite.Cursor(connection, connection.here(connection.raw.cursor))
        except Exception as error:  # closed: SQLAlchemy's error, as its own cursor would raise
            self._adapt_connection._handle_exception(error)

    def _aenter_cursor(self, cursor: Any) -> Any:
        return cursor

    def execute(self, operation: Any, parameters: Any = None) -> Any:
        if not self._connection.at_once(operation, self._sqlite):
            return super().execute(operation, parameters)
        try:
            return await_only(self._run(operation, () if parameters is None else parameters))
        except Exception as error:
            self._adapt_connection._handle_exception(error)

    async def _run(self, operation: str, parameters: Any) -> Any:
        cursor = self._sqlite
        cursor.execute(operation, parameters)
        if cursor.description:
            self._rows = collections.deque(cursor.fetchall())
        return self._cursor

    def close(self) -> None:
        self._rows.clear()
        if self._cursor is not None and not self._soft_closed_memoized:  # (else closed already)
            self._connection.here(self._sqlite.close)


class InlineAdapter(AsyncAdapt_aiosqlite_connection):
    """SQLAlchemy's connection over an ``InlineConnection``, with ``InlineCursor``."""

    __slots__ = ()
    _cursor_cls = InlineCursor


def _pragma(connection: sqlite3.Connection, pragma: str) -> Any:
    """The pragma's first value, its cursor closed: a statement left unfinished makes a later
    ``COMMIT`` fail ("SQL statements in progress")."""
    cursor = connection.execute(f"PRAGMA {pragma}")
    try:
        row = cursor.fetchone()
        return row[0] if row else None
    finally:
        cursor.close()


def connect(dbapi: Any, database: str, busy_timeout_ms: int) -> InlineAdapter:
    """An ``InlineConnection`` as SQLAlchemy's aiosqlite dialect wraps a connection (``dbapi``: its
    module); in a greenlet of SQLAlchemy's (from the engine's ``do_connect`` event)."""
    connection = InlineConnection(database, busy_timeout_ms)
    connection._thread.daemon = True  # as SQLAlchemy does for aiosqlite: never hold up interpreter exit
    return InlineAdapter(dbapi, cast(Any, await_only(connection)))
