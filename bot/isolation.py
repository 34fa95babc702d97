"""One update of a user at a time across workers (REDIS_URL): a Redis lock its holder keeps alive.

aiogram's ``RedisEventIsolation`` takes the user's lock for a fixed minute. A worker that dies while it
handles an update (killed, out of memory, its machine gone) never releases it: Telegram delivers the
unanswered update again to another worker, which waits there for the rest of the minute, and the chat's
later updates wait behind it. Here the lock is a lease of ``ttl`` seconds that its holder renews while
the handler runs: a dead holder's lock lapses within ``ttl``, and a live one's lasts as long as its
handler, up to ``longest``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncGenerator
from typing import Any

from aiogram.fsm.storage.base import BaseEventIsolation, KeyBuilder, StorageKey
from redis.asyncio.lock import Lock
from redis.exceptions import LockError, RedisError

log = logging.getLogger("orderbot")


class LeasedRedisEventIsolation(BaseEventIsolation):
    """``ttl``: the lease, renewed every third of it; ``longest``: how long one update may keep its user
    to itself (a handler stuck on a network call lets the user's next updates go after that)."""

    def __init__(
        self, redis: Any, key_builder: KeyBuilder, ttl: float = 10.0, longest: float = 120.0
    ) -> None:
        self.redis, self.key_builder, self.ttl, self.longest = redis, key_builder, ttl, longest

    @contextlib.asynccontextmanager
    async def lock(self, key: StorageKey) -> AsyncGenerator[None, None]:
        lock = Lock(self.redis, self.key_builder.build(key, "lock"), timeout=self.ttl, sleep=0.1)
        await lock.acquire()  # waits while another update of this user runs, at most ``longest`` + ``ttl``
        renewing = asyncio.get_running_loop().create_task(self._renew(lock))
        try:
            yield None
        finally:
            renewing.cancel()
            await asyncio.gather(renewing, return_exceptions=True)
            try:
                await lock.release()
            except LockError:  # it lapsed (the loop stalled past ``ttl``): the update is handled all the same
                log.warning("the lock on %s lapsed before its update was handled", lock.name)
            except RedisError as error:  # the update is handled; the lease lapses on its own
                log.warning(
                    "the lock on %s could not be released (%s); it lapses by itself", lock.name, error
                )

    async def _renew(self, lock: Lock) -> None:
        """Every third of ``ttl`` the lease is ``ttl`` again, for ``longest`` at most; a renewal that
        fails on a Redis error is tried at the next."""
        loop = asyncio.get_running_loop()
        until = loop.time() + self.longest
        while True:
            await asyncio.sleep(self.ttl / 3)
            if loop.time() >= until:
                log.warning(
                    "an update has held %s for %.0f s; the lock is left to lapse", lock.name, self.longest
                )
                return
            try:
                await lock.reacquire()
            except LockError:
                log.warning("the lock on %s lapsed while its update was handled", lock.name)
                return
            except RedisError as error:
                log.warning("the lock on %s could not be renewed: %s", lock.name, error)

    async def close(self) -> None:
        pass
