"""The unit of work: one session per update or job; one commit; rollback unless committed."""

from __future__ import annotations

from types import TracebackType

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from .db import IMMEDIATE
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
            self._writing = False

    async def begin_write(self) -> None:
        """Make the current transaction a writer's (SQLite: ``BEGIN IMMEDIATE``).

        A read snapshot already open is ended first: upgrading it could fail at once with "database is
        locked" if another writer committed meanwhile, while a fresh immediate transaction waits its turn.
        """
        if self._writing and self.session.in_transaction():
            return
        if self.session.in_transaction():
            await self.session.commit()  # only reads so far; expire_on_commit=False keeps loaded objects
        await self.session.connection(execution_options={IMMEDIATE: True})
        self._writing = True

    async def commit(self) -> None:
        await self.session.commit()
        self._writing = False

    async def rollback(self) -> None:
        await self.session.rollback()
        self._writing = False

    async def end_read(self) -> None:
        """Close a read-only transaction early (before slow I/O such as sending to Telegram)."""
        if self.session.in_transaction() and not self._writing:
            await self.session.commit()
