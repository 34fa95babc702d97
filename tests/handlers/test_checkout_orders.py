"""Checkout, orders, receipts and the customer's data, through the real dispatcher and the sandbox."""

from __future__ import annotations

import json
from typing import Any

import aiohttp
import pytest

from sandbox.client import SimUser
from tests.handlers.conftest import Shop, button_labels, callback_of, texts


async def fill_cart(user: SimUser, product_id: int = 1, quantity: int = 2) -> None:
    await user.send(f"/start p_{product_id}")
    await user.wait_for(lambda m: "🛒 Add 1 to cart" in button_labels(m))
    for _ in range(quantity - 1):
        await user.press("+")
        await user.wait_for(lambda m, q=_ + 2: f"🛒 Add {q} to cart" in button_labels(m))
    await user.press(f"🛒 Add {quantity} to cart")


async def checkout_to_summary(
    user: SimUser,
    delivery: bool = True,
    notes: str | None = "Ring <twice> & wave 👋",
    method: str = "🏦 Bank transfer",
) -> dict:
    await user.send("/checkout")
    await user.wait_for(text="How would you like")
    if delivery:
        await user.press("🚚 Delivery")
        await user.wait_for(text="Where should we deliver")
        await user.send("221B Baker Street, London")
    else:
        await user.press("🏪 Pickup")
    await user.wait_for(text="What phone number")
    await user.press_reply("📱 Share my phone number")
    await user.wait_for(text="Anything we should know")
    if notes is None:
        await user.press("No notes →")
    else:
        await user.send(notes)
    await user.wait_for(text="How will you pay")
    await user.press(method)
    return await user.wait_for(text="Is everything right")


async def at_the_address(shop: Shop) -> SimUser:
    """A customer with one tea in the cart, checking out for delivery, asked for the address."""
    ann = await shop.started()
    await fill_cart(ann, 1, 1)
    await ann.send("/checkout")
    await ann.wait_for(text="How would you like")
    await ann.press("🚚 Delivery")
    await ann.wait_for(text="Where should we deliver")
    return ann


async def order_rows(shop: Shop, user: SimUser) -> list[Any]:
    async with shop.uow() as u:
        customer = await u.customers.by_telegram_id(user.id)
        return await u.orders.all_for_customer(customer.id)


async def test_delivery_checkout_with_contact_and_transfer(shop: Shop) -> None:
    ann = await shop.started()
    await fill_cart(ann, 1, 2)
    summary = await checkout_to_summary(ann)
    assert "Green tea — 2 × $4.50 = $9.00" in summary["text"] and "Delivery — $2.00" in summary["text"]
    assert "Total: $11.00" in summary["text"] and "📝 Ring <twice> & wave 👋" in summary["text"]
    assert f"📱 {ann.phone_number}" in summary["text"]
    await ann.press("✅ Place order")
    placed = await ann.wait_for(text="is placed")
    [order] = await order_rows(shop, ann)
    assert f"Order #{order.id} is placed!" in placed["text"] and order.reference in placed["text"]
    assert "IBAN GB00 TEST 0000 0000" in placed["text"] and "photo of your receipt" in placed["text"]
    assert (order.status, order.total_minor, order.address_text, order.notes) == (
        "pending_payment",
        1100,
        "221B Baker Street, London",
        "Ring <twice> & wave 👋",
    )
    assert order.phone == ann.phone_number
    # The receipt photo goes on the order for staff.
    photo = await ann.send_photo("my transfer")
    await ann.wait_for(text="receipt is attached")
    [order] = await order_rows(shop, ann)
    assert order.receipt_file_id == photo["photo"][-1]["file_id"]
    # /orders shows it, with its timeline.
    await ann.press_reply("📦 My orders")
    history = await ann.wait_for(text="Your orders")
    assert button_labels(history) == [f"#{order.id} · $11.00 · awaiting payment"]
    await ann.press(button_labels(history)[0])
    detail = await ann.wait_for(text="Timeline")
    assert "Receipt received" in detail["text"] and "awaiting payment" in detail["text"]


