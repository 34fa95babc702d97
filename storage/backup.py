"""A consistent copy of a SQLite shop, taken while the bot runs (``orderbot db backup``).

Copying ``orderbot.db`` with ``cp`` while the bot runs is not a backup: under WAL the last commits are
in ``orderbot.db-wal`` until a checkpoint copies them over, and a copy taken during a checkpoint can be
torn. ``VACUUM INTO`` writes one snapshot of the database — WAL included — into a new, compact file, as
a reader: the bot goes on reading and writing meanwhile.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from sqlalchemy.engine import make_url

from .db import SQLITE_BUSY_TIMEOUT_MS, sqlite_file


class BackupRefused(Exception):
    """Nothing was written; the message says why."""


def backup_sqlite(database_url: str, target: Path) -> int:
    """Write a snapshot of the SQLite database at ``database_url`` to ``target`` (which must not exist);
    its size in bytes."""
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite":
        raise BackupRefused("the database is PostgreSQL: use pg_dump (docs/deploy.md)")
    file = sqlite_file(url)
    if file is None or not Path(file).is_file():
        raise BackupRefused(f"no SQLite database file at {url.database or '(none)'}")
    source = Path(file)
    if target.exists():
        raise BackupRefused(f"{target} exists; give a new file name")
    connection = sqlite3.connect(f"{source.resolve().as_uri()}?mode=ro", uri=True)
    try:
        connection.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        connection.execute("VACUUM INTO ?", (str(target),))
    except sqlite3.Error as error:
        target.unlink(missing_ok=True)
        raise BackupRefused(f"SQLite could not copy the database: {error}") from None
    finally:
        connection.close()
    return target.stat().st_size
