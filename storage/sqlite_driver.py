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
connection is opened with ``check_same_thread=False`` and used from one thread at a time.

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

import itertools
import logging
import re
import sqlite3
from collections.abc import Callable
from typing import Any

import aiosqlite
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
        head = sql.lstrip()[:15].upper()
        cursor = getattr(fn, "__self__", None)
        if _deep(sql):
            self._deep = cursor
            return await super()._execute(fn, *args, **kwargs)
        if cursor is self._deep:
            self._deep = None
        if self._writing or head.startswith(("SELECT", "BEGIN")):
            return self._here(fn, args, kwargs)
        return await super()._execute(fn, *args, **kwargs)  # a write that may have to take the lock

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


def _pragma(connection: sqlite3.Connection, pragma: str) -> Any:
    """The pragma's first value, its cursor closed: a statement left unfinished makes a later
    ``COMMIT`` fail ("SQL statements in progress")."""
    cursor = connection.execute(f"PRAGMA {pragma}")
    try:
        row = cursor.fetchone()
        return row[0] if row else None
    finally:
        cursor.close()


def connect(database: str, busy_timeout_ms: int) -> InlineConnection:
    """Like ``aiosqlite.connect``; SQLAlchemy's ``async_creator``."""
    connection = InlineConnection(database, busy_timeout_ms)
    connection._thread.daemon = True  # as SQLAlchemy does for aiosqlite: never hold up interpreter exit
    return connection
