"""Loyalty: earn on paid, tiers, redeem at checkout (capped), give back on cancel/expiry/refund, expiry
oldest first with a notice a week before, staff adjustments; the ledger always adds up (hypothesis)."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
import time_machine
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from shop import cart as carts
from shop import checkout, loyalty, orders, payments, staff
from shop.config import ShopConfig, Tier
from shop.errors import DomainError
from shop.orders import OrderStatus
from shop.reminders import expire_unpaid
from storage.models import utcnow
from tests.factories import make_customer, make_product
from tests.shop.test_checkout import ready_checkout
from tests.shop.test_reminders import outbox

OWNER = 1
CLERK = 2
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


async def set_status(uow: Any, order: Any, status: OrderStatus) -> None:
    async with uow() as u:
        await orders.change_status(u, order.id, status, OWNER, None, CONFIG)


async def balance(uow: Any, customer_id: int) -> int:
    async with uow() as u:
        return await u.loyalty.balance(customer_id)


async def credits_expiry(uow: Any, customer_id: int) -> list[tuple[str, int, datetime]]:
    async with uow() as u:
        return [
            (e.kind, e.points, e.expires_at) for e in await u.loyalty.entries(customer_id) if e.points > 0
        ]


async def test_a_refund_takes_back_points_already_spent_so_none_come_from_nothing(uow: Any) -> None:
    """The review's sequence: earn 9 on A, spend them on B, refund A, cancel B. The refund took back
    min(9, balance 0) = 0 and the cancellation gave the 9 back: 9 points a round for refunded orders."""
    ann = await make_customer(uow)
    for _ in range(2):
        a = await order_for(uow, ann, 9_000)
        await pay(uow, a)  # $90: 9 points
        b = await order_for(uow, ann, 2_000, use_points=True)
        assert b.points_used == 9
        await set_status(uow, a, OrderStatus.refunded)
        assert await balance(uow, ann.id) == -9  # all 9 taken back, though spent
        await set_status(uow, b, OrderStatus.cancelled)
        assert await balance(uow, ann.id) == 0
    assert (await ledger(uow, ann.id))[-4:] == [
        ("earned", 9, 9),
        ("redeemed", -9, 0),
        ("reversed", -9, -9),
        ("reversed", 9, 0),
    ]
    told = [
        (r.context["taken"], r.context["back"], r.context["balance"])
        for r in await outbox(uow, "loyalty")
        if r.template == "notify.points_reversed"
    ]
    assert told == [(9, 0, -9), (0, 9, 0)] * 2


async def test_a_balance_below_zero_is_made_up_by_the_next_points(uow: Any) -> None:
    ann = await make_customer(uow)
    big = await order_for(uow, ann, 100_000)
    await pay(uow, big)  # 100 points
    async with uow() as u:
        customer = await u.customers.get(ann.id)
        await loyalty.adjust(u, customer, -90, "spent in the shop", OWNER, CONFIG)
    await set_status(uow, big, OrderStatus.refunded)
    assert (await ledger(uow, ann.id))[-2:] == [("adjusted", -90, 10), ("reversed", -100, -90)]
    async with uow() as u:
        view = await loyalty.points_view(u, ann.id, CONFIG, utcnow())
    assert (view.balance, view.value_minor, view.lifetime) == (-90, 0, 0)
    with pytest.raises(loyalty.NotEnoughPoints):  # nothing more can be taken, nor used at checkout
        async with uow() as u:
            await loyalty.adjust(u, customer, -1, "", OWNER, CONFIG)
    later = await order_for(uow, ann, 1_000, use_points=True)
    assert later.points_used == 0
    await pay(uow, await order_for(uow, ann, 30_000))  # 30 points go to what is owed
    assert (await ledger(uow, ann.id))[-1] == ("earned", 30, -60)
    [*_, earned] = [r for r in await outbox(uow, "loyalty") if r.template == "notify.points_earned"]
    assert earned.context["balance"] == -60


async def test_points_back_keep_their_expiry(uow: Any) -> None:
    """Points used on an order that is cancelled come back with the expiry they had (a fresh year
    before), and the expiry job finds them behind later credits and debits."""
    ann = await make_customer(uow)
    start = datetime(2026, 1, 10, 12, 0, tzinfo=UTC)
    year = CONFIG.points_expire_after
    with time_machine.travel(start, tick=False) as clock:
        await pay(uow, await order_for(uow, ann, 50_000))  # 50 points, until start + a year
        clock.shift(timedelta(days=300))
        spent = await order_for(uow, ann, 2_000, use_points=True)
        assert spent.points_used == 50
        async with uow() as u:
            customer = await u.customers.get(ann.id)
            await loyalty.adjust(u, customer, 200, "gift", OWNER, CONFIG)
        async with uow() as u:
            await loyalty.adjust(u, customer, -150, "spent", OWNER, CONFIG)
        clock.shift(timedelta(days=10))
        await set_status(uow, spent, OrderStatus.cancelled)
        assert (await credits_expiry(uow, ann.id))[-1] == ("reversed", 50, start + year)
        clock.move_to(start + year + timedelta(hours=1))
        async with uow() as u:
            assert await loyalty.expire_points(u, CONFIG, utcnow()) == 50
        assert (await ledger(uow, ann.id))[-1] == ("expired", -50, 50)  # the gift's 50 are left


async def test_points_back_already_past_their_expiry_go_at_once(uow: Any) -> None:
    ann = await make_customer(uow)
    start = datetime(2026, 1, 10, 12, 0, tzinfo=UTC)
    with time_machine.travel(start, tick=False) as clock:
        await pay(uow, await order_for(uow, ann, 50_000))  # 50 points
        clock.shift(timedelta(days=360))
        unpaid = await order_for(uow, ann, 2_000, use_points=True)
        clock.shift(timedelta(days=10))
        await set_status(uow, unpaid, OrderStatus.cancelled)
    assert (await ledger(uow, ann.id))[-2:] == [("reversed", 50, 50), ("expired", -50, 0)]
    [notice] = [r for r in await outbox(uow, "loyalty") if r.template == "notify.points_reversed"]
    assert (notice.context["back"], notice.context["expired"], notice.context["balance"]) == (50, 50, 0)


async def test_taking_an_order_back_takes_its_own_points_first(uow: Any) -> None:
    """Not the soonest to expire: those would leave the refunded order's points held, a year longer."""
    ann = await make_customer(uow)
    start = datetime(2026, 1, 10, 12, 0, tzinfo=UTC)
    with time_machine.travel(start, tick=False) as clock:
        async with uow() as u:
            customer = await u.customers.get(ann.id)
            await loyalty.adjust(u, customer, 30, "welcome", OWNER, CONFIG)
        clock.shift(timedelta(days=100))
        refunded = await order_for(uow, ann, 20_000)
        await pay(uow, refunded)  # 20 points
        await set_status(uow, refunded, OrderStatus.refunded)
        clock.move_to(start + CONFIG.points_expire_after + timedelta(hours=1))
        async with uow() as u:
            await loyalty.expire_points(u, CONFIG, utcnow())
    assert (await ledger(uow, ann.id))[-2:] == [("reversed", -20, 30), ("expired", -30, 0)]


