"""The unit of work: one session per update or job; one commit; rollback unless committed."""

from __future__ import annotations

import asyncio
from types import TracebackType

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from .db import IMMEDIATE, writer_lock
from .repositories import (
    BroadcastRepository,
    CartRepository,
    CatalogRepository,
    CustomerRepository,
    LoyaltyRepository,
    NoteRepository,
    OrderRepository,
    OutboxRepository,
    PaymentRepository,
    StaffRepository,
    TickRepository,
    UpdateRepository,
)


class UnitOfWork:
    """``async with UnitOfWork(factory) as uow: ...; await uow.commit()`` — repositories never commit."""

    session: AsyncSession

    def __init__(self, session_factory: async_sessionmaker[AsyncSession]) -> None:
        self._factory = session_factory
        self._writing = False
        self._lock: asyncio.Lock | None = None  # SQLite: this process's writers' queue, held while writing

    async def __aenter__(self) -> UnitOfWork:
        self.session = self._factory()
        self.customers = CustomerRepository(self.session)
        self.catalog = CatalogRepository(self.session)
        self.carts = CartRepository(self.session)
        self.orders = OrderRepository(self.session)
        self.updates = UpdateRepository(self.session)
        self.staff = StaffRepository(self.session)
        self.payments = PaymentRepository(self.session)
        self.outbox = OutboxRepository(self.session)
        self.notes = NoteRepository(self.session)
        self.loyalty = LoyaltyRepository(self.session)
        self.broadcasts = BroadcastRepository(self.session)
        self.ticks = TickRepository(self.session)
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            # Detach first: what a service returns stays readable after the closing rollback.
            self.session.expunge_all()
            await self.session.rollback()
        finally:
            await self.session.close()
            self._done_writing()

    async def begin_write(self) -> bool:
        """Make the current transaction a writer's (SQLite: ``BEGIN IMMEDIATE``); True when this call
        began it, so what was read before it may have changed since.

        A read snapshot already open is ended first: upgrading it could fail at once with "database is
        locked" if another writer committed meanwhile, while a fresh immediate transaction waits its turn.
        """
        if self._writing and self.session.in_transaction():
            return False
        if self.session.in_transaction():
            await self.session.commit()  # only reads so far; expire_on_commit=False keeps loaded objects
        lock = writer_lock(self._factory.kw.get("bind"))
        if lock is not None and self._lock is None:
            await lock.acquire()
            self._lock = lock
        self._writing = True
        try:
            await self.session.connection(execution_options={IMMEDIATE: True})
        except BaseException:
            self._done_writing()
            raise
        return True

    def _done_writing(self) -> None:
        self._writing = False
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    async def commit(self) -> None:
        try:
            await self.session.commit()
        finally:
            self._done_writing()

    async def rollback(self) -> None:
        try:
            await self.session.rollback()
        finally:
            self._done_writing()

    async def end_read(self) -> None:
        """Close a read-only transaction early (before slow I/O such as sending to Telegram)."""
        if self.session.in_transaction() and not self._writing:
            await self.session.commit()
