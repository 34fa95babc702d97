"""A group commit: small writes from many tasks, written together when they arrive together."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from .uow import UnitOfWork

K = TypeVar("K", bound=Hashable)


class GroupCommit(Generic[K]):
    """``await commits.add(item)`` returns once ``write(uow, items)`` has committed a batch holding the
    item (or raises what the write raised). Items added while a batch is being written wait for it and
    are then written together: at rest an item is a transaction of its own, under load one transaction
    serves all that queued."""

    def __init__(
        self,
        session_factory: async_sessionmaker[AsyncSession],
        write: Callable[[UnitOfWork, list[K]], Awaitable[object]],
    ) -> None:
        self.session_factory, self.write = session_factory, write
        self._waiting: dict[K, asyncio.Future[None]] = {}
        self._writer: asyncio.Task[None] | None = None

    async def add(self, item: K) -> None:
        future = self._waiting.get(item)
        if future is None:
            future = self._waiting[item] = asyncio.get_running_loop().create_future()
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write())
        await asyncio.shield(future)

    async def _write(self) -> None:
        while self._waiting:
            batch: dict[K, asyncio.Future[None]] = {}
            try:
                async with UnitOfWork(self.session_factory) as uow:
                    await uow.begin_write()  # waiting for the writer's turn, more items join the batch
                    batch, self._waiting = self._waiting, {}
                    await self.write(uow, list(batch))
                    await uow.commit()
            except Exception as error:  # noqa: BLE001 - the database is down? Those it was for hear of it
                failed = batch or self._waiting
                for future in failed.values():
                    if not future.done():
                        future.set_exception(error)
                failed.clear()
                continue
            for future in batch.values():
                if not future.done():
                    future.set_result(None)
