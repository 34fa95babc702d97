"""Cart and checkout on a real database: stock, idempotent ordering, bad input."""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shop import cart as carts
from shop import checkout
from shop.config import ShopConfig
from shop.errors import (
    CheckoutExpired,
    CheckoutIncomplete,
    EmptyCart,
    InvalidAddress,
    InvalidNotes,
    InvalidPhone,
    InvalidQuantity,
    NotYourContact,
    OutOfStock,
    PaymentMethodUnavailable,
    ProductUnavailable,
)
from shop.limits import MAX_QUANTITY
from shop.money import format_plain, parse_amount
from storage.models import Customer
from tests.factories import make_customer, make_product, stock_of

CONFIG = ShopConfig(currency="USD", delivery_fee_minor=300, payment_methods=("transfer", "cash"))


async def ready_checkout(uow: Any, customer: Customer, fulfilment: str = "delivery") -> str:
    """Walk a checkout to its last step; returns the draft token."""
    async with uow() as u:
        draft, _ = await checkout.start_checkout(u, customer)
    async with uow() as u:
        await checkout.set_fulfilment(u, customer.id, fulfilment)
    if fulfilment == "delivery":
        async with uow() as u:
            await checkout.set_address(u, customer.id, "12 Baker Street, flat 3", CONFIG)
    async with uow() as u:
        await checkout.set_phone(u, customer.id, "+44 20 7946 0958")
    async with uow() as u:
        await checkout.set_payment_method(u, customer.id, "transfer", CONFIG)
    return draft.token


# --- cart -------------------------------------------------------------------------------------------
async def test_the_quantity_in_the_cart_is_the_customers_own_of_that_product(uow: Any) -> None:
    """A product card's "in the cart": one number, read without the rest of the cart."""
    ann, bob = await make_customer(uow), await make_customer(uow, "Bob")
    tea = await make_product(uow, stock=50)
    cake = await make_product(uow, "CAKE-1", "Cake", stock=50)
    async with uow() as u:
        assert await u.carts.quantity(ann.id, tea.id) == 0  # no cart yet
    async with uow() as u:
        await carts.add_to_cart(u, ann.id, tea.id, 3, CONFIG)
    async with uow() as u:
        await carts.add_to_cart(u, bob.id, cake.id, 2, CONFIG)
    async with uow() as u:
        assert await u.carts.quantity(ann.id, tea.id) == 3
        assert await u.carts.quantity(ann.id, cake.id) == 0  # Bob's, not Ann's
        assert await u.carts.quantity(bob.id, cake.id) == 2


@pytest.mark.parametrize("quantity", [0, -1, 100, 10**9])
async def test_bad_quantities_change_nothing(uow: Any, quantity: int) -> None:
    ann = await make_customer(uow)
    tea = await make_product(uow, stock=500)
    async with uow() as u:
        with pytest.raises(InvalidQuantity):
            await carts.add_to_cart(u, ann.id, tea.id, quantity, CONFIG)
    async with uow() as u:
        assert (await carts.view_cart(u, ann.id)).lines == []


async def test_cart_survives_and_respects_stock(uow: Any) -> None:
    ann = await make_customer(uow)
    tea = await make_product(uow, stock=3)
    async with uow() as u:
        await carts.add_to_cart(u, ann.id, tea.id, 2, CONFIG)
    async with uow() as u:
        with pytest.raises(OutOfStock) as error:
            await carts.add_to_cart(u, ann.id, tea.id, 2, CONFIG)
    assert error.value.params["items"] == [
        {"name": "Green tea", "translations": None, "wanted": 4, "available": 3}
    ]
    async with uow() as u:  # a new unit of work, as after a restart
        view = await carts.view_cart(u, ann.id)
    assert [(line.sku, line.quantity, line.total_minor) for line in view.lines] == [("TEA-1", 2, 900)]
    async with uow() as u:
        await carts.change_quantity(u, ann.id, tea.id, +1, CONFIG)
        with pytest.raises(OutOfStock):
            await carts.change_quantity(u, ann.id, tea.id, +1, CONFIG)
    async with uow() as u:
        view = await carts.change_quantity(u, ann.id, tea.id, -3, CONFIG)
    assert view.lines == []


