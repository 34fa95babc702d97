"""aiosqlite, with the statements that can never wait run where they are asked for.

aiosqlite runs every call on its own thread and wakes the event loop with the answer: a thread switch,
a future and a loop wake-up for every statement, every fetch and every commit. Most of our statements
take microseconds, so that round trip cost more than the work: recording an update and reading its
customer (two transactions) took 4.1 ms through the thread and 1.5 ms here, on the same machine. Under
WAL, though, only a few calls can wait for another connection:

- ``BEGIN IMMEDIATE`` waits for the writer's lock when another process holds it (it is tried here first
  without waiting: this process's own writers queue before it, so the lock is usually free);
- a write outside a writer's transaction would have to take that lock;
- a writer's ``COMMIT`` may checkpoint the WAL into the database file (disk writes and an fsync);
- a full-text search (``MATCH``) over a large catalog does real work for milliseconds.

Those still go to aiosqlite's thread, so the event loop never stalls on a lock or the disk. Everything
else — reads, ``BEGIN``, the statements of a writer that already holds the lock, a reader's commit,
rollbacks — runs at once in the caller's thread. Calls never overlap (SQLAlchemy awaits each), so the
sqlite3 connection is opened with ``check_same_thread=False`` and used from one thread at a time.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable
from functools import partial
from typing import Any

import aiosqlite

_BUSY = object()
_DEEP = re.compile(r"\bMATCH\b")  # keeps working in fetches after the first row: off the loop


class InlineConnection(aiosqlite.Connection):
    """An aiosqlite connection that runs a call in the caller's thread when it cannot wait."""

    def __init__(
        self, connector: Callable[[], sqlite3.Connection], busy_timeout_ms: int, iter_chunk_size: int = 64
    ) -> None:
        super().__init__(connector, iter_chunk_size)
        self._busy_timeout_ms = busy_timeout_ms
        self._writing = False  # this connection holds the writer's lock (after BEGIN IMMEDIATE)
        self._deep: sqlite3.Cursor | None = None  # a cursor whose statement runs on the thread

    async def _execute(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        name = getattr(fn, "__name__", "")
        if name in ("execute", "executemany"):
            return await self._statement(fn, args, kwargs)
        if name == "commit":
            inline = not self._writing
            self._writing = False
        elif name == "rollback":
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
        if head == "BEGIN IMMEDIATE":
            result = self._begin_at_once(fn, args, kwargs)
            if result is _BUSY:  # another process is writing: wait for it on the thread
                result = await super()._execute(fn, *args, **kwargs)
            self._writing = True
            return result
        if _DEEP.search(sql):
            self._deep = cursor
            return await super()._execute(fn, *args, **kwargs)
        if cursor is self._deep:
            self._deep = None
        if self._writing or head.startswith(("SELECT", "BEGIN")):
            return self._here(fn, args, kwargs)
        return await super()._execute(fn, *args, **kwargs)  # a write that may have to take the lock

    def _begin_at_once(self, fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        """``BEGIN IMMEDIATE`` here when the lock is free (this process's writers queue before it, so it
        usually is); ``_BUSY`` when another process holds it."""
        connection = self._conn
        connection.execute("PRAGMA busy_timeout = 0")
        try:
            return fn(*args, **kwargs)
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) and "busy" not in str(error):
                raise
            return _BUSY
        finally:
            connection.execute(f"PRAGMA busy_timeout = {self._busy_timeout_ms}")

    def begin_deferred(self) -> None:
        """``BEGIN`` at once, from SQLAlchemy's ``begin`` event (``storage.db``): it never waits under WAL,
        so it needs neither the thread nor a statement's way through SQLAlchemy and its greenlet bridge
        (a cursor made, executed and closed: three round trips for a word)."""
        self._here(self._conn.execute, ("BEGIN",), {})

    def _here(self, fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        if not self._running or not self._connection:
            raise ValueError("Connection closed")
        return fn(*args, **kwargs)


def connect(database: str, busy_timeout_ms: int) -> InlineConnection:
    """Like ``aiosqlite.connect``; SQLAlchemy's ``async_creator``."""
    connector = partial(sqlite3.connect, database, timeout=busy_timeout_ms / 1000, check_same_thread=False)
    connection = InlineConnection(connector, busy_timeout_ms)
    connection._thread.daemon = True  # as SQLAlchemy does for aiosqlite: never hold up interpreter exit
    return connection
