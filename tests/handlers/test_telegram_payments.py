"""Paying inside Telegram (card through a provider, or Stars), against the sandbox's payment flow."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from shop import telegram_payments
from shop.reminders import expire_unpaid
from storage.models import utcnow
from tests.handlers.conftest import Shop, button_labels, texts
from tests.handlers.test_checkout_orders import fill_cart
from tests.handlers.test_staff import in_order_told, order_state, staff_says

pytestmark = pytest.mark.telegram_payments


async def checkout_paying_in_telegram(
    shop: Shop, method_label: str, name: str = "Ann"
) -> tuple[object, int, dict]:
    ann, number = await placed_paying_in_telegram(shop, method_label, name)
    invoice = await ann.wait_for(lambda m: "invoice" in m)
    return ann, number, invoice


async def placed_paying_in_telegram(shop: Shop, method_label: str, name: str = "Ann") -> tuple[Any, int]:
    ann = await shop.started(name)
    await fill_cart(ann, 1, 2)  # $9.00
    await ann.send("/checkout")
    await ann.wait_for(text="How would you like")
    await ann.press("🏪 Pickup")
    await ann.wait_for(text="What phone number")
    await ann.press_reply("📱 Share my phone number")
    await ann.wait_for(text="Anything we should know")
    await ann.press("No notes →")
    methods = await ann.wait_for(text="How will you pay")
    assert "💳 Pay now by card" in button_labels(methods) and "⭐ Pay now with Stars" in button_labels(
        methods
    )
    await ann.press(method_label)
    await ann.wait_for(text="Is everything right")
    await ann.press("✅ Place order")
    placed = await ann.wait_for(text="is placed")
    return ann, int(placed["text"].split("#", 1)[1].split(" ", 1)[0])


async def test_pay_with_stars_and_refund(shop: Shop) -> None:
    ann, number, invoice = await checkout_paying_in_telegram(shop, "⭐ Pay now with Stars")
    assert (
        invoice["invoice"]["currency"] == "XTR" and invoice["invoice"]["total_amount"] == 90
    )  # 10 ⭐ per $1
    result = await ann.pay(invoice["message_id"])
    assert result["ok"], result
    await ann.wait_for(text="We received your payment of $9.00")
    assert await order_state(shop, number) == ("paid", [(900, "verified")])
    await shop.owner.wait_for(text=f"New order #{number}")
    await staff_says(shop.owner, f"/refund {number}", "are given back; the order is refunded")
    await ann.wait_for(text="refunded")
    assert await order_state(shop, number) == ("refunded", [(900, "refunded")])
    await staff_says(shop.owner, f"/refund {number}", "has no Telegram Stars payment")
    # The refunded payment shows wherever payments are listed.
    listed = await staff_says(shop.owner, "/payments", "Recent payments")
    assert f"order #{number} · $9.00 · Telegram Stars · refunded" in listed["text"]
    shown = await staff_says(shop.owner, f"/order {number}", "Timeline")
    assert "$9.00 · Telegram Stars · refunded" in shown["text"]


@pytest.mark.settings(loyalty_points_per_unit="100")
async def test_paying_in_telegram_is_told_before_its_points_and_tier(shop: Shop) -> None:
    ann, number, invoice = await checkout_paying_in_telegram(shop, "⭐ Pay now with Stars")
    assert (await ann.pay(invoice["message_id"]))["ok"]
    await ann.wait_for(text="Welcome to")
    told = texts(await ann.bot_messages())
    assert in_order_told(told, "✅ We received", "⭐ You earned", "🎉 Welcome") == [
        f"✅ We received your payment of $9.00. Order #{number} is paid and will be prepared.",
        f"⭐ You earned 900 points with order #{number}. Your balance: 900 points.\nSee them in /points.",
        "🎉 Welcome to 🥇 Gold!",
    ]


async def test_stars_for_an_order_that_expired_meanwhile_are_flagged_and_go_back(
    shop: Shop, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The expiry job runs between Telegram's pre-checkout and the payment (the race a real shop can
    meet): the Stars are recorded, the order stays expired, the owner is asked to give them back and the
    customer is told; /refund then does."""
    ann, number, invoice = await checkout_paying_in_telegram(shop, "⭐ Pay now with Stars")
    approve = telegram_payments.check_pre_checkout

    async def approve_then_expire(*args: Any) -> Any:
        order = await approve(*args)
        async with shop.uow() as u:
            await expire_unpaid(u, shop.settings.shop_config(), utcnow() + timedelta(days=2))
        return order

    monkeypatch.setattr(telegram_payments, "check_pre_checkout", approve_then_expire)
    assert (await ann.pay(invoice["message_id"]))["ok"]
    told = await ann.wait_for(text=f"We received your payment of $9.00 for order #{number}, but the order")
    assert "is expired" in told["text"] and "will give the money back" in told["text"]
    alert = await shop.owner.wait_for(text=f"came in for order #{number}, which is expired")
    assert f"/refund {number}" in alert["text"]
    assert await order_state(shop, number) == ("expired", [(900, "verified")])
    await staff_says(shop.owner, f"/refund {number}", "are given back; the order is expired")
    await ann.wait_for(text=f"Order #{number}: refunded")
    assert await order_state(shop, number) == ("expired", [(900, "refunded")])
    assert not [t for t in texts(await ann.bot_messages()) if "is paid and will be prepared" in t]


