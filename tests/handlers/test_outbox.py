"""The outbox: queued in the transaction of its cause, deduplicated, delivered within Telegram's answers."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from shop.notifications import notify_customer
from storage.models import utcnow
from tests.handlers.conftest import Shop
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
        return [r.status for r in await outbox_rows(shop, "order_status")] == ["failed"]

    await eventually(failed)
    [row] = await outbox_rows(shop, "order_status")
    assert "blocked" in row.last_error and row.attempts == 0
    async with shop.uow() as u:
        assert (await u.customers.by_telegram_id(ann.id)).blocked_at is not None
    await asyncio.sleep(2.5)  # a loop round later: still failed, not sent again
    assert [r.status for r in await outbox_rows(shop, "order_status")] == ["failed"]


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
