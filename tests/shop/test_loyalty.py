"""Loyalty: earn on paid, tiers, redeem at checkout (capped), give back on cancel/expiry/refund, expiry
oldest first with a notice a week before, staff adjustments; the ledger always adds up (hypothesis)."""

from __future__ import annotations

import asyncio
import itertools
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
import time_machine
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from shop import cart as carts
from shop import checkout, loyalty, orders, payments
from shop.config import ShopConfig, Tier
from shop.errors import DomainError
from shop.orders import OrderStatus
from shop.reminders import expire_unpaid
from storage.models import LoyaltyEntry, utcnow
from tests.factories import make_customer, make_product
from tests.shop.test_checkout import ready_checkout
from tests.shop.test_reminders import outbox

OWNER = 1
_skus = itertools.count(1)
CONFIG = ShopConfig(
    currency="USD",
    admin_ids=(OWNER,),
    points_per_unit=Decimal("0.1"),  # 1 point per $10
    point_value_minor=10,  # a point is 10 cents
    max_redeem_percent=50,
    tiers=(Tier("bronze", 0), Tier("silver", 20), Tier("gold", 50, Decimal(2))),
    points_expire_after=timedelta(days=365),
)


async def order_for(uow: Any, customer: Any, price_minor: int, *, use_points: bool = False) -> Any:
    product = await make_product(uow, sku=f"P{next(_skus)}", price_minor=price_minor)
    async with uow() as u:
        await carts.add_to_cart(u, customer.id, product.id, 1, CONFIG)
    token = await ready_checkout(uow, customer, "pickup")
    if use_points:
        async with uow() as u:
            await checkout.use_points(u, customer.id, True)
    async with uow() as u:
        return (await checkout.place_order(u, customer, token, CONFIG)).order


async def pay(uow: Any, order: Any) -> None:
    async with uow() as u:
        amount = f"{order.total_minor // 100}.{order.total_minor % 100:02d}"
        await payments.record_payment(u, order.id, amount, "cash", None, OWNER, CONFIG)


async def ledger(uow: Any, customer_id: int) -> list[tuple[str, int, int]]:
    async with uow() as u:
        return [(e.kind, e.points, e.balance_after) for e in await u.loyalty.entries(customer_id)]


async def test_paying_earns_points_once_and_tiers_multiply(uow: Any) -> None:
    ann = await make_customer(uow)
    first = await order_for(uow, ann, 25_000)  # $250 → 25 points: silver (20)
    await pay(uow, first)
    assert await ledger(uow, ann.id) == [("earned", 25, 25)]
    notes = [r.template for r in await outbox(uow, "loyalty")]
    assert notes == ["notify.points_earned", "notify.tier_up"]  # and now silver
    second = await order_for(uow, ann, 30_000)  # $300 → 30 points at silver ×1: lifetime 55, gold
    await pay(uow, second)
    third = await order_for(uow, ann, 10_000)  # $100 → 10 points ×2 at gold = 20
    await pay(uow, third)
    assert [e[1] for e in await ledger(uow, ann.id)] == [25, 30, 20]
    assert [
        r.context.get("tier") for r in await outbox(uow, "loyalty") if r.template == "notify.tier_up"
    ] == [
        "silver",
        "gold",
    ]


async def test_redeem_is_capped_and_given_back_when_cancelled(uow: Any) -> None:
    ann = await make_customer(uow)
    await pay(uow, await order_for(uow, ann, 100_000))  # 100 points = $10 of credit
    small = await order_for(uow, ann, 1_000, use_points=True)  # $10 order: at most 50% = 50 points
    assert (small.points_used, small.discount_minor, small.total_minor) == (50, 500, 500)
    assert await ledger(uow, ann.id) == [("earned", 100, 100), ("redeemed", -50, 50)]
    async with uow() as u:
        await orders.cancel_by_customer(u, ann.id, small.id, CONFIG)
    assert (await ledger(uow, ann.id))[-1] == ("reversed", 50, 100)  # the 50 points are back


async def test_checkout_summary_offers_and_applies_points(uow: Any) -> None:
    ann = await make_customer(uow)
    await pay(uow, await order_for(uow, ann, 30_000))  # 30 points
    tea = await make_product(uow, sku="TEA-X", price_minor=1_000)
    async with uow() as u:
        await carts.add_to_cart(u, ann.id, tea.id, 1, CONFIG)
    await ready_checkout(uow, ann, "pickup")
    async with uow() as u:
        offer = await checkout.summary(u, ann.id, CONFIG)
    assert (offer.points_available, offer.points_used, offer.total_minor) == (30, 0, 1_000)
    async with uow() as u:
        await checkout.use_points(u, ann.id, True)
    async with uow() as u:
        using = await checkout.summary(u, ann.id, CONFIG)
    assert (using.points_used, using.discount_minor, using.total_minor) == (30, 300, 700)


