"""Every view at its worst case, through the real dispatcher: the sandbox refuses what Telegram would
(a text over 4096 or a caption over 1024 as Telegram counts them, markup cut inside a tag, more than 100
buttons), and the ``shop`` fixture fails a test in which any call was refused. Lists that grow page
with buttons, and every item is on exactly one page; long fields are clipped. None of these views may
need the last line of defence, the cut in ``FitToLimits`` (its warning fails the test)."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from aiogram.types import BufferedInputFile

from bot.outbox import qr_png
from sandbox.client import SimUser
from sandbox.formatting import utf16_len
from sandbox.validation import MAX_CAPTION as CAPTION_LIMIT
from sandbox.validation import MAX_TEXT as TEXT_LIMIT
from shop.cart import CartChange, CartView, add_to_cart
from storage.models import Address, Category, CustomerNote, Order, OrderEvent, Payment, Product
from tests.factories import make_customer
from tests.handlers.conftest import Shop, button_labels
from tests.handlers.test_loyalty_broadcast import opt_in, span
from tests.handlers.test_staff import staff_says

NEXT = "Next ›"


def worst(length: int, mark: str = "") -> str:
    """``length`` characters costing the most as Telegram counts (emoji are two UTF-16 units) and as HTML
    (``&`` and ``<`` are escaped), after ``mark``, which tells one from another."""
    return mark + ("🍵&😀<🍰 " * length)[: length - len(mark) - 1] + "!"


@pytest.fixture(autouse=True)
def no_cuts(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """The views page and clip by themselves: the last line of defence never has to cut."""
    caplog.set_level(logging.WARNING, logger="orderbot.telegram")
    yield
    cuts = [r.getMessage() for r in caplog.get_records("call") if "was cut" in r.getMessage()]
    assert not cuts, cuts


def text_of(message: dict[str, Any]) -> str:
    return message.get("text") or message.get("caption") or ""


async def all_pages(user: SimUser, first: dict[str, Any], chat_id: int | None = None) -> list[str]:
    """The texts of every page of a view, pressing Next › until there is none; each fits."""
    shown = [first]
    while NEXT in button_labels(shown[-1]):
        number = shown[-1]["message_id"]
        await user.press(NEXT, message_id=number, chat_id=chat_id)
        shown.append(await user.wait_for(lambda m, n=number: m["message_id"] == n, chat_id=chat_id))
    texts = [text_of(m) for m in shown]
    assert all(utf16_len(text) <= TEXT_LIMIT for text in texts)
    return texts


def once_each(pages: list[str], wanted: list[str]) -> None:
    """Every one of ``wanted`` is whole on exactly one page."""
    for item in wanted:
        assert sum(item in page for page in pages) == 1, item[:40]


async def dialect(shop: Shop) -> str:
    async with shop.uow() as u:
        return u.session.bind.dialect.name


async def customer_row_id(shop: Shop, user: SimUser) -> int:
    async with shop.uow() as u:
        return (await u.customers.by_telegram_id(user.id)).id


async def test_a_customer_with_many_long_addresses_and_notes_pages_for_staff_and_for_them(shop: Shop) -> None:
    ann = await shop.started("Ann")
    customer_id = await customer_row_id(shop, ann)
    addresses = [worst(300, f"address {i:02}: ") for i in range(15)]
    notes = [worst(1000, f"note {i:02}: ") for i in range(25)]
    async with shop.uow() as u:
        await u.begin_write()
        u.session.add_all(Address(customer_id=customer_id, text=text) for text in addresses)
        u.session.add_all(CustomerNote(customer_id=customer_id, text=text, author=1) for text in notes)
        await u.commit()

    first = await staff_says(shop.owner, f"/customer {customer_id}", f"#{customer_id} · regular")
    pages = await all_pages(shop.owner, first)
    assert len(pages) > 1 and all(page.startswith("👤 Ann") for page in pages)
    once_each(pages, addresses + notes)
    assert "VIP" in button_labels(first)

    await ann.send("/profile")
    first = await ann.wait_for(text="Saved addresses")
    pages = await all_pages(ann, first)
    assert len(pages) == 2
    once_each(pages, addresses)
    assert pages[1].startswith("👤 Ann (2/2)")
    await ann.press("☑ Cart reminders")  # the profile's own buttons still work on a later page
    await ann.wait_for(text="Cart reminders: no")


async def test_a_queue_of_thirty_long_named_orders_pages(shop: Shop) -> None:
    customers = [
        await make_customer(shop.uow, worst(128, f"Customer {i:02} "), username=f"user_{i:02}_" + "x" * 24)
        for i in range(30)
    ]
    numbers = []
    async with shop.uow() as u:
        await u.begin_write()
        for i, customer in enumerate(customers):
            order = Order(
                customer_id=customer.id,
                status="paid",
                fulfilment="delivery",
                address_text=worst(300),
                payment_method="transfer",
                currency="USD",
                subtotal_minor=99_999_999_99,
                total_minor=99_999_999_99,
                reference=f"R{i:02}{uuid.uuid4().hex[:8]}",
                checkout_token=str(uuid.uuid4()),
            )
            u.session.add(order)
            await u.session.flush()
            numbers.append(order.id)
        await u.commit()

    found = await staff_says(shop.owner, "/customers Customer", "Customers matching")
    assert found["text"].count("/customer ") == 20  # twenty at most, each name clipped
    assert "… and more: add a word to the search to narrow it." in found["text"]
    first = await staff_says(shop.owner, "/queue", "Orders that need action")
    pages = await all_pages(shop.owner, first)
    assert len(pages) == 3 and "page 3 of 3" in pages[2]
    once_each(pages, [f"#{n} · paid" for n in numbers])
    assert all("Customer" in page and "…" in page for page in pages)  # names clipped, not dropped
    await shop.owner.press(f"#{numbers[-1]} · $99,999,999.99 · paid")
    await shop.owner.wait_for(text=f"Order #{numbers[-1]}")


async def long_products(shop: Shop, count: int, stock: int = 99) -> list[Product]:
    async with shop.uow() as u:
        await u.begin_write()
        products = [
            Product(
                sku=f"LONG-{i:02}", name=worst(200, f"Product {i:02} "), price_minor=9_999_999, stock=stock
            )
            for i in range(count)
        ]
        u.session.add_all(products)
        await u.commit()
    return products


async def test_a_cart_of_33_long_products_pages_its_lines_and_buttons(shop: Shop) -> None:
    ann = await shop.started("Ann")
    products = await long_products(shop, 33)
    customer_id = await customer_row_id(shop, ann)
    for product in products:
        async with shop.uow() as u:
            await add_to_cart(u, customer_id, product.id, 99, shop.settings.shop_config())

    await ann.send("/cart")
    first = await ann.wait_for(text="Your cart")
    pages = await all_pages(ann, first)
    assert len(pages) == 5 and all("Total: $326,699,967.33 · 3267 items" in page for page in pages)
    once_each(pages, [product.name[:11] for product in products])
    last = await ann.last()
    assert "page 5 of 5" in text_of(last) and len(button_labels(last)) == 3 + 1 + 2
    await ann.press("−", message_id=last["message_id"])  # a line's button shows its own page again
    again = await ann.wait_for(text="Product 32")
    assert "page 5 of 5" in text_of(again) and "98 × $99,999.99" in text_of(again)


async def test_a_checkout_and_an_order_of_33_long_lines_page(shop: Shop) -> None:
    ann = await shop.started("Ann")
    products = await long_products(shop, 33, stock=1)
    customer_id = await customer_row_id(shop, ann)
    for product in products:
        async with shop.uow() as u:
            await add_to_cart(u, customer_id, product.id, 1, shop.settings.shop_config())
    names = [product.name for product in products]
    address, notes = worst(300, "Flat "), worst(500, "Notes ")

    await ann.send("/checkout")
    await ann.wait_for(text="How would you like")
    await ann.press("🚚 Delivery")
    await ann.wait_for(text="Where should we deliver")
    await ann.send(address)
    await ann.wait_for(text="What phone number")
    await ann.press_reply("📱 Share my phone number")
    await ann.wait_for(text="Anything we should know")
    await ann.send(notes)
    await ann.wait_for(text="How will you pay")
    await ann.press("🏦 Bank transfer")
    first = await ann.wait_for(text="Your order")
    assert "✅ Place order" not in button_labels(first)  # under the total, on the last page
    pages = await all_pages(ann, first)
    once_each(pages, names)
    assert "Total: $3,300,001.67" in pages[-1] and "Is everything right" in pages[-1]
    once_each(pages, [address, notes])
    await ann.press("✅ Place order")
    placed = await ann.wait_for(text="is placed")
    number = int(text_of(placed).split("#")[1].split(" ")[0])

    alert = await shop.owner.wait_for(text=f"New order #{number}")
    assert f"…and 18 more items: /order {number}" in text_of(alert)
    first = await staff_says(shop.owner, f"/order {number}", f"📦 Order #{number}")
    pages = await all_pages(shop.owner, first)
    assert len(pages) > 1
    once_each(pages, names)

    await ann.send("/orders")
    await ann.wait_for(text="Your orders")
    await ann.press(f"#{number} · $3,300,001.67 · awaiting payment")
    first = await ann.wait_for(text=f"Order #{number}")
    pages = await all_pages(ann, first)
    once_each(pages, names)
    assert pages[1].startswith(f"📦 Order #{number} · awaiting payment (2/")
    await ann.press("🔁 Order again")  # every product sold out by this order: all named, briefly
    reordered = await ann.wait_for(text="Not available now")
    assert "and 23 more" in text_of(reordered)


async def test_a_product_card_with_the_longest_name_brand_and_description_shows_its_price(shop: Shop) -> None:
    brand = worst(300 if await dialect(shop) == "sqlite" else 100)  # the column holds 100 on PostgreSQL
    async with shop.uow() as u:
        await u.begin_write()
        product = Product(
            sku="LONG",
            name=worst(200, "Longest "),
            brand=brand,
            description=worst(2000),
            price_minor=9_999_999,
            stock=3,
            photo="tea.png",
        )
        u.session.add(product)
        await u.commit()
    ann = await shop.started("Ann")
    await ann.send(f"/start p_{product.id}")
    card = await ann.wait_for(lambda m: "photo" in m and "Longest" in m.get("caption", ""))
    caption = card["caption"]
    assert utf16_len(caption) <= CAPTION_LIMIT
    assert product.name in caption and "💰 $99,999.99" in caption and "Only 3 left" in caption


async def test_a_broadcast_photo_with_a_long_caption_in_bold_reaches_everyone(shop: Shop) -> None:
    """900 characters, 20 of its words bold: more than 1024 characters of HTML, 900 to show."""
    ann = await shop.started("Ann")
    await opt_in(ann)
    words = " ".join(f"word{i:03}" for i in range(120))[:900].split(" ")
    caption = " ".join(words)
    # The 20 words before the last in bold: 1040 characters of HTML, which [:1024] cut inside a tag.
    bold = [{"type": "bold", **span(caption, word)} for word in words[-21:-1]]
    owner = shop.owner
    await staff_says(owner, "/broadcast", "Send the message")
    await owner.send_photo(caption, caption_entities=bold)
    await owner.wait_for(text="Who should get it?")
    await owner.press("everyone opted in")
    await owner.wait_for(text="Send it to 1 customer (")
    await owner.press("📣 Send")
    await owner.wait_for(text="is done", timeout=20)
    got = await ann.wait_for(lambda m: "photo" in m and "word000" in m.get("caption", ""))
    assert got["caption"] == caption and len(got["caption_entities"]) == 20


async def test_many_categories_and_brands_page_or_stay_within_the_buttons_telegram_takes(shop: Shop) -> None:
    async with shop.uow() as u:
        await u.begin_write()
        categories = [Category(name=worst(128, f"Shelf {i:02} "), position=10 + i) for i in range(45)]
        u.session.add_all(categories)
        await u.session.flush()
        u.session.add_all(
            Product(
                sku=f"B-{i}",
                name=f"Thing {i}",
                brand=f"Brand {i:02}",
                price_minor=100 + i,
                stock=5,
                category_id=categories[0].id,
            )
            for i in range(40)
        )
        u.session.add_all(
            Product(sku=f"S-{i}", name=f"Shelf thing {i}", price_minor=100, stock=5, category_id=c.id)
            for i, c in enumerate(categories[1:])
        )
        await u.commit()
    ann = await shop.started("Ann")
    await ann.send("/catalog")
    first = await ann.wait_for(text="Pick a category")
    pages = await all_pages(ann, first)
    assert len(pages) == 3 and "page 3 of 3" in pages[2]
    await ann.press("‹ Previous")
    await ann.wait_for(text="page 2 of 3")
    await ann.press("‹ Previous")
    shelf = await ann.wait_for(text="page 1 of 3")
    await ann.press(f"{categories[0].name} (40)", message_id=shelf["message_id"])
    await ann.wait_for(text="40 products")
    await ann.press("⚙ Filters")
    filters = await ann.wait_for(lambda m: "● Any brand" in button_labels(m))
    assert "Brand 13" in button_labels(filters) and "Brand 14" not in button_labels(filters)


async def test_many_payments_with_long_references_page(shop: Shop) -> None:
    customer = await make_customer(shop.uow, worst(128, "Payer "), username="p" * 32)
    references = [f"{i:02}" + "R" * 62 for i in range(25)]
    async with shop.uow() as u:
        await u.begin_write()
        order = Order(
            customer_id=customer.id,
            status="pending_payment",
            fulfilment="pickup",
            payment_method="transfer",
            currency="USD",
            subtotal_minor=99_999_999_99,
            total_minor=99_999_999_99,
            reference="PAYMENTS1",
            checkout_token=str(uuid.uuid4()),
        )
        u.session.add(order)
        await u.session.flush()
        u.session.add_all(
            Payment(
                order_id=order.id,
                amount_minor=99_999_999_99,
                method="mobile_money",
                reference=r,
                recorded_by=1,
            )
            for r in references
        )
        u.session.add(OrderEvent(order_id=order.id, to_status="pending_payment", actor="system"))
        await u.commit()
    first = await staff_says(shop.owner, "/payments pending", "Payments waiting for verification")
    once_each(await all_pages(shop.owner, first), references)  # every one waiting, in pages
    first = await staff_says(shop.owner, "/payments", "Recent payments")
    recent = await all_pages(shop.owner, first)
    once_each(recent, references[5:])  # the newest twenty, and how many there are
    assert "The newest 20 of 25 payments." in recent[-1]
    first = await staff_says(shop.owner, f"/order {order.id}", f"📦 Order #{order.id}")
    pages = await all_pages(shop.owner, first)
    once_each(pages, references)


# Messages rendered from data no handler test can easily make as long: the outbox's rows (a context is
# kept as it was queued) and a few answers; each with its limit.
WORST_CONTEXTS: dict[str, tuple[Callable[[], dict[str, Any]], int]] = {
    "staff.digest": (
        lambda: {
            "day": "2024-01-01",
            "revenue_minor": 99_999_999_999_99,
            "orders": 99_999,
            "pending_payments": 9_999,
            "waiting": 9_999,
            "oldest_waiting": list(range(1_000_000, 1_000_010)),
            "low_stock": [{"sku": "S" * 64, "name": worst(200), "stock": 0} for _ in range(15)],
        },
        TEXT_LIMIT,
    ),
    "staff.new_order": (
        lambda: {
            "number": 1_000_000,
            "total_minor": 99_999_999_999_99,
            "reference": "R" * 16,
            "fulfilment": "delivery",
            "address": worst(300),
            "phone": "+" + "9" * 15,
            "notes": worst(500),
            "payment_method": "mobile_money",
            "customer": worst(128),
            "username": "u" * 32,
            "items": [{"name": worst(200), "quantity": 99, "line_total_minor": 99_999_999_999_99}] * 40,
        },
        TEXT_LIMIT,
    ),
    "notify.status": (
        lambda: {"number": 1_000_000, "status": "cancelled", "note": worst(4000), "pickup_code": None},
        TEXT_LIMIT,
    ),
    "staff.receipt": (
        lambda: {
            "number": 1_000_000,
            "total_minor": 99_999_999_999_99,
            "reference": "R" * 16,
            "customer": worst(128),
        },
        CAPTION_LIMIT,
    ),
    "errors.error": (
        lambda: {
            "code": "out_of_stock",
            "params": {"items": [{"name": worst(200), "wanted": 99, "available": 98}] * 33},
        },
        TEXT_LIMIT,
    ),
    "cart.changes": (
        lambda: {"cart": CartView([], [CartChange("price", worst(200), 9_999_999, 99_999_999)] * 33)},
        TEXT_LIMIT,
    ),
}


@pytest.mark.parametrize("language", ["en", "ru"])
@pytest.mark.parametrize("template", sorted(WORST_CONTEXTS))
async def test_messages_rendered_from_data_fit_at_their_worst(
    shop: Shop, template: str, language: str
) -> None:
    context, limit = WORST_CONTEXTS[template]
    text = shop.dp["renderer"].render(template, language, **context())
    if limit == CAPTION_LIMIT:
        await shop.bot.send_photo(shop.owner.id, BufferedInputFile(qr_png("CODE42"), "qr.png"), caption=text)
    else:
        await shop.bot.send_message(shop.owner.id, text)
    assert utf16_len(text_of((await shop.owner.bot_messages())[-1])) <= limit


async def test_a_button_sent_before_its_data_had_a_page_still_works(shop: Shop) -> None:
    """Buttons already in chats when the pages came: the cart's "k:s:0" (now "k:s:0:0"), an alert's
    "st:p:N:0:" (now "st:p:N:0::0")."""
    ann = await shop.started("Ann")
    old_cart = {"inline_keyboard": [[{"text": "🛒", "callback_data": "k:s:0"}]]}
    await shop.bot.send_message(ann.id, "an old message", reply_markup=old_cart)
    await ann.press("🛒")
    await ann.wait_for(text="Your cart is empty")
    old_alert = {"inline_keyboard": [[{"text": "💰", "callback_data": "st:p:999:0:"}]]}
    await shop.bot.send_message(shop.owner.id, "an old alert", reply_markup=old_alert)
    answer = await shop.owner.press("💰")
    assert "cannot find that order" in answer["text"]  # read, and answered as for any order number