async def test_points_back_from_a_refunded_order_return_what_stood_in_for_them(uow: Any) -> None:
    """B used the 20 welcome points and A's 9; refunding A took 9 of C's points instead. When B is
    cancelled, A's 9 give C's back (with C's expiry) rather than living on as A's."""
    ann = await make_customer(uow)
    start = datetime(2026, 1, 10, 12, 0, tzinfo=UTC)
    year = CONFIG.points_expire_after
    with time_machine.travel(start, tick=False) as clock:
        async with uow() as u:
            customer = await u.customers.get(ann.id)
            await loyalty.adjust(u, customer, 20, "welcome", OWNER, CONFIG)
        clock.shift(timedelta(days=10))
        a = await order_for(uow, ann, 9_000)
        await pay(uow, a)  # 9 points
        clock.shift(timedelta(days=10))
        b = await order_for(uow, ann, 10_000, use_points=True)
        assert b.points_used == 29
        clock.shift(timedelta(days=10))
        await pay(uow, await order_for(uow, ann, 30_000))  # C: 30 points, until start + 30 days + a year
        await set_status(uow, a, OrderStatus.refunded)
        assert await balance(uow, ann.id) == 21
        await set_status(uow, b, OrderStatus.cancelled)
        assert await balance(uow, ann.id) == 50
        clock.move_to(start + year + timedelta(days=15))  # the welcome points and A's have expired
        async with uow() as u:
            await loyalty.expire_points(u, CONFIG, utcnow())
        assert await balance(uow, ann.id) == 30  # C's, all of them
        async with uow() as u:
            view = await loyalty.points_view(u, ann.id, CONFIG, utcnow())
        assert view.expiring_on == start + timedelta(days=30) + year
        clock.move_to(start + year + timedelta(days=31))
        async with uow() as u:
            await loyalty.expire_points(u, CONFIG, utcnow())
    assert (await ledger(uow, ann.id))[-2:] == [("expired", -20, 30), ("expired", -30, 0)]