async def test_expiry_and_refund_reverse_points_used_and_earned(uow: Any) -> None:
    ann = await make_customer(uow)
    await pay(uow, await order_for(uow, ann, 50_000))  # 50 points
    unpaid = await order_for(uow, ann, 600, use_points=True)  # uses 30 (50% of $6)
    assert unpaid.points_used == 30
    with time_machine.travel(utcnow() + timedelta(days=2)):
        async with uow() as u:
            await expire_unpaid(u, CONFIG, utcnow())
    assert (await ledger(uow, ann.id))[-1] == ("reversed", 30, 50)
    refunded = await order_for(uow, ann, 40_000)  # $400 → 40 points ×2 (gold at 50) = 80
    await pay(uow, refunded)
    assert await ledger(uow, ann.id) == [
        ("earned", 50, 50),
        ("redeemed", -30, 20),
        ("reversed", 30, 50),
        ("earned", 80, 130),
    ]
    async with uow() as u:
        await orders.change_status(u, refunded.id, OrderStatus.refunded, OWNER, "returned", CONFIG)
    assert (await ledger(uow, ann.id))[-1] == ("reversed", -80, 50)


async def test_points_spent_before_a_refund_are_taken_back_only_as_far_as_the_balance(uow: Any) -> None:
    ann = await make_customer(uow)
    big = await order_for(uow, ann, 100_000)
    await pay(uow, big)  # 100 points
    async with uow() as u:
        customer = await u.customers.get(ann.id)
        await loyalty.adjust(u, customer, -90, "spent in the shop", OWNER, CONFIG)
    async with uow() as u:
        await orders.change_status(u, big.id, OrderStatus.refunded, OWNER, None, CONFIG)
    assert (await ledger(uow, ann.id))[-2:] == [("adjusted", -90, 10), ("reversed", -10, 0)]


async def test_staff_adjustments_never_go_below_zero(uow: Any) -> None:
    ann = await make_customer(uow)
    async with uow() as u:
        customer = await u.customers.get(ann.id)
        await loyalty.adjust(u, customer, 40, "birthday", OWNER, CONFIG)
    with pytest.raises(loyalty.NotEnoughPoints):
        async with uow() as u:
            await loyalty.adjust(u, customer, -41, "too much", OWNER, CONFIG)
    with pytest.raises(loyalty.InvalidPoints):
        async with uow() as u:
            await loyalty.adjust(u, customer, 0, "", OWNER, CONFIG)
    entries = await ledger(uow, ann.id)
    assert entries == [("adjusted", 40, 40)]
    async with uow() as u:
        [entry] = await u.loyalty.entries(ann.id)
    assert entry.actor == f"staff:{OWNER}" and entry.reason == "birthday"
    [notice] = await outbox(uow, "loyalty")
    assert notice.template == "notify.points_adjusted" and notice.context["points"] == 40


async def test_points_expire_oldest_first_after_a_notice_a_week_before(uow: Any) -> None:
    ann = await make_customer(uow)
    start = datetime(2026, 1, 10, 12, 0, tzinfo=UTC)
    with time_machine.travel(start, tick=False) as clock:
        async with uow() as u:
            customer = await u.customers.get(ann.id)
            await loyalty.adjust(u, customer, 30, "old", OWNER, CONFIG)
        clock.shift(timedelta(days=100))
        async with uow() as u:
            await loyalty.adjust(u, customer, 50, "newer", OWNER, CONFIG)
        async with uow() as u:
            await loyalty.adjust(u, customer, -10, "spent", OWNER, CONFIG)  # comes out of the old 30
        clock.move_to(start + timedelta(days=365 - 8))
        async with uow() as u:
            assert await loyalty.warn_expiring(u, CONFIG, utcnow()) == 0  # 8 days ahead: not yet
        clock.shift(timedelta(days=1, hours=1))
        for _ in range(2):
            async with uow() as u:
                await loyalty.warn_expiring(u, CONFIG, utcnow())
        [notice] = [r for r in await outbox(uow, "loyalty") if r.template == "notify.points_expiring"]
        assert notice.context["points"] == 20
        async with uow() as u:
            view = await loyalty.points_view(u, ann.id, CONFIG, utcnow())
        assert (view.balance, view.expiring) == (70, 20)
        clock.move_to(start + timedelta(days=365, hours=1))
        for _ in range(2):  # twice, or late: expires once
            async with uow() as u:
                await loyalty.expire_points(u, CONFIG, utcnow())
        assert (await ledger(uow, ann.id))[-1] == ("expired", -20, 50)
        clock.move_to(start + timedelta(days=465, hours=1))
        async with uow() as u:
            await loyalty.expire_points(u, CONFIG, utcnow())
        assert (await ledger(uow, ann.id))[-1] == ("expired", -50, 0)


