"""Reminders and expiry with time moved forward (time-machine): once each, safe to run twice or late."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import time_machine

from shop import cart as carts
from shop import checkout
from shop.config import ShopConfig
from shop.notifications import hold_until
from shop.reminders import expire_unpaid, remind_unpaid
from storage.models import utcnow
from tests.factories import make_customer, make_product, stock_of
from tests.shop.test_checkout import ready_checkout

CONFIG = ShopConfig(
    currency="USD",
    timezone="Europe/London",
    quiet_hours=(22, 8),
    unpaid_reminder_after=timedelta(hours=2),
    unpaid_expire_after=timedelta(hours=24),
)


async def unpaid_order(uow: Any) -> tuple[Any, int, int]:
    ann = await make_customer(uow)
    tea = await make_product(uow, stock=5)
    async with uow() as u:
        await carts.add_to_cart(u, ann.id, tea.id, 2, CONFIG)
    token = await ready_checkout(uow, ann, "pickup")
    async with uow() as u:
        order = (await checkout.place_order(u, ann.id, token, CONFIG)).order
    return ann, order.id, tea.id


async def outbox(uow: Any, kind: str) -> list[Any]:
    from sqlalchemy import select

    from storage.models import OutboxMessage

    async with uow() as u:
        return list((await u.session.scalars(select(OutboxMessage).where(OutboxMessage.kind == kind))).all())


def test_quiet_hours_hold_until_morning() -> None:
    late = datetime(2026, 11, 21, 23, 30, tzinfo=UTC)  # 23:30 in London (GMT in November)
    assert hold_until(late, CONFIG) == datetime(2026, 11, 22, 8, 0, tzinfo=UTC)
    early = datetime(2026, 11, 22, 6, 0, tzinfo=UTC)
    assert hold_until(early, CONFIG) == datetime(2026, 11, 22, 8, 0, tzinfo=UTC)
    noon = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
    assert hold_until(noon, CONFIG) == noon
    assert hold_until(late, ShopConfig()) == late  # no quiet hours set


async def test_unpaid_reminder_once_then_expiry_returns_stock(uow: Any) -> None:
    with time_machine.travel(datetime(2026, 11, 21, 10, 0, tzinfo=UTC), tick=False) as clock:
        ann, number, tea = await unpaid_order(uow)
        assert await stock_of(uow, tea) == 3
        async with uow() as u:
            assert await remind_unpaid(u, CONFIG, utcnow()) == 0  # too early
        clock.shift(timedelta(hours=2, minutes=1))
        for _ in range(2):  # a second run, or a late one, sends nothing twice
            async with uow() as u:
                await remind_unpaid(u, CONFIG, utcnow())
        [reminder] = await outbox(uow, "unpaid_reminder")
        assert reminder.context["number"] == number and reminder.due_at == utcnow()  # 12:01: not quiet
        clock.shift(timedelta(hours=22))  # 10:01 next day: past the 24 hours
        for _ in range(2):
            async with uow() as u:
                await expire_unpaid(u, CONFIG, utcnow())
        async with uow() as u:
            order = await u.orders.get(number)
        assert order.status == "expired" and [e.actor for e in order.events][-1] == "system"
        assert await stock_of(uow, tea) == 5
        assert [r.context["status"] for r in await outbox(uow, "order_status")] == ["expired"]


async def test_a_reminder_due_at_night_waits_for_the_morning(uow: Any) -> None:
    with time_machine.travel(datetime(2026, 11, 21, 21, 30, tzinfo=UTC), tick=False) as clock:
        await unpaid_order(uow)
        clock.shift(timedelta(hours=2, minutes=1))  # 23:31 in London
        async with uow() as u:
            await remind_unpaid(u, CONFIG, utcnow())
        [reminder] = await outbox(uow, "unpaid_reminder")
        assert reminder.due_at == datetime(2026, 11, 22, 8, 0, tzinfo=UTC)
