"""Reports computed from real orders and payments."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from shop import cart as carts
from shop import checkout, payments
from shop.config import ShopConfig
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