async def test_a_pressed_answer_turns_its_message_into_the_next_question(shop: Shop) -> None:
    """Where the next question has buttons of its own, it takes the answered question's place: the
    checkout after the phone is one message from the notes to the order placed. The phone's question
    needs the chat's keyboard and comes as a message of its own; once the phone is given, the main menu
    is back on screen."""
    ann = await shop.started()
    await fill_cart(ann, 1, 1)
    await ann.send("/checkout")
    asked = await ann.wait_for(text="How would you like")
    await ann.press("🏪 Pickup")
    phone = await ann.wait_for(text="What phone number")
    assert phone["message_id"] != asked["message_id"]
    assert button_labels((await ann.messages())[-2]) == []  # the answered question's buttons went
    await ann.press_reply("📱 Share my phone number")
    notes = await ann.wait_for(text="Anything we should know")
    keyboard = await ann.reply_keyboard()
    assert keyboard is not None and "🛍 Catalog" in json.dumps(keyboard, ensure_ascii=False)
    before = len(await ann.messages())
    await ann.press("No notes →")
    payment = await ann.wait_for(text="How will you pay")
    await ann.press("🏦 Bank transfer")
    summary = await ann.wait_for(text="Is everything right")
    await ann.press("← Back")
    await ann.wait_for(text="How will you pay")
    await ann.press("🏦 Bank transfer")
    await ann.wait_for(text="Is everything right")
    await ann.press("✅ Place order")
    placed = await ann.wait_for(text="is placed")
    assert notes["message_id"] == payment["message_id"] == summary["message_id"] == placed["message_id"]
    assert len(await ann.messages()) == before


async def test_place_order_twice_gives_one_order(shop: Shop) -> None:
    ann = await shop.started()
    await fill_cart(ann, 3, 1)
    summary = await checkout_to_summary(ann, delivery=False, notes=None)
    place = callback_of(summary, "✅ Place order")
    first = await ann.press_data(summary["message_id"], place)
    await ann.wait_for(text="is placed")
    assert first["answered"]
    # The same button pressed again from another device (the message on this one has changed already).
    await shop.bot.send_message(
        ann.id, "old summary", reply_markup={"inline_keyboard": [[{"text": "Place", "callback_data": place}]]}
    )
    again = await ann.press("Place")
    assert again["answered"]
    assert len(await order_rows(shop, ann)) == 1
    assert sum("is placed" in t for t in texts(await ann.bot_messages())) == 1


async def test_back_and_cancel_at_every_step(shop: Shop) -> None:
    ann = await at_the_address(shop)
    await ann.press("← Back")
    await ann.wait_for(text="How would you like")
    await ann.press("🏪 Pickup")
    await ann.wait_for(text="What phone number")
    await ann.press_reply("← Back")  # reply-keyboard Back on the phone step
    await ann.wait_for(text="Back to the previous question")
    await ann.wait_for(text="How would you like")
    assert (await ann.reply_keyboard())["keyboard"][0][0]["text"] == "🛍 Catalog"  # the menu is back
    await ann.press("🏪 Pickup")
    await ann.wait_for(text="What phone number")
    await ann.send("+1 (555) 010-9999")
    await ann.wait_for(text="Anything we should know")
    await ann.press("← Back")
    await ann.wait_for(text="Tap +15550109999 to use it again")  # the saved phone, one tap
    assert (await ann.reply_keyboard())["keyboard"][0][0]["text"] == "+15550109999"
    await ann.press_reply("+15550109999")
    await ann.wait_for(text="Anything we should know")
    await ann.send("/cancel")
    await ann.wait_for(text="nothing is in progress")
    # A button from the cancelled checkout, still on screen: a polite answer, nothing changes.
    answer = await ann.press("No notes →")
    assert answer["show_alert"] and "no longer open" in answer["text"]
    # Every other step's button from that checkout, as an old message on another device would carry it.
    stale = ["o:f:pickup:0", "o:f:delivery:0", "o:a::1", "o:p:cash:0", "o:t:1:0", "o:b::0"]
    await shop.bot.send_message(
        ann.id,
        "old checkout",
        reply_markup={"inline_keyboard": [[{"text": data, "callback_data": data}] for data in stale]},
    )
    for data in stale:
        answer = await ann.press(data)
        assert answer["show_alert"] and "no longer open" in answer["text"], data
    async with shop.uow() as u:
        customer = await u.customers.by_telegram_id(ann.id)
        assert await u.carts.draft(customer.id) is None
        assert len((await u.carts.cart(customer.id)).items) == 1  # the cart is kept
        assert customer.phone == "+15550109999"


