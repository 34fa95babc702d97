"""Reports computed from real orders and payments."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any

import time_machine

from handlers.render import Renderer
from shop import cart as carts
from shop import checkout, crm, payments
from shop.config import ShopConfig
from shop.reminders import daily_digest
from shop.reports import build_report
from storage.models import utcnow
from tests.factories import make_customer, make_product
from tests.shop.test_checkout import ready_checkout

OWNER = 42
CONFIG = ShopConfig(currency="USD", admin_ids=(OWNER,), payment_methods=("transfer", "cash"))


async def paid_order(uow: Any, customer: Any, product: Any, quantity: int, days_ago: int = 0) -> int:
    async with uow() as u:
        await carts.add_to_cart(u, customer.id, product.id, quantity, CONFIG)
    token = await ready_checkout(uow, customer, "pickup")
    async with uow() as u:
        order = (await checkout.place_order(u, customer, token, CONFIG)).order
    async with uow() as u:
        await payments.record_payment(u, order.id, str(order.total_minor / 100), "cash", None, OWNER, CONFIG)
    if days_ago:
        async with uow() as u:
            await u.begin_write()
            row = await u.orders.get(order.id)
            row.created_at = utcnow() - timedelta(days=days_ago)
            for payment in await u.payments.for_order(order.id):
                payment.decided_at = row.created_at
            await u.commit()
    return order.id


async def test_new_and_returning_customers_and_days(uow: Any) -> None:
    tea = await make_product(uow, stock=100)
    cake = await make_product(uow, sku="CAKE", name="Cake", price_minor=300, stock=100)
    regular = await make_customer(uow, "Regular")
    newcomer = await make_customer(uow, "New")
    await paid_order(uow, regular, tea, 1, days_ago=40)  # bought before the month
    await paid_order(uow, regular, cake, 2, days_ago=3)
    await paid_order(uow, newcomer, tea, 3)
    async with uow() as u:
        month = await build_report(u, "month", "UTC", utcnow())
        today = await build_report(u, "today", "UTC", utcnow())
    assert (month.revenue_minor, month.orders, month.new_customers, month.repeat_customers) == (
        600 + 1350,
        2,
        1,
        1,
    )
    assert month.top_products == [("Green tea", 3), ("Cake", 2)]
    assert len(month.revenue_by_day) == 30 and sum(v for _, v in month.revenue_by_day) == 1950
    assert (today.revenue_minor, today.orders, today.by_method) == (1350, 1, {"cash": 1350})


async def test_report_digest_and_customer_card_agree_from_one_set_of_orders(uow: Any) -> None:
    """A customer's first order today counts them as new (not returning, however many orders they place
    today); an overpayment is kept apart from revenue, as the card counts what the orders cost; money
    on a cancelled order is to give back."""
    tea = await make_product(uow, stock=100)  # $4.50
    ann = await make_customer(uow, "Ann")
    first = await paid_order(uow, ann, tea, 2)  # $9.00
    async with uow() as u:
        await carts.add_to_cart(u, ann.id, tea.id, 1, CONFIG)
    token = await ready_checkout(uow, ann, "pickup")
    async with uow() as u:
        second = (await checkout.place_order(u, ann, token, CONFIG)).order  # $4.50, paid $15.50
    async with uow() as u:
        await payments.record_payment(u, second.id, "15.50", "transfer", "TX1", OWNER, CONFIG)
    async with uow() as u:
        await carts.add_to_cart(u, ann.id, tea.id, 1, CONFIG)
    token = await ready_checkout(uow, ann, "pickup")
    async with uow() as u:
        third = (await checkout.place_order(u, ann, token, CONFIG)).order
    async with uow() as u:
        await payments.record_payment(u, third.id, "2.00", "cash", None, OWNER, CONFIG)  # a part
    async with uow() as u:
        report = await build_report(u, "today", "UTC", utcnow())
        card = await crm.profile(u, ann.id)
    assert (report.new_customers, report.repeat_customers) == (1, 0)
    assert report.revenue_minor == card.metrics.spent_minor == 900 + 450
    assert report.overpaid_minor == 1100 and report.partial_minor == 200
    assert report.by_method == {"cash": 900, "transfer": 450}
    text = Renderer(CONFIG).render("reports.summary", "en", r=report)
    assert "average $6.75\nOverpaid, kept apart: $11.00\nPaid towards orders not yet paid" in text, text
    assert sum(v for _, v in report.revenue_by_day) == report.revenue_minor
    digest_config = ShopConfig(currency="USD", admin_ids=(OWNER,), digest_time=time(9, 0))  # UTC
    tomorrow = datetime.combine(utcnow().date() + timedelta(days=1), time(9, 0), UTC)
    with time_machine.travel(tomorrow, tick=False):  # the next morning's digest
        async with uow() as u:
            assert await daily_digest(u, digest_config, utcnow()) == 1
        async with uow() as u:
            row = await u.outbox.by_key(f"digest:{tomorrow.date().isoformat()}:to:{OWNER}")
    assert row is not None and row.context["revenue_minor"] == card.metrics.spent_minor
    assert first != second.id
