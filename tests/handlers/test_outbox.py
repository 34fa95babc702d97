"""The outbox: queued in the transaction of its cause, deduplicated, delivered within Telegram's answers."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta
from typing import Any

import pytest

from bot.app import create_bot
from bot.outbox import SendLimits
from bot.pacing import Pace
from shop.notifications import notify_customer
from storage.models import utcnow
from tests.handlers.conftest import Shop
from tests.handlers.test_checkout_orders import checkout_to_summary, fill_cart
from tests.handlers.test_staff import placed, staff_says


async def outbox_rows(shop: Shop, kind: str) -> list[Any]:
    from sqlalchemy import select

    from storage.models import OutboxMessage

    async with shop.uow() as u:
        return list((await u.session.scalars(select(OutboxMessage).where(OutboxMessage.kind == kind))).all())


async def eventually(check: Any, timeout: float = 10.0) -> None:
    for _ in range(int(timeout / 0.1)):
        if await check():
            return
        await asyncio.sleep(0.1)
    raise AssertionError("not in time")


async def test_the_same_event_is_queued_once(shop: Shop) -> None:
    ann, number = await placed(shop)
    async with shop.uow() as u:
        customer = await u.customers.by_telegram_id(ann.id)
        await u.begin_write()
        first = await notify_customer(
            u,
            customer,
            shop.dp["config"],
            kind="test",
            template="notify.status",
            key="order:1:status:test",
            number=number,
            status="paid",
            note="",
        )
        again = await notify_customer(
            u,
            customer,
            shop.dp["config"],
            kind="test",
            template="notify.status",
            key="order:1:status:test",
            number=number,
            status="paid",
            note="",
        )
        await u.commit()
    assert (first, again) == (True, False)
    assert len(await outbox_rows(shop, "test")) == 1


@pytest.mark.allow_bot_errors  # the 403 is the point
async def test_a_customer_who_blocked_the_bot_is_marked_and_never_retried(shop: Shop) -> None:
    ann, number = await placed(shop)
    await ann.block()
    await staff_says(shop.owner, f"/pay {number} 9 cash", "The order is paid")

    async def failed() -> bool:
        return [r.status for r in await outbox_rows(shop, "order_status")] == ["unreachable"]

    await eventually(failed)
    [row] = await outbox_rows(shop, "order_status")
    assert "blocked" in row.last_error and row.attempts == 0
    async with shop.uow() as u:
        assert (await u.customers.by_telegram_id(ann.id)).blocked_at is not None
    await asyncio.sleep(2.5)  # a loop round later: still failed, not sent again
    assert [r.status for r in await outbox_rows(shop, "order_status")] == ["unreachable"]


@pytest.mark.allow_bot_errors  # the injected 502 is the point
async def test_flood_control_and_server_errors_delay_but_deliver(shop: Shop) -> None:
    ann, number = await placed(shop)
    await shop.client.add_fault("429", method="sendMessage", chat_id=ann.id, retry_after=1)
    await shop.client.add_fault("502", method="sendMessage", chat_id=ann.id)
    await staff_says(shop.owner, f"/pay {number} 9 cash", "The order is paid")
    await ann.wait_for(text="We received your payment", timeout=15)

    async def sent() -> bool:
        return [r.status for r in await outbox_rows(shop, "order_status")] == ["sent"]

    await eventually(sent)  # marked sent only after Telegram accepted it, a moment after delivery
    [row] = await outbox_rows(shop, "order_status")
    assert row.status == "sent" and row.sent_at <= utcnow() and "Bad Gateway" in (row.last_error or "")


async def queue_news(shop: Shop, users: list[Any], each: int) -> None:
    async with shop.uow() as u:
        await u.begin_write()
        for user in users:
            customer = await u.customers.by_telegram_id(user.id)
            for i in range(each):
                await notify_customer(
                    u,
                    customer,
                    shop.dp["config"],
                    kind="news",
                    template="notify.status",
                    key=f"news:{user.id}:{i}",
                    number=i,
                    status="paid",
                    note=f"news {i}",
                )
        await u.commit()
    shop.dp["outbox"].kick()


async def all_sent(shop: Shop, kind: str, count: int) -> None:
    async def done() -> bool:
        rows = await outbox_rows(shop, kind)
        return len(rows) == count and all(r.status == "sent" for r in rows)

    await eventually(done, timeout=30)


async def test_the_sender_keeps_telegrams_limits(shop: Shop) -> None:
    ann, bob = await shop.started("Ann"), await shop.started("Bob")
    await shop.client.set_limits(private_per_second=1, private_burst=3)  # as the sender's own limits
    await queue_news(shop, [ann, bob], each=6)
    await all_sent(shop, "news", 12)
    stats = await shop.client.stats()
    assert stats["rate_limited"] == 0  # it waited its turn instead of being told off


async def test_a_pace_keeps_the_bucket_wherever_each_message_reached_telegram() -> None:
    pace, spans = Pace(burst=2, per_second=5), []  # one each 0.2 s after a burst of 2

    async def send(flight: float) -> None:
        async with pace:
            left = time.monotonic()
            await asyncio.sleep(flight)  # on its way: it reached Telegram at some moment in here
            spans.append((left, time.monotonic()))

    await asyncio.gather(*(send(flight) for flight in (0.3, 0.05, 0.1, 0.0, 0.25, 0.05, 0.0, 0.15)))
    assert len(spans) == 8
    for left, _ in spans:  # the worst case: this one arrived as it left, each earlier one at its answer
        earlier = [end for start, end in spans if start < left]  # or any time yet, if still in flight
        for since in [*(end for end in earlier if end <= left), left]:
            arrived = 1 + sum(1 for end in earlier if end >= since)
            assert arrived <= 2 + 5 * (left - since) + 1e-9
    await asyncio.sleep(0.4)
    assert pace.idle()


async def test_a_burst_that_reaches_telegram_late_does_not_make_the_next_message_early(shop: Shop) -> None:
    # A stalled loop or network holds the burst's requests back after they left the sender; the next
    # message, on time by the sender's clock, would be early by Telegram's: the sender counts a chat's
    # messages from Telegram's answers, not from when they left.
    ann = await shop.started("Ann")
    await shop.client.set_limits(private_per_second=1, private_burst=3)
    await shop.client.add_fault("slow", method="sendMessage", chat_id=ann.id, times=3, delay=0.8)
    await queue_news(shop, [ann], each=5)
    await all_sent(shop, "news", 5)
    assert (await shop.client.stats())["rate_limited"] == 0


@pytest.mark.allow_bot_errors  # the injected 429s are the point
async def test_a_429_storm_pauses_and_everything_still_goes(shop: Shop) -> None:
    ann = await shop.started("Ann")
    await shop.client.add_fault("429", method="sendMessage", chat_id=ann.id, times=3, retry_after=1)
    await queue_news(shop, [ann], each=4)
    await all_sent(shop, "news", 4)
    assert (await shop.client.stats())["rate_limited"] == 3
    notes = [m["text"] for m in await ann.bot_messages() if "news" in (m.get("text") or "")]
    assert notes == [f"📦 Order #{i}: paid\n📝 news {i}" for i in range(4)]  # in the order queued


async def test_a_chats_messages_arrive_in_the_order_they_were_queued(shop: Shop) -> None:
    # "Order completed" then "points earned": queued together, the first one slow on its way. Sent side
    # by side, the second and third would arrive first.
    ann, bob = await shop.started("Ann"), await shop.started("Bob")
    await shop.client.add_fault("slow", method="sendMessage", chat_id=ann.id, times=1, delay=1.5)
    await queue_news(shop, [ann, bob], each=3)
    await all_sent(shop, "news", 6)
    for user in (ann, bob):
        notes = [m["text"] for m in await user.bot_messages() if "news" in (m.get("text") or "")]
        assert notes == [f"📦 Order #{i}: paid\n📝 news {i}" for i in range(3)]
    sends = [c for c in await shop.client.calls("sendMessage") if "news" in str(c["params"].get("text"))]
    chats = [int(c["params"]["chat_id"]) for c in sends]  # in the order Telegram answered them
    assert chats == [bob.id] * 3 + [ann.id] * 3  # a chat's slow message holds up only that chat


@pytest.mark.allow_bot_errors  # the injected 429 is the point
async def test_a_refused_message_waits_as_long_as_telegram_asks(shop: Shop) -> None:
    ann = await shop.started("Ann")
    await shop.client.add_fault("429", method="sendMessage", chat_id=ann.id, retry_after=2)
    await queue_news(shop, [ann], each=1)
    await all_sent(shop, "news", 1)
    calls = [c for c in await shop.client.calls("sendMessage") if "news" in str(c["params"].get("text"))]
    assert [c["ok"] for c in calls] == [False, True]
    assert calls[1]["time"] - calls[0]["time"] >= 2.0


@pytest.mark.allow_bot_errors  # the injected 500s are the point
async def test_server_errors_are_retried_until_the_message_no_longer_matters(shop: Shop) -> None:
    ann, bob = await shop.started("Ann"), await shop.started("Bob")
    sender = shop.dp["outbox"]
    sender.backoff, sender.retry_cap, sender.give_up_after = 0.2, 0.4, timedelta(seconds=4)
    await shop.client.add_fault("500", method="sendMessage", chat_id=ann.id, times=2)
    await shop.client.add_fault("500", method="sendMessage", chat_id=bob.id, times=500)
    await queue_news(shop, [ann, bob], each=1)

    async def settled() -> bool:
        return all(r.status in {"sent", "failed"} for r in await outbox_rows(shop, "news"))

    await eventually(settled, timeout=30)
    rows = {r.chat_id: r for r in await outbox_rows(shop, "news")}
    assert rows[ann.id].status == "sent" and rows[ann.id].attempts == 3  # two 500s, then accepted
    assert rows[bob.id].status == "failed" and rows[bob.id].attempts > 5  # tried on until it was too late
    assert rows[bob.id].sent_at is None and rows[bob.id].last_error
    assert "Internal Server Error" in rows[bob.id].last_error
    assert [m["text"] for m in await ann.bot_messages() if "news" in m.get("text", "")] == [
        "📦 Order #0: paid\n📝 news 0"
    ]


@pytest.mark.allow_bot_errors  # the outage's 502s are the point
async def test_a_ten_minute_outage_delays_every_message_and_loses_none(
    shop: Shop, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Telegram answers 502 for five minutes, then cannot be reached for five more; 50 messages queued
    before it all arrive after it, each chat's in order, none twice. The sender's clock is moved on by
    the test (its retries are minutes apart), Telegram's faults are real HTTP answers."""
    people = [await shop.started(name) for name in ("Ann", "Bob", "Cid", "Dee", "Eve")]
    sender = shop.dp["outbox"]
    sender.limits, sender._chats = SendLimits(chat_per_second=50, chat_burst=50), {}  # the test's own pace
    clock = [utcnow()]
    monkeypatch.setattr("bot.outbox.utcnow", lambda: clock[0])
    await shop.client.add_fault("502", times=100_000)  # every Bot API call, polling included
    await queue_news(shop, people, each=10)
    away = create_bot(shop.settings.model_copy(update={"telegram_api_url": "http://127.0.0.1:9"}))
    reachable, outage_end = sender.bot, clock[0] + timedelta(minutes=10)
    try:
        while clock[0] < outage_end:
            if clock[0] > outage_end - timedelta(minutes=5):
                sender.bot = away  # connection refused for the second half
            await sender.flush()
            clock[0] += timedelta(seconds=5)
        assert not [r for r in await outbox_rows(shop, "news") if r.status != "pending"]
    finally:
        sender.bot = reachable
        await away.session.close()
        await shop.client.clear_faults()
    for _ in range(60):  # Telegram is back: within a couple of retry intervals
        await sender.flush()
        if all(r.status == "sent" for r in await outbox_rows(shop, "news")):
            break
        clock[0] += timedelta(seconds=5)
    rows = await outbox_rows(shop, "news")
    assert [r.status for r in rows] == ["sent"] * 50
    assert min(r.attempts for r in rows) >= 1 and max(r.attempts for r in rows) > 5
    for person in people:
        news = [
            m["text"].rsplit(" ", 1)[1] for m in await person.bot_messages() if "news" in m.get("text", "")
        ]
        assert news == [str(i) for i in range(10)], (person.id, news)