async def test_concurrent_redemptions_never_overdraw(uow: Any) -> None:
    """Two devices place orders with points at once: the ledger takes turns, the balance stays >= 0."""
    ann = await make_customer(uow)
    await pay(uow, await order_for(uow, ann, 60_000))  # 60 points

    async def one(sku: str) -> Any:
        product = await make_product(uow, sku=sku, price_minor=20_000)
        async with uow() as u:
            await carts.add_to_cart(u, ann.id, product.id, 1, CONFIG)
        return product

    await one("A1")
    token = await ready_checkout(uow, ann, "pickup")
    async with uow() as u:
        await checkout.use_points(u, ann.id, True)

    async def place() -> Any:
        async with uow() as u:
            return (await checkout.place_order(u, ann, token, CONFIG)).order

    placed = await asyncio.gather(place(), place())
    assert placed[0].id == placed[1].id
    assert await ledger(uow, ann.id) == [("earned", 60, 60), ("redeemed", -60, 0)]


# --- the ledger always adds up ----------------------------------------------------------------------
OPERATIONS = st.lists(
    st.one_of(
        st.tuples(st.just("adjust"), st.integers(-200, 200)),
        st.tuples(st.just("order"), st.integers(100, 50_000), st.booleans()),
        st.tuples(st.just("pay"), st.integers(0, 5)),
        st.tuples(st.just("cancel"), st.integers(0, 5)),
        st.tuples(st.just("refund"), st.integers(0, 5)),
        st.tuples(st.just("days"), st.integers(1, 400)),
    ),
    min_size=1,
    max_size=14,
)


@settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck))
@given(operations=OPERATIONS)
async def test_balance_always_equals_the_ledger(uow: Any, operations: list[tuple[Any, ...]]) -> None:
    ann = await make_customer(uow)
    placed: list[Any] = []
    with time_machine.travel(datetime(2026, 1, 1, tzinfo=UTC), tick=False) as clock:
        for operation in operations:
            kind = operation[0]
            try:
                async with uow() as u:
                    customer = await u.customers.get(ann.id)
                    if kind == "adjust" and operation[1]:
                        await loyalty.adjust(u, customer, operation[1], "test", OWNER, CONFIG)
                    elif kind == "days":
                        clock.shift(timedelta(days=operation[1]))
                        await loyalty.expire_points(u, CONFIG, utcnow())
                    elif kind in {"pay", "cancel", "refund"} and placed:
                        order = await u.orders.get(placed[operation[1] % len(placed)].id)
                        if kind == "pay" and order.status == "pending_payment":
                            await pay(uow, order)
                        elif kind == "cancel":
                            await orders.change_status(
                                u, order.id, OrderStatus.cancelled, OWNER, None, CONFIG
                            )
                        elif kind == "refund":
                            await orders.change_status(u, order.id, OrderStatus.refunded, OWNER, None, CONFIG)
                if kind == "order":
                    placed.append(await order_for(uow, ann, operation[1], use_points=operation[2]))
            except DomainError:
                pass
            async with uow() as u:
                entries = await u.loyalty.entries(ann.id)
                total = await u.session.scalar(
                    select(func.coalesce(func.sum(LoyaltyEntry.points), 0)).where(
                        LoyaltyEntry.customer_id == ann.id
                    )
                )
                balance = await u.loyalty.balance(ann.id)
            running = 0
            for entry in entries:
                running += entry.points
                assert entry.balance_after == running >= 0
            assert balance == total == running
            for order in placed:
                async with uow() as u:
                    fresh = await u.orders.get(order.id)
                cap = (fresh.subtotal_minor + fresh.delivery_fee_minor) * CONFIG.max_redeem_percent // 100
                assert fresh.discount_minor == fresh.points_used * CONFIG.point_value_minor <= cap
