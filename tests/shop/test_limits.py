"""The bounds on prices, quantities, carts and payments (shop.limits): the largest order the shop can
take is placed and paid on both databases; one cent, one unit or one product more is refused."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from shop import cart as carts
from shop import catalog, checkout, payments
from shop.config import ShopConfig
from shop.errors import AmountTooLarge, CartFull, InvalidQuantity
from shop.limits import MAX_LINES, MAX_PRICE_MINOR, MAX_QUANTITY, MAX_TOTAL_MINOR
from shop.money import format_plain
from tests.factories import make_customer, make_product
from tests.shop.test_checkout import ready_checkout

OWNER = 1
CONFIG = ShopConfig(currency="USD", delivery_fee_minor=MAX_PRICE_MINOR, admin_ids=(OWNER,))
LARGEST_PRICE = format_plain(MAX_PRICE_MINOR, "USD")  # 1000000000.00
ONE_CENT_MORE = format_plain(MAX_PRICE_MINOR + 1, "USD")


async def test_a_price_is_at_most_the_bound_wherever_it_is_typed(uow: Any, tmp_path: Path) -> None:
    await make_product(uow, sku="TEA-1")
    # The largest amount that used to be accepted: 99 of it overflowed a 64-bit total at checkout.
    for too_much in (ONE_CENT_MORE, "999999999999999.99"):
        async with uow() as u:
            with pytest.raises(AmountTooLarge) as error:
                await catalog.set_price(u, "TEA-1", too_much, "USD")
        assert error.value.params == {"text": too_much, "max_minor": MAX_PRICE_MINOR, "what": "price"}
        with pytest.raises(AmountTooLarge):
            catalog.check_field("price", too_much, "USD")  # the /product conversation's price step
        async with uow() as u:
            result = await catalog.import_products_csv(
                u, f"sku,name,price\nTEA-2,Black tea,{too_much}\n", "USD", tmp_path
            )
        assert [error.row for error in result.errors] == [2] and result.created == 0
    async with uow() as u:
        assert (await catalog.set_price(u, "TEA-1", LARGEST_PRICE, "USD")).price_minor == MAX_PRICE_MINOR
    assert catalog.check_field("price", LARGEST_PRICE, "USD") == MAX_PRICE_MINOR


async def test_the_largest_cart_is_placed_and_paid_and_no_larger_one_can_be_made(uow: Any) -> None:
    ann = await make_customer(uow)
    products = [
        await make_product(uow, sku=f"GOLD-{n}", price_minor=MAX_PRICE_MINOR, stock=MAX_QUANTITY + 1)
        for n in range(MAX_LINES + 1)
    ]
    async with uow() as u:
        with pytest.raises(InvalidQuantity):
            await carts.add_to_cart(u, ann.id, products[0].id, MAX_QUANTITY + 1, CONFIG)
    for product in products[:MAX_LINES]:
        async with uow() as u:
            await carts.add_to_cart(u, ann.id, product.id, MAX_QUANTITY, CONFIG)
    async with uow() as u:
        with pytest.raises(InvalidQuantity):  # one more of a product already in it
            await carts.add_to_cart(u, ann.id, products[0].id, 1, CONFIG)
        with pytest.raises(CartFull) as full:  # one more product
            await carts.add_to_cart(u, ann.id, products[-1].id, 1, CONFIG)
    assert full.value.params == {"max": MAX_LINES}
    async with uow() as u:
        view = await carts.view_cart(u, ann.id)
        assert await u.carts.quantity(ann.id, products[-1].id) == 0
    assert len(view.lines) == MAX_LINES
    token = await ready_checkout(uow, ann, "delivery")
    async with uow() as u:
        order = (await checkout.place_order(u, ann, token, CONFIG)).order
    assert order.total_minor == MAX_TOTAL_MINOR  # every line at its largest, and the largest fee
    async with uow() as u:
        assert (await u.orders.get(order.id)).total_minor == MAX_TOTAL_MINOR
    too_much = format_plain(MAX_TOTAL_MINOR + 1, "USD")
    async with uow() as u:
        with pytest.raises(AmountTooLarge) as error:
            await payments.record_payment(u, order.id, too_much, "transfer", None, OWNER, CONFIG)
    assert error.value.params["what"] == "payment"
    async with uow() as u:
        everything = format_plain(MAX_TOTAL_MINOR, "USD")
        settled = await payments.record_payment(u, order.id, everything, "transfer", None, OWNER, CONFIG)
    assert settled.order_became_paid and settled.paid_total_minor == MAX_TOTAL_MINOR
