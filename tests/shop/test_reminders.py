"""Reminders and expiry with time moved forward (time-machine): once each, safe to run twice or late."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, time, timedelta
from typing import Any

import time_machine

from shop import cart as carts
from shop import checkout, orders, payments, telegram_payments
from shop.config import ShopConfig
from shop.customers import set_preference
from shop.notifications import hold_until, release_held
from shop.reminders import daily_digest, expire_unpaid, remind_carts, remind_unpaid
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
        order = (await checkout.place_order(u, ann, token, CONFIG)).order
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


OWNER, CLERK = 42, 7


async def order_of(uow: Any, name: str, product_id: int, config: ShopConfig) -> tuple[Any, int]:
    """A new customer's unpaid pickup order of two of the product; returns them and its number."""
    customer = await make_customer(uow, name)
    async with uow() as u:
        await carts.add_to_cart(u, customer.id, product_id, 2, config)
    token = await ready_checkout(uow, customer, "pickup")
    async with uow() as u:
        return customer, (await checkout.place_order(u, customer, token, config)).order.id


async def test_an_order_with_a_receipt_or_money_in_never_expires_staff_are_reminded(uow: Any) -> None:
    """An employee's payment waiting for the owner, a receipt, a part payment: the customer may have
    paid, and only staff can tell. Those orders keep their stock and wait; staff hear of each once."""
    config = replace(CONFIG, admin_ids=(OWNER,))
    with time_machine.travel(datetime(2026, 11, 21, 10, 0, tzinfo=UTC), tick=False) as clock:
        tea = await make_product(uow, stock=20)
        placed = {name: await order_of(uow, name, tea.id, config) for name in ("Ann", "Bob", "Cy", "Di")}
        number = {name: order for name, (_, order) in placed.items()}
        async with uow() as u:
            await orders.attach_receipt(u, placed["Bob"][0].id, "AgACreceipt", config)
        async with uow() as u:
            pending = await payments.record_payment(u, number["Cy"], "9.00", "transfer", None, CLERK, config)
        async with uow() as u:
            await payments.record_payment(u, number["Di"], "4.00", "cash", None, OWNER, config)
        clock.shift(timedelta(hours=2, minutes=1))
        async with uow() as u:
            await remind_unpaid(u, config, utcnow())
        assert [r.context["number"] for r in await outbox(uow, "unpaid_reminder")] == [number["Ann"]]
        clock.shift(timedelta(hours=22))
        for _ in range(2):
            async with uow() as u:
                await expire_unpaid(u, config, utcnow())
        async with uow() as u:
            statuses = {name: (await u.orders.get(order)).status for name, order in number.items()}
        assert statuses == {
            "Ann": "expired",
            "Bob": "pending_payment",
            "Cy": "pending_payment",
            "Di": "pending_payment",
        }
        assert await stock_of(uow, tea.id) == 20 - 3 * 2
        reminded = [r for r in await outbox(uow, "unpaid_reminder") if r.chat_id == OWNER]
        assert [(r.context["number"], r.context["paid_minor"], r.context["receipt"]) for r in reminded] == [
            (number["Bob"], 0, True),
            (number["Cy"], 0, False),
            (number["Di"], 400, False),
        ]
    async with uow() as u:  # the owner gets to it a day late: the order is paid, not expired
        settled = await payments.verify_payment(u, pending.payment.id, OWNER, config)
    assert settled.order_became_paid and settled.order.status == "paid" and not settled.order_closed