@pytest.mark.allow_bot_errors
async def test_a_send_that_times_out_is_retried_and_lands_at_least_once(shop: Shop) -> None:
    ann = await shop.started("Ann")
    shop.dp["outbox"].timeout, shop.dp["outbox"].backoff = 1, 0.2
    await shop.client.add_fault("slow", method="sendMessage", chat_id=ann.id, delay=2.5)
    await queue_news(shop, [ann], each=1)
    await all_sent(shop, "news", 1)
    [row] = await outbox_rows(shop, "news")
    assert row.attempts == 2 and "timeout" in (row.last_error or "").lower()
    await asyncio.sleep(2)  # the slow first attempt may still land: at least once, at most twice
    news = [m for m in await ann.bot_messages() if "news" in m.get("text", "")]
    assert 1 <= len(news) <= 2


@pytest.mark.allow_bot_errors
async def test_a_slow_chat_does_not_hold_up_another_chats_messages(shop: Shop) -> None:
    ann, bob = await shop.started("Ann"), await shop.started("Bob")
    for customer in (ann, bob):
        await fill_cart(customer, 1, 1)
        await checkout_to_summary(customer, delivery=False, notes=None)
    await shop.client.add_fault("slow", method="editMessageText", chat_id=ann.id, delay=6)
    await ann.press("✅ Place order")  # its confirmation (an edit, by the outbox) takes six seconds
    await asyncio.sleep(0.5)
    await bob.press("✅ Place order")
    await bob.wait_for(text="is placed")  # before Ann hears of hers: not behind it
    assert not [m for m in await ann.bot_messages() if "is placed" in (m.get("text") or "")]
    await ann.wait_for(text="is placed", timeout=15)