async def test_points_that_expired_are_not_taken_back_again(uow: Any) -> None:
    ann = await make_customer(uow)
    with time_machine.travel(datetime(2026, 1, 10, tzinfo=UTC), tick=False) as clock:
        refunded = await order_for(uow, ann, 9_000)
        await pay(uow, refunded)
        clock.shift(CONFIG.points_expire_after + timedelta(days=1))
        async with uow() as u:
            await loyalty.expire_points(u, CONFIG, utcnow())
        await set_status(uow, refunded, OrderStatus.refunded)
    assert await ledger(uow, ann.id) == [("earned", 9, 9), ("expired", -9, 0)]
    async with uow() as u:
        assert (await u.loyalty.account(ann.id)).lifetime == 0  # no longer counts toward a tier


async def test_only_owners_adjust_points_within_bounds(uow: Any) -> None:
    """An employee could have given themselves a million points."""
    ann = await make_customer(uow)
    async with uow() as u:
        await staff.add_staff(u, OWNER, CLERK, CONFIG)
    async with uow() as u:
        customer = await u.customers.get(ann.id)
        with pytest.raises(DomainError) as refused:
            await loyalty.adjust(u, customer, 5, "for me", CLERK, CONFIG)
    assert refused.value.code == "owners_adjust_points"
    for typo in (10_001, -10_001, 1_000_000):
        with pytest.raises(DomainError) as refused:
            async with uow() as u:
                await loyalty.adjust(u, customer, typo, "", OWNER, CONFIG)
        assert refused.value.code == "invalid_points" and refused.value.params == {"max": 10_000}
    assert await ledger(uow, ann.id) == [] and await outbox(uow, "loyalty") == []
    async with uow() as u:
        await loyalty.adjust(u, customer, 10_000, "a big order by phone", OWNER, CONFIG)
    assert await ledger(uow, ann.id) == [("adjusted", 10_000, 10_000)]


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


# --- the ledger always adds up, and never makes points -------------------------------------------------
OPERATIONS = st.lists(
    st.one_of(
        st.tuples(st.just("adjust"), st.integers(-50, 50)),
        st.tuples(st.just("order"), st.integers(1_000, 30_000), st.booleans()),
        st.tuples(st.just("pay"), st.integers(0, 3)),
        st.tuples(st.just("cancel"), st.integers(0, 3)),
        st.tuples(st.just("refund"), st.integers(0, 3)),
        st.tuples(st.just("days"), st.integers(1, 400)),
    ),
    min_size=1,
    max_size=16,
)
REVERSED = {OrderStatus.cancelled, OrderStatus.expired, OrderStatus.refunded}


async def step(uow: Any, customer_id: int, placed: list[Any], operation: tuple[Any, ...], clock: Any) -> None:
    """One operation through the services, as staff, customers and the scheduler would run it."""
    kind, *args = operation
    async with uow() as u:
        customer = await u.customers.get(customer_id)
    if kind == "adjust" and args[0]:
        async with uow() as u:
            await loyalty.adjust(u, customer, args[0], "test", OWNER, CONFIG)
    elif kind == "days":
        clock.shift(timedelta(days=args[0]))
        async with uow() as u:
            await loyalty.expire_points(u, CONFIG, utcnow())
    elif kind == "order":
        placed.append(await order_for(uow, customer, args[0], use_points=args[1]))
    elif placed:
        async with uow() as u:
            order = await u.orders.get(placed[args[0] % len(placed)].id)
        if kind == "pay" and order.status == "pending_payment":
            await pay(uow, order)
        elif kind in {"cancel", "refund"}:
            to = OrderStatus.cancelled if kind == "cancel" else OrderStatus.refunded
            await set_status(uow, order, to)