async def test_money_for_an_order_that_closed_meanwhile_is_flagged_never_kept_silently(uow: Any) -> None:
    """An employee's payment verified after the order was cancelled; Stars paid for an order that
    expired between Telegram's pre-checkout and the payment: both recorded, the order left closed,
    staff asked to give the money back, the customer told they will."""
    config = replace(CONFIG, admin_ids=(OWNER,), stars_enabled=True)
    tea = await make_product(uow, stock=20)
    ann, cancelled = await order_of(uow, "Ann", tea.id, config)
    bob, expired = await order_of(uow, "Bob", tea.id, config)
    async with uow() as u:
        pending = (
            await payments.record_payment(u, cancelled, "9.00", "transfer", None, CLERK, config)
        ).payment
    async with uow() as u:
        await orders.change_status(u, cancelled, orders.OrderStatus.cancelled, CLERK, "changed mind", config)
    async with uow() as u:
        await u.begin_write()
        order = await u.orders.with_customer(expired)
        await orders.transition(u, order, orders.OrderStatus.expired, "system", config=config)
        await u.commit()
    async with uow() as u:
        verified = await payments.verify_payment(u, pending.id, OWNER, config)
    assert verified.order_closed and not verified.order_became_paid
    async with uow() as u:
        stars = await telegram_payments.record_telegram_payment(
            u, bob.telegram_id, f"order:{expired}", "XTR", 450, "stx-late", config
        )
    assert stars is not None and stars.order_closed
    async with uow() as u:
        assert [(await u.orders.get(n)).status for n in (cancelled, expired)] == ["cancelled", "expired"]
        assert [p.status for n in (cancelled, expired) for p in await u.payments.for_order(n)] == [
            "verified",
            "verified",
        ]
    flagged = await outbox(uow, "payment_on_closed_order")
    assert [(r.chat_id, r.context["number"], r.context["status"]) for r in flagged] == [
        (OWNER, cancelled, "cancelled"),
        (ann.telegram_id, cancelled, "cancelled"),
        (OWNER, expired, "expired"),
        (bob.telegram_id, expired, "expired"),
    ]
    assert [r.context["method"] for r in flagged if r.chat_id == OWNER] == ["transfer", "stars"]


async def test_a_reminder_due_at_night_waits_for_the_morning(uow: Any) -> None:
    with time_machine.travel(datetime(2026, 11, 21, 21, 30, tzinfo=UTC), tick=False) as clock:
        await unpaid_order(uow)
        clock.shift(timedelta(hours=2, minutes=1))  # 23:31 in London
        async with uow() as u:
            await remind_unpaid(u, CONFIG, utcnow())
        [reminder] = await outbox(uow, "unpaid_reminder")
        assert reminder.due_at == datetime(2026, 11, 22, 8, 0, tzinfo=UTC)


# --- abandoned carts ----------------------------------------------------------------------------------
async def fill_cart(uow: Any, customer: Any, product_id: int, quantity: int = 1) -> None:
    async with uow() as u:
        await carts.add_to_cart(u, customer.id, product_id, quantity, CONFIG)


async def test_a_cart_left_alone_is_reminded_once_per_state(uow: Any) -> None:
    with time_machine.travel(datetime(2026, 11, 21, 10, 0, tzinfo=UTC), tick=False) as clock:
        ann, bob = await make_customer(uow), await make_customer(uow, "Bob")
        off = await make_customer(uow, "Off")
        gone = await make_customer(uow, "Gone")
        tea = await make_product(uow, stock=50)
        for customer in (ann, bob, off, gone):
            await fill_cart(uow, customer, tea.id, 2)
        async with uow() as u:
            await set_preference(u, off.id, "cart_reminders", False)
            await u.begin_write()
            (await u.customers.get(gone.id)).blocked_at = utcnow()
            await u.commit()
        async with uow() as u:
            assert await remind_carts(u, CONFIG, utcnow()) == 0  # too early
        clock.shift(timedelta(hours=1))
        await fill_cart(uow, bob, tea.id)  # Bob is still shopping
        clock.shift(timedelta(hours=2, minutes=1))
        for _ in range(2):  # twice, or late: once
            async with uow() as u:
                await remind_carts(u, CONFIG, utcnow())
        [reminder] = await outbox(uow, "cart_reminder")
        assert reminder.chat_id == ann.telegram_id and reminder.context == {"items": 2, "total_minor": 900}
        clock.shift(timedelta(hours=1))
        async with uow() as u:
            await remind_carts(u, CONFIG, utcnow())
        assert sorted(r.chat_id for r in await outbox(uow, "cart_reminder")) == sorted(
            [ann.telegram_id, bob.telegram_id]
        )
        await fill_cart(uow, ann, tea.id)  # a new state of Ann's cart: one more reminder, later
        clock.shift(timedelta(hours=3, minutes=1))
        async with uow() as u:
            await remind_carts(u, CONFIG, utcnow())
        rows = await outbox(uow, "cart_reminder")
        assert [r.context["items"] for r in rows if r.chat_id == ann.telegram_id] == [2, 3]


