"""The unit of work's end: what it returned stays readable, and what it did not commit is undone
(both databases)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine

from storage.db import create_session_factory
from storage.uow import UnitOfWork
from tests.factories import make_product


async def test_what_a_unit_of_work_returned_stays_readable_and_what_it_left_uncommitted_is_undone(
    engine: AsyncEngine,
) -> None:
    factory = create_session_factory(engine)
    made = await make_product(lambda: UnitOfWork(factory), sku="TEA-1", name="Green tea", stock=5)
    async with UnitOfWork(factory) as uow:  # a reader
        read = await uow.catalog.product(made.id)
    assert read is not None and (read.name, read.stock) == ("Green tea", 5)  # detached, not expired
    async with UnitOfWork(factory) as uow:  # a writer that never commits
        await uow.begin_write()
        changed = await uow.catalog.product(made.id)
        assert changed is not None
        changed.stock = 1
        await uow.session.flush()
    assert (changed.name, changed.stock) == ("Green tea", 1)  # still readable as it was left
    async with UnitOfWork(factory) as uow:
        again = await uow.catalog.product(made.id)
    assert again is not None and again.stock == 5  # the flushed change was rolled back
