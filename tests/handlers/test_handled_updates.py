"""The record of handled updates: written for many at once with their senders read, each update answered
for itself."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.middlewares import HandledUpdates
from shop.config import ShopConfig
from shop.customers import TelegramUser, identify
from shop.staff import add_staff
from storage.db import create_engine, create_session_factory
from storage.models import ProcessedUpdate
from storage.uow import UnitOfWork


async def first_time(handled: HandledUpdates, bot_id: int, update_id: int) -> bool:
    return (await handled.arrive(bot_id, update_id, None)).first_time


def statements_seen(engine: AsyncEngine) -> list[str]:
    statements: list[str] = []

    def seen(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        statements.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", seen)
    return statements


async def test_updates_arriving_together_are_recorded_in_one_statement(
    engine: AsyncEngine, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    handled = HandledUpdates(session_factory)
    statements = statements_seen(engine)
    fresh = await asyncio.gather(*(first_time(handled, 7, update_id) for update_id in range(1, 61)))
    assert fresh == [True] * 60
    inserts = [s for s in statements if s.startswith("INSERT INTO processed_updates")]
    assert len(inserts) <= 2  # the first update's own, then everything that queued behind it
    again = await asyncio.gather(*(first_time(handled, 7, update_id) for update_id in (1, 30, 60, 61)))
    assert again == [False, False, False, True]
    assert await first_time(handled, 8, 1)  # another bot's update 1 is another update
    async with UnitOfWork(session_factory) as uow:
        recorded = await uow.session.scalar(select(func.count()).select_from(ProcessedUpdate))
    assert recorded == 62


async def test_the_senders_are_read_with_the_record_and_identify_needs_no_query(
    engine: AsyncEngine, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    config = ShopConfig(currency="USD", admin_ids=(900,))
    people = {user_id: TelegramUser(user_id, f"U{user_id}", None, None, "en") for user_id in (901, 902)}
    async with UnitOfWork(session_factory) as uow:
        for user in people.values():
            await identify(uow, user, config)
        assert await add_staff(uow, 900, 902, config)
    handled = HandledUpdates(session_factory)
    arrivals = await asyncio.gather(
        handled.arrive(7, 1, 901),
        handled.arrive(7, 2, 902),
        handled.arrive(7, 3, 903),
        handled.arrive(7, 4, None),
    )
    assert [a.first_time for a in arrivals] == [True] * 4
    (ann, ann_role), (bob, bob_role), nobody, unknown = (a.known for a in arrivals)
    assert ann is not None and ann.first_name == "U901" and ann_role is None
    assert bob is not None and bob.first_name == "U902" and bob_role == "staff"
    assert nobody == (None, None)  # not a customer yet: identify registers them
    assert unknown is None  # no sender: nothing was read

    statements = statements_seen(engine)
    async with UnitOfWork(session_factory) as uow:
        customer, role = await identify(uow, people[902], config, arrivals[1].known)
    assert (customer.first_name, role) == ("U902", "staff")
    assert statements == []


async def test_the_same_update_twice_at_once_is_handled_once(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    handled = HandledUpdates(session_factory)
    answers = await asyncio.gather(*(first_time(handled, 7, 99) for _ in range(5)))
    assert sorted(answers) == [False, False, False, False, True]


async def test_when_the_database_fails_every_waiting_update_fails_and_the_next_ones_are_recorded(
    session_factory: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    broken = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'no such folder' / 'shop.db'}")
    handled = HandledUpdates(create_session_factory(broken))
    results = await asyncio.gather(*(first_time(handled, 7, u) for u in range(3)), return_exceptions=True)
    assert all(isinstance(result, Exception) for result in results), results
    await broken.dispose()

    handled.session_factory = session_factory  # the database is back
    assert await asyncio.gather(*(first_time(handled, 7, u) for u in range(3))) == [True, True, True]


async def test_a_cancelled_update_does_not_stop_the_others(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    handled = HandledUpdates(session_factory)
    one = asyncio.ensure_future(first_time(handled, 7, 1))
    two = asyncio.ensure_future(first_time(handled, 7, 2))
    await asyncio.sleep(0)
    two.cancel()
    assert await one is True
    with pytest.raises(asyncio.CancelledError):
        await two
    assert await first_time(handled, 7, 3) is True