async def test_unknown_or_hidden_product(uow: Any) -> None:
    ann = await make_customer(uow)
    hidden = await make_product(uow, active=False)
    async with uow() as u:
        for product_id in (hidden.id, 999_999):
            with pytest.raises(ProductUnavailable):
                await carts.add_to_cart(u, ann.id, product_id, 1, CONFIG)


async def test_cart_tells_what_changed(uow: Any) -> None:
    ann = await make_customer(uow)
    tea = await make_product(uow, sku="TEA", name="Tea", price_minor=450, stock=5)
    cake = await make_product(uow, sku="CAKE", name="Cake", price_minor=300, stock=5)
    gone = await make_product(uow, sku="GONE", name="Scone", price_minor=200, stock=5)
    async with uow() as u:
        for product in (tea, cake, gone):
            await carts.add_to_cart(u, ann.id, product.id, 4, CONFIG)
    async with uow() as u:
        (await u.catalog.product(tea.id)).price_minor = 500
        (await u.catalog.product(cake.id)).stock = 2
        (await u.catalog.product(gone.id)).active = False
        await u.commit()
    async with uow() as u:
        view = await carts.view_cart(u, ann.id)
    changes = {(c.kind, c.name, c.old, c.new) for c in view.changes}
    assert changes == {("price", "Tea", 450, 500), ("reduced", "Cake", 4, 2), ("removed", "Scone", 0, 0)}
    assert [(line.name, line.quantity, line.unit_price_minor) for line in view.lines] == [
        ("Tea", 4, 500),
        ("Cake", 2, 300),
    ]
    async with uow() as u:  # told once: the cart now holds what can be bought
        assert (await carts.view_cart(u, ann.id)).changes == []


# --- checkout ---------------------------------------------------------------------------------------
async def test_checkout_places_one_order_and_reserves_stock(uow: Any) -> None:
    ann = await make_customer(uow)
    tea = await make_product(uow, stock=5)
    async with uow() as u:
        await carts.add_to_cart(u, ann.id, tea.id, 2, CONFIG)
    token = await ready_checkout(uow, ann)
    async with uow() as u:
        await checkout.set_notes(u, ann.id, "Ring twice <please> & thanks 🙏", CONFIG)
    async with uow() as u:
        placed = await checkout.place_order(u, ann, token, CONFIG)
    order = placed.order
    assert placed.created and order.status == "pending_payment" and len(order.reference) == 8
    assert (order.subtotal_minor, order.delivery_fee_minor, order.total_minor) == (900, 300, 1200)
    assert order.notes == "Ring twice <please> & thanks 🙏" and order.phone == "+442079460958"
    assert [(e.from_status, e.to_status) for e in order.events] == [(None, "pending_payment")]
    assert await stock_of(uow, tea.id) == 3
    async with uow() as u:
        assert (await carts.view_cart(u, ann.id)).lines == []
        again = await checkout.place_order(u, ann, token, CONFIG)  # pressing Place order twice
    assert not again.created and again.order.id == order.id
    assert await stock_of(uow, tea.id) == 3


async def test_two_devices_at_once_make_one_order(uow: Any) -> None:
    ann = await make_customer(uow)
    tea = await make_product(uow, stock=5)
    async with uow() as u:
        await carts.add_to_cart(u, ann.id, tea.id, 1, CONFIG)
    token = await ready_checkout(uow, ann)

    async def press() -> Any:
        async with uow() as u:
            return await checkout.place_order(u, ann, token, CONFIG)

    results = await asyncio.gather(*(press() for _ in range(5)))
    assert len({r.order.id for r in results}) == 1 and sum(r.created for r in results) == 1
    assert await stock_of(uow, tea.id) == 4


async def test_200_customers_race_for_the_last_unit(uow: Any) -> None:
    last = await make_product(uow, sku="LAST", name="Last cake", stock=1)
    tokens = {}
    customers = [await make_customer(uow, f"C{i}") for i in range(200)]
    for customer in customers:
        async with uow() as u:
            await carts.add_to_cart(u, customer.id, last.id, 1, CONFIG)
        tokens[customer.id] = await ready_checkout(uow, customer, "pickup")

    async def attempt(customer: Customer) -> str:
        async with uow() as u:
            try:
                await checkout.place_order(u, customer, tokens[customer.id], CONFIG)
                return "ordered"
            except OutOfStock:
                return "out of stock"

    outcomes = await asyncio.gather(*(attempt(c) for c in customers))
    assert outcomes.count("ordered") == 1 and outcomes.count("out of stock") == 199
    assert await stock_of(uow, last.id) == 0