async def test_cancel_leaves_the_menu_and_one_short_line(shop: Shop) -> None:
    ann = await at_the_address(shop)
    await ann.press("✖ Cancel")
    await ann.wait_for(text="Checkout cancelled. Your cart is kept.")
    await ann.wait_for(text="Anything else? The menu is below.")
    assert (await ann.reply_keyboard())["keyboard"][0][0]["text"] == "🛍 Catalog"
    assert not [m for m in await ann.bot_messages() if "How to order" in (m.get("text") or "")]


async def test_bad_input_in_the_checkout(shop: Shop) -> None:
    ann = await shop.started()
    await fill_cart(ann, 1, 1)
    await ann.send("/checkout")
    await ann.wait_for(text="How would you like")
    await ann.send("delivery please")  # typing where a button is expected
    await ann.wait_for(text="answer with the buttons")
    await ann.press("🚚 Delivery")
    await ann.wait_for(text="Where should we deliver")
    await ann.send("x" * 5000)  # a Telegram app splits it in two messages; both are refused kindly
    await ann.wait_for(text="too long")
    await ann.send("ab")
    await ann.wait_for(text="too short")
    await ann.send("<b>Flat 1</b> & 2 Main St 🏠")
    await ann.wait_for(text="What phone number")
    for phone in ("call me maybe", "12", "+1 555 <script>"):
        await ann.send(phone)
        await ann.wait_for(text="does not look like a phone number")
    await ann.send_contact("+15557654321", user_id=ann.id + 1)  # somebody else's contact
    await ann.wait_for(text="share your own phone number")
    await ann.send("+15557654321")
    await ann.wait_for(text="Anything we should know")
    await ann.send("n" * 800)
    await ann.wait_for(text="note is too long")
    await ann.press("No notes →")
    await ann.wait_for(text="How will you pay")
    await ann.press("💵 Cash")
    summary = await ann.wait_for(text="Is everything right")
    assert "🚚 Delivery to: <b>Flat 1</b> & 2 Main St 🏠" in summary["text"]
    assert summary.get("entities", []) == [e for e in summary.get("entities", []) if e["type"] == "bold"]


async def test_a_command_typed_during_the_checkout_is_a_command_not_an_answer(shop: Shop) -> None:
    """/cart or a tap on the menu where the address is asked does what it says (each used to become the
    address, and go into the address book); /orders where the notes are asked lists the orders. The
    checkout stays where it was."""
    ann = await at_the_address(shop)
    await ann.send("/cart")
    await ann.wait_for(text="Your cart")
    await ann.send("/nonsense")
    await ann.wait_for(text="I did not understand that")
    await ann.press_reply("📦 My orders")  # the main menu stays on screen
    await ann.wait_for(text="no orders yet")
    await ann.send("221B Baker Street, London")
    await ann.wait_for(text="What phone number")
    await ann.press_reply("📱 Share my phone number")
    await ann.wait_for(text="Anything we should know")
    await ann.send("/orders")
    await ann.wait_for(text="no orders yet")
    await ann.send("Ring twice")
    await ann.wait_for(text="How will you pay")
    await ann.press("💵 Cash")
    summary = await ann.wait_for(text="Is everything right")
    assert "221B Baker Street, London" in summary["text"] and "📝 Ring twice" in summary["text"]
    async with shop.uow() as u:
        customer = await u.customers.by_telegram_id(ann.id)
        assert [a.text for a in await u.customers.addresses(customer.id)] == ["221B Baker Street, London"]