async def check_the_ledger(uow: Any, customer_id: int, placed: list[Any]) -> None:
    async with uow() as u:
        entries = await u.loyalty.entries(customer_id)
        held = await u.loyalty.balance(customer_id)
        fresh = [await u.orders.get(order.id) for order in placed]
    # The balance is the sum of the entries, each entry's balance_after the sum so far.
    running = 0
    for entry in entries:
        running += entry.points
        assert entry.balance_after == running
        if entry.points < 0 and entry.kind != "reversed":  # only a take-back goes below zero
            assert entry.balance_after >= 0
    assert held == running
    # Points come from adjustments and from orders still standing, less what those used: never from
    # a cancelled or refunded order. Only expiry takes more.
    reversed_ids = {order.id for order in fresh if order.status in REVERSED}

    def total(kind: str, *, live: bool | None = None, sign: int = 0) -> int:
        return sum(
            e.points
            for e in entries
            if e.kind == kind
            and (live is None or (e.order_id not in reversed_ids) == live)
            and (sign == 0 or e.points * sign > 0)
        )

    allowed = total("adjusted") + total("earned", live=True) + total("redeemed", live=True)
    assert allowed + total("expired") <= held <= allowed
    for order in fresh:
        mine = [e for e in entries if e.order_id == order.id]
        used = -sum(e.points for e in mine if e.kind == "redeemed")
        back = sum(e.points for e in mine if e.kind == "reversed" and e.points > 0)
        earned = sum(e.points for e in mine if e.kind == "earned")
        taken = -sum(e.points for e in mine if e.kind == "reversed" and e.points < 0)
        if order.id in reversed_ids:
            assert back == used and 0 <= taken <= earned
        else:
            assert back == taken == 0
        # Points back keep the expiry of points held when the order used them.
        redeemed_at = [e.id for e in mine if e.kind == "redeemed"]
        for entry in mine:
            if entry.kind == "reversed" and entry.points > 0:
                held_then = {e.expires_at for e in entries if e.points > 0 and e.id < redeemed_at[0]}
                assert entry.expires_at in held_then
        cap = (order.subtotal_minor + order.delivery_fee_minor) * CONFIG.max_redeem_percent // 100
        assert order.discount_minor == order.points_used * CONFIG.point_value_minor <= cap
    # No points outlive their expiry: what is held comes from credits not yet expired.
    now = utcnow()
    assert held <= sum(e.points for e in entries if e.points > 0 and e.expires_at > now)
    # What the ledger replays to is what the account says.
    holdings = loyalty.Holdings(entries)
    assert sum(lot.points for lot in holdings.lots) - holdings.owed == held
    assert not (holdings.lots and holdings.owed)


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(operations=OPERATIONS)
@example(  # the review's: earn on A, spend on B, refund A, cancel B
    operations=[("order", 9_000, False), ("pay", 0), ("order", 2_000, True), ("refund", 0), ("cancel", 1)]
)
@example(  # points back after a long while
    operations=[("order", 9_000, False), ("pay", 0), ("order", 2_000, True), ("days", 300), ("cancel", 1)]
)
async def test_the_ledger_adds_up_and_never_makes_points(uow: Any, operations: list[tuple[Any, ...]]) -> None:
    """Random earning, redeeming, cancelling, refunding, adjusting and expiry, through the services on
    a real database (a new customer for each example): the invariants hold after every step."""
    ann = await make_customer(uow)
    placed: list[Any] = []
    with time_machine.travel(datetime(2026, 1, 1, tzinfo=UTC), tick=False) as clock:
        for operation in operations:
            with contextlib.suppress(DomainError):
                await step(uow, ann.id, placed, operation, clock)
            await check_the_ledger(uow, ann.id, placed)