async def test_out_of_stock_at_the_last_moment_keeps_the_cart(uow: Any) -> None:
    ann = await make_customer(uow)
    tea = await make_product(uow, sku="TEA", name="Tea", stock=5)
    cake = await make_product(uow, sku="CAKE", name="Cake", stock=5)
    async with uow() as u:
        await carts.add_to_cart(u, ann.id, tea.id, 2, CONFIG)
        await carts.add_to_cart(u, ann.id, cake.id, 3, CONFIG)
    token = await ready_checkout(uow, ann)
    async with uow() as u:
        (await u.catalog.product(cake.id)).stock = 1  # someone else bought them meanwhile
        await u.commit()
    async with uow() as u:
        with pytest.raises(OutOfStock) as error:
            await checkout.place_order(u, ann, token, CONFIG)
    assert error.value.params["items"] == [
        {"name": "Cake", "translations": None, "wanted": 3, "available": 1}
    ]
    assert await stock_of(uow, tea.id) == 5  # the tea reserved a moment before is given back
    async with uow() as u:
        assert len((await carts.view_cart(u, ann.id)).lines) == 2
        assert (await u.carts.draft(ann.id)) is not None


async def test_checkout_bad_input(uow: Any) -> None:
    ann = await make_customer(uow)
    tea = await make_product(uow)
    async with uow() as u:
        with pytest.raises(EmptyCart):
            await checkout.start_checkout(u, ann)
        await carts.add_to_cart(u, ann.id, tea.id, 1, CONFIG)
    async with uow() as u:
        draft, _ = await checkout.start_checkout(u, ann)
    async with uow() as u:
        with pytest.raises(InvalidAddress):
            await checkout.set_address(u, ann.id, "x" * 5000, CONFIG)
        with pytest.raises(InvalidAddress):
            await checkout.set_address(u, ann.id, "  ab ", CONFIG)
        for phone in ("abc", "12", "+1 555 <script>", "1" * 20):
            with pytest.raises(InvalidPhone):
                await checkout.set_phone(u, ann.id, phone)
        with pytest.raises(NotYourContact):
            await checkout.set_phone(u, ann.id, "+15550001", contact_user_id=1, telegram_id=ann.telegram_id)
        with pytest.raises(InvalidNotes):
            await checkout.set_notes(u, ann.id, "n" * 5000, CONFIG)
        with pytest.raises(PaymentMethodUnavailable):
            await checkout.set_payment_method(u, ann.id, "pos", CONFIG)
        with pytest.raises(CheckoutIncomplete):
            await checkout.place_order(u, ann, draft.token, CONFIG)
        with pytest.raises(CheckoutExpired):
            await checkout.place_order(u, ann, "stale-token", CONFIG)
    async with uow() as u:
        unchanged = await u.carts.draft(ann.id)
        assert (unchanged.address_text, unchanged.notes, unchanged.payment_method) == (None, None, None)


async def test_the_phone_given_is_offered_at_the_next_checkout(uow: Any) -> None:
    ann = await make_customer(uow)
    tea = await make_product(uow, stock=5)
    async with uow() as u:
        await carts.add_to_cart(u, ann.id, tea.id, 1, CONFIG)
    token = await ready_checkout(uow, ann)  # the phone given there: +44 20 7946 0958
    async with uow() as u:
        await checkout.place_order(u, ann, token, CONFIG)
        await carts.add_to_cart(u, ann.id, tea.id, 1, CONFIG)
    async with uow() as u:
        ann_now = await u.customers.by_telegram_id(ann.telegram_id)  # as the next update reads her
    assert ann_now is not None and ann_now.phone == "+442079460958"
    async with uow() as u:
        draft, _ = await checkout.start_checkout(u, ann_now)
    async with uow() as u:
        assert (await checkout.current_draft(u, ann.id)).phone == draft.phone == "+442079460958"


