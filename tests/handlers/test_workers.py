"""Several workers on one database: each job tick runs once, each outbox row is sent by one worker."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta
from types import SimpleNamespace
from typing import Any

import pytest
import time_machine
from sqlalchemy import func, select

from bot.app import create_bot
from bot.outbox import OutboxSender, SendLimits
from bot.scheduler import Clock
from bot.settings import load_settings
from handlers.render import Renderer
from sandbox import SandboxServer
from sandbox.client import SandboxClient
from shop.config import ShopConfig
from storage.models import Customer, JobTick, OutboxMessage, utcnow
from storage.uow import UnitOfWork
from tests.conftest import TOKEN


async def _nothing() -> None:
    return None


# a clock's sender with nothing to send
IDLE_SENDER = SimpleNamespace(flush_logged=_nothing, kick=lambda: None)


async def test_each_tick_of_a_job_runs_on_one_worker(session_factory: Any) -> None:
    workers = [Clock(IDLE_SENDER, session_factory, ShopConfig()) for _ in range(4)]  # type: ignore[arg-type]
    claims = await asyncio.gather(*(w._claim("digest", 3600) for w in workers for _ in range(3)))
    assert sorted(claims) == [False] * 11 + [True]
    async with UnitOfWork(session_factory) as uow:
        assert await uow.session.scalar(select(func.count()).select_from(JobTick)) == 1


async def test_housekeeping_forgets_sent_messages_after_a_month_and_keeps_what_is_owed(
    session_factory: Any,
) -> None:
    clock = Clock(IDLE_SENDER, session_factory, ShopConfig())  # type: ignore[arg-type]
    month = timedelta(days=31)
    rows = {  # dedupe key: (status, queued how long ago)
        "old-sent": ("sent", month),
        "old-failed": ("failed", month),
        "old-unreachable": ("unreachable", month),
        "old-pending": ("pending", month),  # still owed (held back by retries): never dropped
        "new-sent": ("sent", timedelta(days=29)),
    }
    async with UnitOfWork(session_factory) as uow:
        await uow.begin_write()
        for key, (status, age) in rows.items():
            at = utcnow() - age
            await uow.outbox.enqueue(
                OutboxMessage(
                    kind="k", chat_id=5, template="t", dedupe_key=key, status=status, created_at=at, due_at=at
                )
            )
        await uow.commit()
    await clock._housekeeping()
    async with UnitOfWork(session_factory) as uow:
        kept = set(await uow.session.scalars(select(OutboxMessage.dedupe_key)))
    assert kept == {"old-pending", "new-sent"}


async def test_stopping_the_clock_lets_a_tick_under_way_finish(session_factory: Any) -> None:
    """A tick in the middle of its work when the bot stops is finished, not cancelled (a cancelled flush
    logged a traceback at shutdown, and work half done)."""
    started, finished = asyncio.Event(), asyncio.Event()

    async def slow_flush() -> None:
        started.set()
        await asyncio.sleep(0.3)
        finished.set()

    clock = Clock(SimpleNamespace(flush_logged=slow_flush), session_factory, ShopConfig())  # type: ignore[arg-type]
    clock.start()
    await asyncio.wait_for(started.wait(), 10)
    await clock.stop()
    assert finished.is_set() and not clock.running


async def test_two_senders_never_send_a_row_twice(
    sandbox: SandboxServer, client: SandboxClient, session_factory: Any
) -> None:
    settings = load_settings(bot_token=TOKEN, telegram_api_url=sandbox.url)
    renderer = Renderer(settings.shop_config())
    bots = [create_bot(settings) for _ in range(2)]
    limits = SendLimits(per_second=60, chat_per_second=50, chat_burst=5)  # a second or two of sending
    senders = [OutboxSender(bot, session_factory, renderer, limits) for bot in bots]
    await asyncio.gather(*(sender.flush() for sender in senders))  # both connected and idle
    users = [await client.create_user(f"U{i}") for i in range(20)]
    for user in users:
        await user.send("/start")
    async with UnitOfWork(session_factory) as uow:
        await uow.begin_write()
        for user in users:
            uow.customers.add(Customer(telegram_id=user.id, first_name="U"))
            for i in range(3):
                await uow.outbox.enqueue(
                    OutboxMessage(
                        kind="news",
                        chat_id=user.id,
                        template="notify.broadcast",
                        context={"text": f"news {i}"},
                        dedupe_key=f"news:{user.id}:{i}",
                    )
                )
        await uow.commit()
    try:
        deadline = time.monotonic() + 30  # a chat the two overlap on may be told to wait (429)
        while time.monotonic() < deadline:
            await asyncio.gather(*(sender.flush() for sender in senders))
            async with UnitOfWork(session_factory) as uow:
                statement = (
                    select(func.count()).select_from(OutboxMessage).where(OutboxMessage.status != "sent")
                )
                if not await uow.session.scalar(statement):
                    break
            await asyncio.sleep(0.1)
    finally:
        for bot in bots:
            await bot.session.close()
    for user in users:
        news = sorted(m["text"] for m in await user.bot_messages())
        assert news == ["news 0", "news 1", "news 2"], news


async def test_rows_one_worker_claimed_are_not_anothers_until_the_lease_passes(
    sandbox: SandboxServer, session_factory: Any
) -> None:
    async with UnitOfWork(session_factory) as uow:
        await uow.begin_write()
        for i in range(6):
            await uow.outbox.enqueue(
                OutboxMessage(
                    kind="news",
                    chat_id=1000 + i,
                    template="notify.broadcast",
                    context={"text": "hi"},
                    dedupe_key=f"n:{i}",
                )
            )
        await uow.commit()
    settings = load_settings(bot_token=TOKEN, telegram_api_url=sandbox.url)
    renderer = Renderer(settings.shop_config())
    bot = create_bot(settings)
    try:
        first, second = (OutboxSender(bot, session_factory, renderer) for _ in range(2))
        mine = await first._claim(4)
        theirs = await second._claim(10)
        assert len(mine) == 4 and len(theirs) == 2
        assert not {r.id for r in mine} & {r.id for r in theirs}
        assert await second._claim(10) == []  # all leased
        with time_machine.travel(utcnow() + timedelta(minutes=2), tick=False):
            again = await second._claim(10)  # the first worker died: its rows are due again
        assert sorted(r.id for r in again) == sorted(r.id for r in mine + theirs)
    finally:
        await bot.session.close()


async def _queue(session_factory: Any, chats: list[int], start: int = 0, **values: Any) -> list[int]:
    """A row for each chat, in this order; their ids."""
    async with UnitOfWork(session_factory) as uow:
        await uow.begin_write()
        for i, chat in enumerate(chats, start):
            message = OutboxMessage(
                kind="news", chat_id=chat, template="notify.broadcast", context={"text": "hi"}, **values
            )
            message.dedupe_key = f"n:{i}"
            await uow.outbox.enqueue(message)
        await uow.commit()
        rows = await uow.session.scalars(select(OutboxMessage.id).order_by(OutboxMessage.id))
        return list(rows)[start:]


async def _senders(sandbox: SandboxServer, session_factory: Any) -> tuple[Any, OutboxSender, OutboxSender]:
    settings = load_settings(bot_token=TOKEN, telegram_api_url=sandbox.url)
    renderer, bot = Renderer(settings.shop_config()), create_bot(settings)
    return bot, OutboxSender(bot, session_factory, renderer), OutboxSender(bot, session_factory, renderer)


async def test_a_chats_newer_rows_wait_while_another_worker_holds_its_older_ones(
    sandbox: SandboxServer, session_factory: Any
) -> None:
    """Two workers on one chat would send side by side: its third message could arrive before its first."""
    bot, first, second = await _senders(sandbox, session_factory)
    try:
        one, two, other = await _queue(session_factory, [1000, 1000, 1001])
        assert sorted(r.id for r in await first._claim(10)) == [one, two, other]
        three, elsewhere = await _queue(session_factory, [1000, 1002], start=3)
        assert [r.id for r in await second._claim(10)] == [elsewhere]  # chat 1000 is on its way
        await first._update(one, status="sent", sent_at=utcnow())
        assert await second._claim(10) == []  # its second message still is
        await first._update(two, status="sent", sent_at=utcnow())
        assert [r.id for r in await second._claim(10)] == [three]
    finally:
        await bot.session.close()


async def test_a_refused_row_holds_up_its_chats_newer_rows_for_every_worker(
    sandbox: SandboxServer, session_factory: Any
) -> None:
    bot, first, second = await _senders(sandbox, session_factory)
    try:
        [refused] = await _queue(session_factory, [1000])
        await first._claim(10)
        # Telegram said "retry after 30": the row waits, and so does anything newer for that chat
        await first._update(refused, due_at=utcnow() + timedelta(seconds=30), last_error="Too Many Requests")
        later, quiet = await _queue(session_factory, [1000, 1001], start=1)
        async with UnitOfWork(session_factory) as uow:  # kept for the end of the quiet hours
            await uow.begin_write()
            row = await uow.outbox.get(quiet)
            assert row is not None
            row.due_at = utcnow() + timedelta(hours=8)
            await uow.commit()
        [other] = await _queue(session_factory, [1001], start=3)
        # a message kept for later holds nothing up; a refused one holds up its chat
        assert [r.id for r in await second._claim(10)] == [other]
        with time_machine.travel(utcnow() + timedelta(seconds=31), tick=False):
            again = await second._claim(10)  # (the row of chat 1001 claimed above: its lease passed)
            assert [r.id for r in again if r.chat_id == 1000] == [refused, later]  # in the order queued
    finally:
        await bot.session.close()


async def test_a_chat_whose_oldest_row_another_worker_is_claiming_is_left_to_it(
    sandbox: SandboxServer, session_factory: Any
) -> None:
    """PostgreSQL: two workers claim at once. The other one has locked the chat's first row and not yet
    committed its lease; this one skips the locked row, and must not take the chat's second."""
    if session_factory.kw["bind"].dialect.name != "postgresql":
        pytest.skip("SQLite has one writer at a time: no claim is ever under way beside another")
    bot, _, second = await _senders(sandbox, session_factory)
    try:
        one, _two, other = await _queue(session_factory, [1000, 1000, 1001])
        async with session_factory() as session:
            await session.execute(select(OutboxMessage).where(OutboxMessage.id == one).with_for_update())
            assert [r.id for r in await second._claim(10)] == [other]
    finally:
        await bot.session.close()


async def test_a_claim_reads_only_pending_rows_through_their_indexes(session_factory: Any) -> None:
    """SQLite plans without statistics, by the indexes' shapes: the claim's batch comes in due order
    from the pending rows' time index, and its per-chat check from the chat index. A time index over
    every row (sent history included) was taken for the per-chat check too: a scan of every pending
    row, a big broadcast's thousands, at every claim."""
    from storage.repositories import _DUE, _OLDEST

    engine = session_factory.kw["bind"]
    if engine.dialect.name != "sqlite":
        pytest.skip("PostgreSQL plans by its statistics of the rows")

    async def plan(statement: Any) -> str:
        sql = statement.compile(dialect=engine.dialect, compile_kwargs={"render_postcompile": True}).string
        async with engine.connect() as connection:
            rows = await connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}", (None,) * sql.count("?"))
            return " | ".join(str(row[-1]) for row in rows)

    due = await plan(_DUE.params(now=None, limit=10))
    assert "ix_outbox_pending_due" in due and "TEMP B-TREE" not in due  # already in the batch's order
    oldest = await plan(_OLDEST.params(now=None, chats=[1000, 1001]))
    assert "ix_outbox_pending_chat (chat_id=?)" in oldest, oldest