async def test_out_of_stock_at_the_last_moment(shop: Shop) -> None:
    ann = await shop.started()
    await fill_cart(ann, 8, 1)  # the last lemon cake
    await checkout_to_summary(ann, delivery=False, notes=None)
    bob = await shop.started("Bob")
    await fill_cart(bob, 8, 1)
    await checkout_to_summary(bob, delivery=False, notes=None)
    await bob.press("✅ Place order")
    await bob.wait_for(text="is placed")
    refusal = await ann.press("✅ Place order")
    assert refusal["show_alert"] and "do not have enough" in refusal["text"]
    assert refusal["text"].splitlines() == [  # the pop-up keeps the message's lines
        "Sorry, we do not have enough:",
        "• Lemon cake: you wanted 1, 0 left",
        "Your cart is kept; change the quantity and try again.",
    ]
    assert await order_rows(shop, ann) == []
    async with shop.uow() as u:
        assert (await u.catalog.by_sku("CAKE-1")).stock == 0


async def test_sold_out_while_checking_out_is_explained_not_an_error(shop: Shop) -> None:
    ann = await shop.started()
    await fill_cart(ann, 8, 1)  # the last lemon cake
    await ann.send("/checkout")
    await ann.wait_for(text="How would you like")
    await ann.press("🏪 Pickup")
    await ann.wait_for(text="What phone number")
    await ann.press_reply("📱 Share my phone number")
    await ann.wait_for(text="Anything we should know")
    await ann.press("No notes →")
    await ann.wait_for(text="How will you pay")
    await shop.owner.send("/stock CAKE-1 0")  # sold at the counter meanwhile
    await shop.owner.wait_for(text="CAKE-1")
    await ann.press("🏦 Bank transfer")
    answer = await ann.wait_for(lambda m: "cart is empty" in str(m) or "went wrong" in str(m))
    assert "Your cart is empty" in answer["text"]
    assert "Lemon cake is sold out and was removed" in answer["text"]  # why it is empty now
    assert await order_rows(shop, ann) == []


async def cancel_from_orders(user: SimUser) -> dict[str, Any]:
    """The customer opens their latest order from /orders and cancels it; the press's answer."""
    await user.send("/orders")
    history = await user.wait_for(text="Your orders")
    await user.press(button_labels(history)[0])
    await user.wait_for(text="Timeline")
    await user.press("✖ Cancel order")
    await user.wait_for(text="Cancel order #")
    return await user.press("Yes, cancel it")


async def test_cancel_and_reorder(shop: Shop) -> None:
    ann = await shop.started()
    await fill_cart(ann, 3, 2)
    await checkout_to_summary(ann, delivery=False, notes=None)
    await ann.press("✅ Place order")
    await ann.wait_for(text="is placed")
    async with shop.uow() as u:
        assert (await u.catalog.by_sku("TEA-3")).stock == 3
    await cancel_from_orders(ann)
    cancelled = await ann.wait_for(
        lambda m: "cancelled" in m.get("text", "") and "Timeline" in m.get("text", "")
    )
    assert "✖ Cancel order" not in button_labels(cancelled)
    async with shop.uow() as u:
        assert (await u.catalog.by_sku("TEA-3")).stock == 5  # the stock came back
    await ann.press("🔁 Order again")
    again = await ann.wait_for(text="Added to your cart")
    assert "Mint tea" in again["text"]


async def test_cancelling_after_a_receipt_asks_the_shop_instead(shop: Shop) -> None:
    """Money may have moved: the customer's cancel goes to staff, who decide; nothing is cancelled."""
    ann = await shop.started()
    await fill_cart(ann, 3, 2)
    await checkout_to_summary(ann, delivery=False, notes=None)
    await ann.press("✅ Place order")
    placed = await ann.wait_for(text="is placed")
    number = int(placed["text"].split("#", 1)[1].split(" ", 1)[0])
    await ann.send_photo("my transfer")
    await ann.wait_for(text="receipt is attached")
    answer = await cancel_from_orders(ann)
    assert answer["show_alert"] and "passed your request on" in answer["text"]
    assert shop.owner is not None
    await shop.owner.wait_for(text=f"The customer asks to cancel order #{number}")
    async with shop.uow() as u:
        order = await u.orders.with_customer(number)
        assert order is not None and order.status == "pending_payment"
        assert (await u.catalog.by_sku("TEA-3")).stock == 3  # nothing given back yet