@pytest.mark.allow_bot_errors
async def test_an_order_outside_telegrams_invoice_limits_is_explained(shop: Shop) -> None:
    """Telegram takes invoices only within its limits for the currency (they move with exchange rates):
    when it refuses one, the customer hears why and what to do, not the generic apology."""
    await shop.client.add_fault(
        "400", method="sendInvoice", description="Bad Request: CURRENCY_TOTAL_AMOUNT_INVALID"
    )
    ann, number = await placed_paying_in_telegram(shop, "💳 Pay now by card")
    told = await ann.wait_for(text=f"Telegram does not take $9.00 in one payment, so order #{number}")
    assert "contact the shop to pay another way" in told["text"]
    assert not [t for t in texts(await ann.bot_messages()) if "went wrong" in t]
    assert await order_state(shop, number) == ("pending_payment", [])


async def test_card_payment_through_the_provider(shop: Shop) -> None:
    ann, number, invoice = await checkout_paying_in_telegram(shop, "💳 Pay now by card")
    assert (invoice["invoice"]["currency"], invoice["invoice"]["total_amount"]) == ("USD", 900)
    # Plain text, as Telegram shows it: the shop's name is "Test & <Shop>", not "Test &amp; &lt;Shop&gt;".
    assert (invoice["invoice"]["title"], invoice["invoice"]["description"]) == (
        f"Order #{number}",
        "2 items · Test & <Shop>",
    )
    assert (await ann.pay(invoice["message_id"]))["ok"]
    await ann.wait_for(text="We received your payment of $9.00")
    assert await order_state(shop, number) == ("paid", [(900, "verified")])
    await staff_says(shop.owner, f"/refund {number}", "has no Telegram Stars payment")


async def test_a_cancelled_order_is_not_charged(shop: Shop) -> None:
    ann, number, invoice = await checkout_paying_in_telegram(shop, "⭐ Pay now with Stars")
    await ann.send("/orders")
    history = await ann.wait_for(text="Your orders")
    await ann.press(button_labels(history)[0])
    await ann.wait_for(text="Timeline")
    await ann.press("✖ Cancel order")
    await ann.press("Yes, cancel it")
    await ann.wait_for(lambda m: "cancelled" in m.get("text", "") and "Timeline" in m.get("text", ""))
    result = await ann.pay(invoice["message_id"])
    assert result == {
        "ok": False,
        "error_message": "This order cannot be paid any more (it may be cancelled or "
        "already paid). See /orders.",
    }
    assert await order_state(shop, number) == ("cancelled", [])


async def test_the_same_payment_replayed_ten_times_is_recorded_once(shop: Shop) -> None:
    ann, number, invoice = await checkout_paying_in_telegram(shop, "⭐ Pay now with Stars")
    paid = await ann.pay(invoice["message_id"])
    await ann.wait_for(text="We received your payment of $9.00")
    message = paid["message"]
    for replay in range(10):  # new update ids each time: only the charge id can tell it is the same payment
        await shop.dp.feed_raw_update(shop.bot, {"update_id": 10**14 + replay, "message": message})
    assert await order_state(shop, number) == ("paid", [(900, "verified")])
    thanks = [m for m in await ann.bot_messages() if "We received your payment" in (m.get("text") or "")]
    assert len(thanks) == 1


async def test_someone_elses_invoice_is_refused(shop: Shop) -> None:
    ann, number, invoice = await checkout_paying_in_telegram(shop, "⭐ Pay now with Stars")
    mallory = await shop.started("Mallory")
    forged = await shop.bot.send_invoice(
        mallory.id,
        title="Order",
        description="x",
        payload=f"order:{number}",
        currency="XTR",
        prices=[{"label": "Total", "amount": 90}],
    )
    result = await mallory.pay(forged.message_id)
    assert result["ok"] is False and "not for an order of yours" in result["error_message"]
    assert await order_state(shop, number) == ("pending_payment", [])