async def test_a_checkout_starts_with_the_cart_as_it_can_be_bought(uow: Any) -> None:
    """The cart's changes are applied and told when the checkout starts, and the draft is still made."""
    ann = await make_customer(uow)
    tea = await make_product(uow, sku="TEA", name="Tea", price_minor=450, stock=5)
    async with uow() as u:
        await carts.add_to_cart(u, ann.id, tea.id, 4, CONFIG)
    async with uow() as u:
        (await u.catalog.product(tea.id)).stock = 2
        await u.commit()
    async with uow() as u:
        draft, cart = await checkout.start_checkout(u, ann)
    assert [(c.kind, c.new) for c in cart.changes] == [("reduced", 2)]
    async with uow() as u:
        assert (await checkout.current_draft(u, ann.id)).token == draft.token
        assert [(line.name, line.quantity) for line in (await carts.view_cart(u, ann.id)).lines] == [
            ("Tea", 2)
        ]
    async with uow() as u:  # a cart whose only product is gone: nothing to check out, and the line goes
        (await u.catalog.product(tea.id)).active = False
        await u.commit()
    async with uow() as u:
        with pytest.raises(EmptyCart):
            await checkout.start_checkout(u, ann)
    async with uow() as u:
        view = await carts.view_cart(u, ann.id)
    assert view.lines == [] and view.changes == []


async def test_addresses_are_saved_and_reused(uow: Any) -> None:
    ann = await make_customer(uow)
    tea = await make_product(uow)
    async with uow() as u:
        await carts.add_to_cart(u, ann.id, tea.id, 1, CONFIG)
    await ready_checkout(uow, ann)
    async with uow() as u:
        saved = await u.customers.addresses(ann.id)
        assert [a.text for a in saved] == ["12 Baker Street, flat 3"]
        draft = await checkout.use_saved_address(u, ann.id, saved[0].id)
        assert draft.address_text == "12 Baker Street, flat 3"
        with pytest.raises(InvalidAddress):
            await checkout.use_saved_address(u, ann.id, saved[0].id + 1000)


async def test_a_new_users_first_updates_register_them_once(uow: Any) -> None:
    """On PostgreSQL these race to INSERT the same Telegram id; every one must get the customer, and what
    each unit of work wrote before (here an update's record) must stay."""
    from shop.customers import TelegramUser, register_customer

    async def register(update_id: int) -> int:
        async with uow() as u:
            await u.begin_write()
            assert await u.updates.mark_new([(1, update_id)]) == {(1, update_id)}
            customer = await register_customer(u, TelegramUser(id=777_000_111, first_name="Burst"))
            await u.commit()
            return customer.id

    ids = await asyncio.gather(*(register(update_id) for update_id in range(10)))
    assert len(set(ids)) == 1
    async with uow() as u:
        await u.begin_write()
        assert await u.updates.mark_new([(1, update_id) for update_id in range(10)]) == set()


# --- totals add up, whatever is in the cart (hypothesis, real SQLite) ---------------------------------
LINES = st.lists(st.tuples(st.integers(1, 5_000_000), st.integers(1, MAX_QUANTITY)), min_size=1, max_size=6)
_prop_skus = itertools.count(1)


@settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
@given(lines=LINES, fulfilment=st.sampled_from(["delivery", "pickup"]))
async def test_cart_summary_and_order_totals_agree(
    uow: Any, lines: list[tuple[int, int]], fulfilment: str
) -> None:
    ann = await make_customer(uow)
    for price, quantity in lines:
        product = await make_product(uow, sku=f"PROP-{next(_prop_skus)}", price_minor=price, stock=quantity)
        async with uow() as u:
            await carts.add_to_cart(u, ann.id, product.id, quantity, CONFIG)
    expected = sum(price * quantity for price, quantity in lines)
    async with uow() as u:
        view = await carts.view_cart(u, ann.id)
    assert view.total_minor == expected and view.count == sum(q for _, q in lines)
    token = await ready_checkout(uow, ann, fulfilment)
    async with uow() as u:
        shown = await checkout.summary(u, ann.id, CONFIG)
    fee = CONFIG.delivery_fee_minor if fulfilment == "delivery" else 0
    assert shown.total_minor == expected + fee and shown.discount_minor == 0
    async with uow() as u:
        placed = await checkout.place_order(u, ann, token, CONFIG)
    order = placed.order
    assert (order.subtotal_minor, order.delivery_fee_minor, order.total_minor) == (
        expected,
        fee,
        expected + fee,
    )
    assert (
        parse_amount(format_plain(order.total_minor, CONFIG.currency), CONFIG.currency) == order.total_minor
    )