async def test_a_location_at_the_address_step_is_the_delivery_address(shop: Shop) -> None:
    ann = await at_the_address(shop)
    await ann.send_location(51.501364, -0.14189)
    await ann.wait_for(text="What phone number")
    async with shop.uow() as u:
        customer = await u.customers.by_telegram_id(ann.id)
        draft = await u.carts.draft(customer.id)
        assert draft is not None and draft.address_text is not None
        assert "51.50136,-0.14189" in draft.address_text and "openstreetmap.org" in draft.address_text


async def test_someone_elses_order_button_is_refused(shop: Shop) -> None:
    ann = await shop.started()
    await fill_cart(ann, 3, 1)
    await checkout_to_summary(ann, delivery=False, notes=None)
    await ann.press("✅ Place order")
    await ann.wait_for(text="is placed")
    [order] = await order_rows(shop, ann)
    mallory = await shop.started("Mallory")
    for action in ("o", "y", "r"):
        await shop.bot.send_message(
            mallory.id,
            "forged",
            reply_markup={
                "inline_keyboard": [
                    [{"text": f"forged {action}", "callback_data": f"r:{action}:{order.id}:0"}]
                ]
            },
        )
        answer = await mallory.press(f"forged {action}")
        assert answer["show_alert"] and "cannot find that order" in answer["text"]
    [order] = await order_rows(shop, ann)
    assert order.status == "pending_payment"


async def test_profile_mydata_and_forgetme(shop: Shop, sandbox: Any) -> None:
    ann = await shop.started()
    await fill_cart(ann, 1, 1)
    await checkout_to_summary(ann)
    await ann.press("✅ Place order")
    await ann.wait_for(text="is placed")
    await ann.send("/profile")
    profile = await ann.wait_for(text="Saved addresses")
    assert "221B Baker Street, London" in profile["text"]
    await ann.press("☐ News and offers")
    await ann.wait_for(lambda m: "☑ News and offers" in button_labels(m))
    await ann.send("/mydata")
    document = await ann.wait_for(lambda m: "document" in m)
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"{sandbox.url}/sandbox/files/{document['document']['file_id']}") as response,
    ):
        data = json.loads(await response.read())
    assert data["customer"]["first_name"] == "Ann" and data["customer"]["marketing_opt_in"] is True
    assert data["orders"][0]["address"] == "221B Baker Street, London"
    await ann.send("/forgetme")
    first = await ann.wait_for(text="Delete your data?")
    await ann.send("/start")  # a conversation started afresh since
    await ann.wait_for(text="Welcome")
    # The Yes of a question from before that (an old message scrolled up to) asks again there, and
    # deletes nothing.
    await ann.press("Yes, delete my data", message_id=first["message_id"])
    await ann.wait_for(lambda m: m["message_id"] == first["message_id"] and "Delete your data?" in m["text"])
    async with shop.uow() as u:
        assert await u.customers.by_telegram_id(ann.id) is not None
    await ann.send("/forgetme")  # asked twice now: either question's Yes will do
    await ann.wait_for(text="Delete your data?")
    await ann.press("Yes, delete my data", message_id=first["message_id"])
    await ann.wait_for(text="Your data is deleted")
    async with shop.uow() as u:
        assert await u.customers.by_telegram_id(ann.id) is None
    [order] = await order_rows_by_number(shop)
    assert (order.address_text, order.phone, order.notes) == (None, None, None) and order.total_minor == 650
    await ann.press("Yes, delete my data")  # the other question's Yes, afterwards: it is done, nothing asked
    told = await ann.wait_for(text="Your data is deleted")
    assert "Yes, delete my data" not in button_labels(told)


async def order_rows_by_number(shop: Shop) -> list[Any]:
    from sqlalchemy import select

    from storage.models import Order

    async with shop.uow() as u:
        return list((await u.session.scalars(select(Order))).all())


async def test_photo_without_an_unpaid_order(shop: Shop) -> None:
    ann = await shop.started()
    await ann.send_photo("just a cat")
    await ann.wait_for(text="no order waiting for payment")


