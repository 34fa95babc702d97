"""Broadcast audiences and the one-transaction start: opted-in and reachable customers only."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import time_machine

from shop import broadcast, crm, customers
from shop.config import ShopConfig
from storage.models import utcnow
from tests.factories import make_customer
from tests.shop.test_loyalty import CONFIG, order_for, pay
from tests.shop.test_reminders import outbox


async def opted_in(uow: Any, name: str, **extra: Any) -> Any:
    customer = await make_customer(uow, name, **extra)
    async with uow() as u:
        return await customers.set_preference(u, customer.id, "marketing_opt_in", True)


async def names(uow: Any, audience: str, config: ShopConfig = CONFIG) -> list[str]:
    async with uow() as u:
        return [c.first_name for c in await broadcast.recipients(u, audience, config, utcnow())]


async def test_audiences_pick_the_right_customers(uow: Any) -> None:
    ann = await opted_in(uow, "Ann")
    bob = await opted_in(uow, "Bob")
    await make_customer(uow, "Quiet")  # never opted in
    gone = await opted_in(uow, "Gone")
    async with uow() as u:
        await crm.set_type(u, bob.id, "vip")
        await u.begin_write()
        (await u.customers.get(gone.id)).blocked_at = utcnow()
        await u.commit()
    assert await names(uow, "all") == ["Ann", "Bob"]
    assert await names(uow, "type-vip") == ["Bob"]
    with time_machine.travel(utcnow() - timedelta(days=40)):
        await pay(uow, await order_for(uow, ann, 30_000))  # 30 points: silver (20) in CONFIG
    await pay(uow, await order_for(uow, bob, 1_000))
    assert await names(uow, "recent-30") == ["Bob"]
    assert await names(uow, "recent-90") == ["Ann", "Bob"]
    assert await names(uow, "tier-silver") == ["Ann"]
    assert await names(uow, "tier-bronze") == ["Bob"]
    with pytest.raises(broadcast.BroadcastGone):
        await names(uow, "tier-diamond")
    assert "tier-silver" not in broadcast.audiences(ShopConfig(loyalty_enabled=False))


async def test_starting_writes_one_row_per_recipient_in_their_language(uow: Any) -> None:
    await opted_in(uow, "Ann")
    await opted_in(uow, "Иван", language_code="ru")
    async with uow() as u:
        item = await broadcast.start(
            u,
            text="Sale <today> & tomorrow",
            photo=None,
            audience="all",
            staff_id=1,
            chat_id=1,
            message_id=None,
            config=CONFIG,
        )
    rows = await outbox(uow, "broadcast")
    assert item.recipients == 2 and sorted(r.language for r in rows) == ["en", "ru"]
    assert {r.broadcast_id for r in rows} == {item.id} and rows[0].context == {
        "text": "Sale <today> & tomorrow"
    }
    async with uow() as u:
        assert (await broadcast.progress(u, item)).pending == 2
    with pytest.raises(broadcast.EmptyBroadcast):
        broadcast.check_message("   ", None)
    with pytest.raises(broadcast.EmptyBroadcast):
        broadcast.check_message("x" * 1001, "photo-id")