async def test_an_emptied_cart_gets_no_reminder(uow: Any) -> None:
    with time_machine.travel(datetime(2026, 11, 21, 10, 0, tzinfo=UTC), tick=False) as clock:
        ann = await make_customer(uow)
        tea = await make_product(uow, stock=50)
        await fill_cart(uow, ann, tea.id)
        async with uow() as u:
            await carts.clear_cart(u, ann.id)
        clock.shift(timedelta(hours=4))
        async with uow() as u:
            assert await remind_carts(u, CONFIG, utcnow()) == 0


# --- the staff digest ---------------------------------------------------------------------------------
DIGEST = ShopConfig(
    currency="USD", timezone="Europe/London", admin_ids=(1, 2), digest_time=time(9, 0), low_stock=3
)


async def test_the_digest_goes_once_a_day_at_its_time_with_yesterdays_figures(uow: Any) -> None:
    with time_machine.travel(datetime(2026, 11, 20, 15, 0, tzinfo=UTC), tick=False) as clock:
        ann = await make_customer(uow)
        await make_product(uow, sku="LOW", name="Last scones", stock=2)
        tea = await make_product(uow, stock=50)
        await fill_cart(uow, ann, tea.id, 2)
        token = await ready_checkout(uow, ann, "pickup")
        async with uow() as u:
            order = (await checkout.place_order(u, ann, token, DIGEST)).order
        async with uow() as u:
            await payments.record_payment(u, order.id, "9.00", "cash", None, 1, DIGEST)
        await fill_cart(uow, ann, tea.id, 1)
        token = await ready_checkout(uow, ann, "pickup")
        async with uow() as u:
            waiting = (await checkout.place_order(u, ann, token, DIGEST)).order
        async with uow() as u:  # a clerk's payment, waiting for an owner
            await payments.record_payment(u, waiting.id, "4.50", "transfer", "TX1", 99, DIGEST)
        clock.move_to(datetime(2026, 11, 21, 8, 59, tzinfo=UTC))
        async with uow() as u:
            assert await daily_digest(u, DIGEST, utcnow()) == 0  # before 09:00 London
        clock.move_to(datetime(2026, 11, 21, 9, 0, tzinfo=UTC))
        for _ in range(2):
            async with uow() as u:
                await daily_digest(u, DIGEST, utcnow())
        rows = await outbox(uow, "digest")
        assert sorted(r.chat_id for r in rows) == [1, 2]  # each owner, once
        context = rows[0].context
        assert context["day"] == "2026-11-20" and context["revenue_minor"] == 900 and context["orders"] == 1
        assert context["pending_payments"] == 1  # the clerk's, waiting for /verify
        assert context["waiting"] == 2  # the paid one, and the one awaiting payment
        assert [p["sku"] for p in context["low_stock"]] == ["LOW"]
        clock.move_to(datetime(2026, 11, 22, 23, 52, tzinfo=UTC))  # the next day, started late at night
        async with uow() as u:
            assert await daily_digest(u, DIGEST, utcnow()) == 0  # "Good morning" at 23:52: never
        clock.move_to(datetime(2026, 11, 23, 9, 40, tzinfo=UTC))  # back after a restart, within the hour
        async with uow() as u:
            await daily_digest(u, DIGEST, utcnow())
        days = [r.context["day"] for r in await outbox(uow, "digest")]
        assert days.count("2026-11-21") == 0 and days.count("2026-11-22") == 2
        assert ShopConfig(digest_time=None).digest_time is None


async def test_alerts_with_nobody_to_receive_them_wait_for_an_owner(uow: Any) -> None:
    """Orders placed before the shop had an owner or a staff chat alerted nobody; now they wait."""
    _, number, _ = await unpaid_order(uow)  # CONFIG: no ADMIN_IDS, no STAFF_CHAT_ID
    held = [row for row in await outbox(uow, "new_order")]
    assert [(row.chat_id, row.status) for row in held] == [(0, "held")]
    async with uow() as u:
        assert await release_held(u, CONFIG, utcnow()) == 0  # still nobody
    owned = ShopConfig(currency="USD", admin_ids=(7, 8))
    async with uow() as u:
        assert await release_held(u, owned, utcnow()) == 2  # one to each owner
    async with uow() as u:
        assert await release_held(u, owned, utcnow()) == 0  # once
    rows = sorted((row.chat_id, row.status) for row in await outbox(uow, "new_order"))
    assert rows == [(0, "released"), (7, "pending"), (8, "pending")]
    assert all(row.context["number"] == number for row in await outbox(uow, "new_order") if row.chat_id)