@pytest.mark.parametrize("text", ["hello", "<b>bold?</b>", "' OR 1=1; --", "\u202eevil", "🙂" * 300])
async def test_unknown_text_gets_a_friendly_answer(shop: Shop, text: str) -> None:
    ann = await shop.started()
    await ann.send(text)
    await ann.wait_for(text="did not understand")


@pytest.mark.allow_bot_errors
async def test_telegram_failing_while_an_order_is_placed_stores_it_once_and_confirms_it_after(
    shop: Shop,
) -> None:
    """The confirmation cannot be delivered (502s, then timeouts); the order exists once, a second press
    says it is placed, and once Telegram is back the summary becomes the confirmation with everything
    the customer needs to pay: number, total, bank details, reference."""
    ann = await shop.started()
    await fill_cart(ann, 1, 1)
    summary = await checkout_to_summary(ann, delivery=False, notes=None)
    shop.dp["outbox"].backoff, shop.dp["outbox"].retry_cap = 0.2, 0.5

    await shop.client.add_fault("502", method="editMessageText", chat_id=ann.id, times=6)
    await shop.client.add_fault("timeout", method="editMessageText", chat_id=ann.id, times=2, delay=0.2)
    await shop.client.add_fault("502", method="answerCallbackQuery", chat_id=ann.id, times=1)
    await ann.press("✅ Place order")
    again = await ann.press_data(summary["message_id"], callback_of(summary, "✅ Place order"))
    assert "is placed already" in (again.get("text") or ""), again

    placed = await ann.wait_for(text="is placed!", timeout=30)
    assert placed["message_id"] == summary["message_id"]  # the summary became the confirmation
    async with shop.uow() as u:
        customer = await u.customers.by_telegram_id(ann.id)
        assert customer is not None
        orders, count = await u.orders.for_customer(customer.id, 0, 10)
    assert count == 1, orders
    order = orders[0]
    for needed in (f"Order #{order.id}", "$4.50", "IBAN GB00 TEST 0000 0000", order.reference):
        assert needed in placed["text"], (needed, placed["text"])
    texts = [m.get("text") or "" for m in await ann.bot_messages()]
    assert sum("is placed!" in text for text in texts) == 1
    assert not [text for text in texts if "Sorry, something went wrong" in text]


async def test_an_order_is_placed_only_at_the_price_the_customer_saw(shop: Shop) -> None:
    """The owner changes a price, then hides a product, while the summary is on the customer's screen:
    each time "Place order" places nothing and shows the summary as it now stands; the order is placed
    at the total the customer saw last."""
    ann = await shop.started()
    await fill_cart(ann, 1, 1)  # Green tea, $4.50
    await fill_cart(ann, 3, 1)  # Mint tea, $2.50
    summary = await checkout_to_summary(ann, delivery=False, notes=None)
    assert "Total: $7.00" in summary["text"]
    await shop.owner.send("/price TEA-1 99")
    await shop.owner.wait_for(text="99.00")

    answer = await ann.press("✅ Place order")
    assert "Something changed since you looked" in (answer.get("text") or ""), answer
    again = await ann.wait_for(text="Total: $101.50")
    assert again["message_id"] == summary["message_id"]
    assert "Green tea now costs $99.00 (was $4.50)" in again["text"]
    await shop.owner.send("/hide TEA-3")
    await shop.owner.wait_for(text="TEA-3")
    assert "Something changed" in ((await ann.press("✅ Place order")).get("text") or "")
    last = await ann.wait_for(text="Total: $99.00")
    assert "Mint tea is sold out and was removed" in last["text"]
    async with shop.uow() as u:
        customer = await u.customers.by_telegram_id(ann.id)
        assert customer is not None
        assert await u.orders.all_for_customer(customer.id) == []

    await ann.press("✅ Place order")
    placed = await ann.wait_for(text="is placed!")
    assert "Total: $99.00" in placed["text"]
    async with shop.uow() as u:
        [order] = await u.orders.all_for_customer(customer.id)
    assert (order.total_minor, [i.unit_price_minor for i in order.items]) == (9900, [9900])
