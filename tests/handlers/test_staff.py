"""Staff through the real dispatcher and sandbox: alerts, payments, statuses, refusals, the team."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from handlers.staff.access import STAFF_COMMANDS
from handlers.staff.callbacks import StaffAction, StaffCb
from sandbox.client import SimUser
from shop import orders
from shop.reminders import expire_unpaid
from storage.models import utcnow
from tests.handlers.conftest import Shop, button_labels, texts
from tests.handlers.test_checkout_orders import checkout_to_summary, fill_cart


async def placed(
    shop: Shop, name: str = "Ann", product_id: int = 1, quantity: int = 2, delivery: bool = False
) -> tuple[SimUser, int]:
    """A customer with an order placed by bank transfer; returns them and the order number."""
    customer = await shop.started(name)
    await fill_cart(customer, product_id, quantity)
    await checkout_to_summary(customer, delivery=delivery, notes=None)
    await customer.press("✅ Place order")
    await customer.wait_for(text="is placed")
    async with shop.uow() as u:
        row = await u.customers.by_telegram_id(customer.id)
        [order] = await u.orders.all_for_customer(row.id)
    return customer, order.id


async def order_state(shop: Shop, number: int) -> tuple[str, list[tuple[int, str]]]:
    async with shop.uow() as u:
        order = await u.orders.get(number)
        payments = await u.payments.for_order(number)
    return order.status, [(p.amount_minor, p.status) for p in payments]


async def staff_says(user: SimUser, command: str, expect: str, chat_id: int | None = None) -> dict[str, Any]:
    await user.send(command, chat_id=chat_id)
    return await user.wait_for(text=expect, chat_id=chat_id)


async def test_new_order_alerts_the_owner_with_buttons_and_forwards_the_receipt(shop: Shop) -> None:
    ann, number = await placed(shop)
    owner = shop.owner
    alert = await owner.wait_for(text=f"New order #{number}")
    assert (
        "Green tea × 2 — $9.00" in alert["text"]
        and "Ann" in alert["text"]
        and "Bank transfer" in alert["text"]
    )
    assert button_labels(alert) == ["💰 Record payment", "🔄 Set status", "👤 Customer"]
    await ann.send_photo("paid!")
    receipt = await owner.wait_for(lambda m: "photo" in m and f"order #{number}" in m.get("caption", ""))
    assert "Receipt for order" in receipt["caption"]


async def test_owner_records_a_payment_and_the_order_is_paid_once(shop: Shop) -> None:
    ann, number = await placed(shop)
    owner = shop.owner
    reply = await staff_says(owner, f"/pay {number} 9.00 transfer TX-1", "Payment #")
    assert "verified" in reply["text"] and "The order is paid" in reply["text"]
    await ann.wait_for(text="We received your payment of $9.00")
    assert await order_state(shop, number) == ("paid", [(900, "verified")])
    # The same bank reference again, on any order: refused, nothing recorded.
    reply = await staff_says(owner, f"/pay {number} 1 transfer tx-1", "already on another payment")
    assert await order_state(shop, number) == ("paid", [(900, "verified")])
    paid_notes = [t for t in texts(await ann.bot_messages()) if "We received your payment" in t]
    assert len(paid_notes) == 1


async def test_staff_records_owner_verifies_partial_payments_add_up(shop: Shop) -> None:
    owner = shop.owner
    clerk = await shop.started("Clerk")
    await staff_says(owner, f"/staff add {clerk.id}", "is now staff")
    await clerk.wait_for(text="You are now on the team of Test & <Shop>")  # told, with what to do
    ann, number = await placed(shop)  # $9.00
    reply = await staff_says(clerk, f"/pay {number} 4,00 cash", "waiting for verification")
    payment_id = int(reply["text"].split("#", 1)[1].split(":", 1)[0])
    await owner.wait_for(text=f"/verify {payment_id}")  # the owners are asked to verify
    await staff_says(clerk, f"/verify {payment_id}", "Only an owner")
    await staff_says(owner, f"/verify {payment_id}", "Verified so far: $4.00 of $9.00")
    await clerk.wait_for(
        text=f"The payment #{payment_id} of $4.00 you recorded for order #{number} was verified"
    )
    await staff_says(owner, f"/verify {payment_id}", "already verified; nothing changed")
    assert await order_state(shop, number) == ("pending_payment", [(400, "verified")])
    await staff_says(owner, f"/pay {number} 6 pos POS-77", "Overpaid by $1.00")
    await owner.wait_for(text="is overpaid by $1.00")
    assert await order_state(shop, number) == ("paid", [(400, "verified"), (600, "verified")])
    await staff_says(owner, f"/staff remove {clerk.id}", "no longer staff")
    await staff_says(clerk, "/queue", "for the shop's staff only")


@pytest.mark.parametrize(
    ("arguments", "answer"),
    [
        ("", "Use: /pay N AMOUNT METHOD"),
        ("999 5 cash", "cannot find that order"),
        ("{n} -5 cash", "is not an amount"),
        ("{n} 1e9 cash", "is not an amount"),
        ("{n} abc cash", "is not an amount"),
        ("{n} 5.555 cash", "is not an amount"),
        ("{n} 0 cash", "is not an amount"),
        ("{n} 5 bitcoin", "no payment method “bitcoin”"),
        ("{n} 5", "Use: /pay N AMOUNT METHOD"),
        ("abc 5 cash", "Use: /pay N AMOUNT METHOD"),
    ],
)
async def test_pay_refuses_bad_arguments_and_changes_nothing(shop: Shop, arguments: str, answer: str) -> None:
    ann, number = await placed(shop)
    await staff_says(shop.owner, f"/pay {arguments.format(n=number)}".strip(), answer)
    assert await order_state(shop, number) == ("pending_payment", [])


async def test_status_moves_are_checked_and_each_is_told(shop: Shop) -> None:
    ann, number = await placed(shop)  # pickup
    owner = shop.owner
    refusal = await staff_says(owner, f"/status {number} preparing", f"Order #{number} is not paid yet")
    assert f"record its payment first (/pay {number} AMOUNT METHOD" in refusal["text"]
    assert "Allowed next: cancelled, expired" in refusal["text"]
    await staff_says(owner, f"/status {number} teleported", "There is no status “teleported”")
    await staff_says(owner, f"/pay {number} 9 cash", "The order is paid")
    await staff_says(owner, f"/status {number} preparing with extra love", "is now being prepared")
    await ann.wait_for(text="being prepared")
    ready = await staff_says(owner, f"/status {number} ready", "Pickup code:")
    code = ready["text"].rsplit("Pickup code: ", 1)[1].strip()
    card = await ann.wait_for(lambda m: "photo" in m and code in m.get("caption", ""))  # the QR to show
    assert "ready for pickup" in card["caption"]
    await staff_says(owner, "/pickup NOPE42", "No order is waiting with the pickup code")
    await staff_says(owner, f"/pickup {code.lower()}", "is now completed")
    await staff_says(owner, f"/pickup {code}", f"Order #{number} was already collected")
    await staff_says(owner, "/queu", "Staff commands: /staffhelp")  # a typo: pointed to their commands
    await ann.wait_for(text="Thank you! We hope you enjoy it.")
    assert (await order_state(shop, number))[0] == "completed"
    async with shop.uow() as u:
        events = [(e.to_status, e.actor.split(":")[0], e.reason) for e in (await u.orders.get(number)).events]
    assert events[2:] == [
        ("preparing", "staff", "with extra love"),
        ("ready", "staff", None),
        ("completed", "staff", "picked up"),
    ]
    notices = [t for t in texts(await ann.bot_messages()) if t.startswith("📦 Order #")]
    assert len(notices) == 3  # preparing, ready, completed: one each


def in_order_told(messages: list[str], *starts: str) -> list[str]:
    """Of what a chat was told, the messages beginning with one of ``starts``, as they arrived."""
    return [text for text in messages if text.startswith(starts)]


@pytest.mark.settings(loyalty_points_per_unit="100")
async def test_the_customer_hears_of_a_payment_before_its_points_and_tier(shop: Shop) -> None:
    """Cause first: "we received your payment", then the points it earned, then the tier they reached;
    and a refund before what it takes back (nothing, here: the points are not told again)."""
    ann, number = await placed(shop)  # $9.00: 900 points at 100 a dollar, Gold from 500
    clerk = await shop.started("Clerk")
    await staff_says(shop.owner, f"/staff add {clerk.id}", "is now staff")
    reply = await staff_says(clerk, f"/pay {number} 9 cash", "waiting for verification")
    payment_id = int(reply["text"].split("#", 1)[1].split(":", 1)[0])
    await staff_says(shop.owner, f"/verify {payment_id}", "The order is paid")
    await ann.wait_for(text="Welcome to")
    await staff_says(shop.owner, f"/status {number} refunded", "is now refunded")
    await ann.wait_for(text="refunded")
    told = texts(await ann.bot_messages())
    assert in_order_told(told, "✅ We received", "⭐ You earned", "🎉 Welcome", f"📦 Order #{number}") == [
        f"✅ We received your payment of $9.00. Order #{number} is paid and will be prepared.",
        f"⭐ You earned 900 points with order #{number}. Your balance: 900 points.\nSee them in /points.",
        "🎉 Welcome to 🥇 Gold!",
        f"📦 Order #{number}: refunded",
    ]


async def test_no_command_or_button_marks_an_order_paid(shop: Shop) -> None:
    """Paid is reached by payments adding up: an employee's /status N paid, or the owner's, or a
    set-status button forged to say paid, changes nothing and says how an order becomes paid."""
    owner = shop.owner
    clerk = await shop.started("Clerk")
    await staff_says(owner, f"/staff add {clerk.id}", "is now staff")
    ann, number = await placed(shop)  # $9.00
    refusal = f"Order #{number} becomes paid when its verified payments reach its total ($0.00 of $9.00"
    for person in (clerk, owner):
        reply = await staff_says(person, f"/status {number} paid", refusal)
        assert f"/pay {number} AMOUNT METHOD" in reply["text"]
    view = await staff_says(clerk, f"/order {number}", "Timeline")
    forged = StaffCb(action=StaffAction.set_status, order=number, status="paid").pack()  # edited by hand
    await shop.bot.edit_message_reply_markup(
        chat_id=clerk.id,
        message_id=view["message_id"],
        reply_markup={"inline_keyboard": [[{"text": "forged", "callback_data": forged}]]},
    )
    answer = await clerk.press(forged)
    assert refusal in answer["text"]
    await staff_says(clerk, f"/pay {number} 9 cash", "waiting for verification")
    await staff_says(clerk, f"/status {number} paid", "($0.00 of $9.00")  # pending money is not paid
    assert await order_state(shop, number) == ("pending_payment", [(900, "pending")])
    assert not [t for t in texts(await ann.bot_messages()) if "We received your payment" in t]


async def test_an_order_paid_by_transfer_waits_for_the_owner_and_never_expires(shop: Shop) -> None:
    """A receipt and an employee's payment, then a day with no owner: the expiry job leaves the order
    (and its stock) and reminds the owner, whose /verify then makes it paid."""
    owner = shop.owner
    clerk = await shop.started("Clerk")
    await staff_says(owner, f"/staff add {clerk.id}", "is now staff")
    ann, number = await placed(shop)  # $9.00
    await ann.send_photo("paid!")
    await ann.wait_for(text="Your receipt is attached")
    reply = await staff_says(clerk, f"/pay {number} 9 transfer TX-9", "waiting for verification")
    payment_id = int(reply["text"].split("#", 1)[1].split(":", 1)[0])
    async with shop.uow() as u:
        assert await expire_unpaid(u, shop.settings.shop_config(), utcnow() + timedelta(days=2)) == 0
    reminder = await owner.wait_for(text=f"Order #{number} ($9.00, $0.00 of it verified) has waited too long")
    assert "the customer sent a receipt" in reminder["text"] and f"/order {number}" in reminder["text"]
    await staff_says(owner, f"/verify {payment_id}", "The order is paid")
    await ann.wait_for(text="We received your payment of $9.00")
    assert await order_state(shop, number) == ("paid", [(900, "verified")])
    async with shop.uow() as u:
        assert (await u.catalog.by_sku("TEA-1")).stock == 8  # still the customer's
    assert not [t for t in texts(await ann.bot_messages()) if "expired" in t]


async def test_status_buttons_and_order_view(shop: Shop) -> None:
    ann, number = await placed(shop)
    owner = shop.owner
    view = await staff_says(owner, f"/order {number}", f"Order #{number}")
    assert "Payments" in view["text"] and "Timeline" in view["text"] and "Olga" not in view["text"]
    await owner.press("🔄 Set status", message_id=view["message_id"])
    choices = await owner.wait_for(text="Move it to")
    assert button_labels(choices) == ["cancelled", "expired", "← Back"]  # paid: by payments only
    await owner.press("cancelled", message_id=choices["message_id"])
    await owner.wait_for(text="is now cancelled")
    await ann.wait_for(text="cancelled")
    view = await staff_says(owner, f"/order {number}", f"Order #{number}")
    assert "awaiting payment (Ann)" in view["text"]  # names, not "customer:1"
    assert "cancelled (Olga (@olga_owner))" in view["text"]
    async with shop.uow() as u:
        assert (await u.catalog.by_sku("TEA-1")).stock == 10  # the stock came back


async def test_the_buttons_of_alerts_and_the_queue_do_what_they_say(shop: Shop) -> None:
    """What staff press most: the new-order alert's buttons, the payment alert's Verify, an order in
    /queue and Back from the statuses; and a button naming an order that is not there."""
    owner = shop.owner
    clerk = await shop.started("Clerk")
    await staff_says(owner, f"/staff add {clerk.id}", "is now staff")
    team = await staff_says(owner, "/staff", "The team")
    assert (
        f"Clerk · {clerk.id} · staff" in team["text"]
        and f"Olga (@olga_owner) · {owner.id} · owner" in team["text"]
    )
    ann, number = await placed(shop)  # $9.00
    alert = await owner.wait_for(text=f"New order #{number}")
    await owner.press("💰 Record payment", message_id=alert["message_id"])
    how = await owner.wait_for(text=f"Record a payment for order #{number} (total $9.00)")
    assert f"/pay {number} AMOUNT METHOD REFERENCE" in how["text"]
    await owner.press("👤 Customer", message_id=alert["message_id"])
    who = await owner.wait_for(text="1 order · $9.00")
    assert "Ann" in who["text"]
    await owner.press("🔄 Set status", message_id=alert["message_id"])
    choices = await owner.wait_for(text="Move it to")
    await owner.press("← Back", message_id=choices["message_id"])
    view = await owner.wait_for(lambda m: m["message_id"] == choices["message_id"], text=f"Order #{number}")
    assert "Timeline" in view["text"] and "💰 Record payment" in button_labels(view)

    reply = await staff_says(clerk, f"/pay {number} 9 transfer REF-9", "waiting for verification")
    payment_id = int(reply["text"].split("#", 1)[1].split(":", 1)[0])
    to_verify = await owner.wait_for(text=f"/verify {payment_id}")
    await owner.press(f"✅ Verify #{payment_id}", message_id=to_verify["message_id"])
    await owner.wait_for(text="The order is paid")
    await ann.wait_for(text="We received your payment of $9.00")
    assert await order_state(shop, number) == ("paid", [(900, "verified")])

    queue = await staff_says(owner, "/queue", "need")
    mine = StaffCb(action=StaffAction.order, order=number).pack()
    await owner.press(mine, message_id=queue["message_id"])
    await owner.wait_for(lambda m: m["message_id"] == queue["message_id"], text=f"Order #{number}")
    for action in (StaffAction.order, StaffAction.pay, StaffAction.customer, StaffAction.statuses):
        forged = StaffCb(action=action, order=999).pack()  # data edited by hand: no such order
        await shop.bot.edit_message_reply_markup(
            chat_id=owner.id,
            message_id=queue["message_id"],
            reply_markup={"inline_keyboard": [[{"text": "forged", "callback_data": forged}]]},
        )
        answer = await owner.press(forged)
        assert answer["show_alert"] and "cannot find that order" in answer["text"], (action, answer)


async def test_reject_tells_the_customer_why(shop: Shop) -> None:
    owner = shop.owner
    clerk = await shop.started("Clerk")
    await staff_says(owner, f"/staff add {clerk.id}", "is now staff")
    ann, number = await placed(shop)
    reply = await staff_says(clerk, f"/pay {number} 9 transfer REF-9", "waiting for verification")
    payment_id = int(reply["text"].split("#", 1)[1].split(":", 1)[0])
    await staff_says(owner, f"/reject {payment_id} <not> in the bank & no match", "is rejected")
    note = await ann.wait_for(text="could not confirm your payment")
    assert "Reason: <not> in the bank & no match" in note["text"] and "send a new photo" in note["text"]
    await staff_says(owner, f"/verify {payment_id}", "already rejected; nothing changed")
    assert await order_state(shop, number) == ("pending_payment", [(900, "rejected")])


async def test_payments_list_shows_who_paid(shop: Shop) -> None:
    owner = shop.owner
    ann, number = await placed(shop)
    await staff_says(owner, f"/pay {number} 9 cash", "The order is paid")
    listing = await staff_says(owner, "/payments", "Recent payments")
    assert f"order #{number} · $9.00 · Cash" in listing["text"]
    assert f"👤 Ann · {ann.phone_number}" in listing["text"]
    await staff_says(owner, "/payments pending", "No payments to show")
    await staff_says(owner, "/payments everything", "Use: /payments")


async def test_queue_lists_what_needs_action(shop: Shop) -> None:
    owner = shop.owner
    await staff_says(owner, "/queue", "Nothing needs action")
    ann, number = await placed(shop)
    queue = await staff_says(owner, "/queue", "Orders that need action")  # unpaid orders are not invisible
    desk = await staff_says(owner, "/start", "You run this shop.")  # an owner's /start: what waits
    assert "1 order needs action: /queue" in desk["text"] and "0 payments to verify" in desk["text"]
    assert "awaiting payment" in queue["text"] and button_labels(queue)[0].startswith(f"#{number}")
    await ann.send_photo("receipt")
    await ann.wait_for(text="receipt is attached")
    queue = await staff_says(owner, "/queue", "Orders that need action")
    assert "receipt to check" in queue["text"] and button_labels(queue)[0].startswith(f"#{number}")


async def test_every_staff_command_is_refused_to_customers(shop: Shop) -> None:
    ann, number = await placed(shop)
    arguments = {
        "order": f"{number}",
        "pay": f"{number} 9 cash",
        "verify": "1",
        "reject": "1 no",
        "status": f"{number} cancelled",
        "pickup": "ABC",
        "staff": f"add {ann.id}",
        "payments": "pending",
    }
    for command in STAFF_COMMANDS:
        await staff_says(ann, f"/{command} {arguments.get(command, '')}".strip(), "for the shop's staff only")
    assert await order_state(shop, number) == ("pending_payment", [])
    async with shop.uow() as u:
        assert await u.staff.all() == []


async def test_every_staff_button_is_refused_to_customers(shop: Shop) -> None:
    ann, number = await placed(shop)
    for data in (
        f"st:o:{number}:0:",
        f"st:s:{number}:0:",
        f"st:t:{number}:0:cancelled",
        f"st:p:{number}:0:",
        f"st:v:{number}:1:",
        f"st:c:{number}:0:",
    ):
        await shop.bot.send_message(
            ann.id, "forged", reply_markup={"inline_keyboard": [[{"text": data, "callback_data": data}]]}
        )
        answer = await ann.press(data)
        assert answer["show_alert"] and "for the shop's staff only" in answer["text"], data
    assert await order_state(shop, number) == ("pending_payment", [])


@pytest.mark.staff_group
async def test_the_staff_group_gets_alerts_and_takes_commands(shop: Shop) -> None:
    owner = shop.owner
    group = shop.settings.staff_chat_id
    ann, number = await placed(shop)
    await owner.wait_for(text=f"New order #{number}", chat_id=group)  # through the outbox, a moment later
    await staff_says(owner, f"/order@sandbox_123456_bot {number}", f"Order #{number}", chat_id=group)
    stranger = await shop.customer("Stranger")
    await shop.client.request("POST", f"/sandbox/groups/{group}/members", {"user_id": stranger.id})
    await stranger.send(f"/pay {number} 9 cash", chat_id=group)
    await stranger.wait_for(text="for the shop's staff only", chat_id=group)
    assert await order_state(shop, number) == ("pending_payment", [])


async def test_record_payment_is_a_short_guided_step(shop: Shop) -> None:
    """The alert's Record payment offers what is due, one tap per way of paying."""
    owner = shop.owner
    assert owner is not None
    clerk = await shop.started("Clerk")
    await staff_says(owner, f"/staff add {clerk.id}", "is now staff")
    ann, number = await placed(shop)  # $9.00
    await staff_says(owner, f"/pay {number} 4 cash", "Verified so far: $4.00 of $9.00")
    view = await staff_says(clerk, f"/order {number}", f"Order #{number}")
    await clerk.press("💰 Record payment", message_id=view["message_id"])
    how = await clerk.wait_for(text="$5.00 is still due")
    assert button_labels(how)[:2] == ["Bank transfer · $5.00", "Cash · $5.00"]
    await clerk.press("Cash · $5.00", message_id=how["message_id"])
    await clerk.wait_for(
        lambda m: m["message_id"] == how["message_id"] and "waiting for verification" in m["text"]
    )
    assert await order_state(shop, number) == ("pending_payment", [(400, "verified"), (500, "pending")])
    await clerk.press("💰 Record payment", message_id=view["message_id"])
    await clerk.wait_for(text="Nothing is due")  # the clerk's $5.00 waits for the owner: not asked twice


async def test_cash_at_the_counter_goes_to_the_kitchen_and_is_collected_at_handover(shop: Shop) -> None:
    """ "Pay in cash when you get your order" and the flow agree: prepared without prepayment, the money
    taken at the counter with one tap, the order then paid and completed."""
    owner = shop.owner
    assert owner is not None
    ann = await shop.started()
    await fill_cart(ann, 1, 2)  # $9.00
    await checkout_to_summary(ann, delivery=False, notes=None, method="💵 Cash")
    await ann.press("✅ Place order")
    placed_text = (await ann.wait_for(text="is placed"))["text"]
    number = int(placed_text.split("#", 1)[1].split(" ", 1)[0])
    queue = await staff_says(owner, "/queue", "Orders that need action")
    assert f"#{number} · placed, pay when you get it · Cash" in queue["text"]  # not "awaiting payment"
    await staff_says(owner, f"/status {number} preparing", "is now being prepared")  # no prepayment
    await staff_says(owner, f"/status {number} refunded", "Allowed next: ready, cancelled")  # nothing paid
    await staff_says(owner, f"/status {number} preparing", f"Order #{number} is already being prepared.")
    queue = await staff_says(owner, "/queue", "Orders that need action")
    assert "being prepared · 💵 to collect · $9.00" in queue["text"]
    async with shop.uow() as u:
        # the digest's "still to collect at handover"
        assert await orders.still_to_collect(u) == 900
    await staff_says(owner, f"/status {number} ready", "is now ready")
    async with shop.uow() as u:
        code = (await u.orders.get(number)).pickup_code
    ask = await staff_says(owner, f"/pickup {code}", "$9.00 (Cash) is still to collect")
    assert await order_state(shop, number) == ("ready", [])  # not handed over unpaid
    await owner.press("💵 Received $9.00 (Cash), hand it over", message_id=ask["message_id"])
    await owner.wait_for(text=f"Order #{number} is now completed")
    assert await order_state(shop, number) == ("completed", [(900, "verified")])
    async with shop.uow() as u:
        assert (await u.orders.get(number)).paid_at is not None
    await ann.wait_for(text="We received your payment")
    _, transfer = await placed(shop, "Bob")  # by bank transfer: paid first, as before
    await staff_says(owner, f"/status {transfer} preparing", f"Order #{transfer} is not paid yet")


@pytest.mark.settings(paid_at_handover="cash,pos,mobile_money")
async def test_mobile_money_to_the_courier_where_the_shop_takes_it_at_the_door(shop: Shop) -> None:
    """PAID_AT_HANDOVER=...,mobile_money: a delivery paid by mobile money goes to the kitchen unpaid, and
    the courier's "delivered" asks for the money first."""
    owner = shop.owner
    assert owner is not None
    ann = await shop.started()
    await fill_cart(ann, 1, 2)  # $9.00 and $2.00 delivery
    await checkout_to_summary(ann, delivery=True, notes=None, method="📱 Mobile money")
    await ann.press("✅ Place order")
    placed_text = (await ann.wait_for(text="is placed"))["text"]
    assert "Please pay by mobile money when you get your order." in placed_text
    assert "receipt" not in placed_text and "confirmation" not in placed_text
    number = int(placed_text.split("#", 1)[1].split(" ", 1)[0])
    await staff_says(owner, f"/status {number} preparing", "is now being prepared")
    await staff_says(owner, f"/status {number} out_for_delivery", "is now out for delivery")
    ask = await staff_says(owner, f"/status {number} completed", "$11.00 (Mobile money) is still to collect")
    assert await order_state(shop, number) == ("out_for_delivery", [])
    collect = next(label for label in button_labels(ask) if label.startswith("📱 Received $11.00"))
    await owner.press(collect, message_id=ask["message_id"])
    await owner.wait_for(text=f"Order #{number} is now completed")
    assert await order_state(shop, number) == ("completed", [(1100, "verified")])


async def cash_order_at_handover(shop: Shop, staff: SimUser) -> tuple[SimUser, int, dict[str, Any]]:
    """Ann's $9.00 pickup order to pay in cash, made and ready, and ``staff``'s /pickup with her code:
    the question to take the money (its button) that follows."""
    ann = await shop.started()
    await fill_cart(ann, 1, 2)  # $9.00
    await checkout_to_summary(ann, delivery=False, notes=None, method="💵 Cash")
    await ann.press("✅ Place order")
    number = int((await ann.wait_for(text="is placed"))["text"].split("#", 1)[1].split(" ", 1)[0])
    for status in ("preparing", "ready"):
        await staff_says(staff, f"/status {number} {status}", f"Order #{number} is now")
    async with shop.uow() as u:
        code = (await u.orders.get(number)).pickup_code
    ask = await staff_says(staff, f"/pickup {code}", "$9.00 (Cash) is still to collect")
    return ann, number, ask


async def test_cash_an_employee_took_at_handover_is_verified_later_as_the_orders_money(shop: Shop) -> None:
    """The employee hands over and takes the cash; the owner verifies it after the order is completed.
    That money paid the order: it is not flagged to be given back, and the order becomes paid."""
    owner = shop.owner
    assert owner is not None
    clerk = await shop.started("Clerk")
    await staff_says(owner, f"/staff add {clerk.id}", f"Clerk · {clerk.id} is now staff.")  # a name
    ann, number, ask = await cash_order_at_handover(shop, clerk)
    await clerk.press("💵 Received $9.00 (Cash), hand it over", message_id=ask["message_id"])
    await clerk.wait_for(text=f"Order #{number} is now completed")
    assert await order_state(shop, number) == ("completed", [(900, "pending")])
    verify = await owner.wait_for(text="waits for an owner")
    payment_id = int(verify["text"].split("#", 1)[1].split(" ", 1)[0])
    verified = await staff_says(owner, f"/verify {payment_id}", "verified")
    assert "given back" not in verified["text"] and "The order is paid" in verified["text"]
    assert await order_state(shop, number) == ("completed", [(900, "verified")])
    async with shop.uow() as u:
        assert (await u.orders.get(number)).paid_at is not None
    await ann.wait_for(text=f"We received your payment of $9.00 for order #{number}. Thank you!")
    assert not [t for t in texts(await ann.bot_messages()) if "will be prepared" in t]  # it was handed over
    await clerk.wait_for(text="you recorded for order")
    assert not [t for t in texts(await owner.bot_messages()) if "Give the money back" in t]
    assert not [t for t in texts(await ann.bot_messages()) if "back" in t.lower() and "money" in t.lower()]
    await staff_says(owner, f"/pay {number} 1 cash", "it takes no payments")  # paid in full, closed


@pytest.mark.settings(paid_at_handover="")
async def test_a_shop_that_takes_cash_first_says_so_and_waits_for_it(shop: Shop) -> None:
    """PAID_AT_HANDOVER empty: cash is taken before the order is made, and the customer is told so."""
    owner = shop.owner
    assert owner is not None
    ann = await shop.started()
    await fill_cart(ann, 1, 1)
    await checkout_to_summary(ann, delivery=False, notes=None, method="💵 Cash")
    await ann.press("✅ Place order")
    placed_text = (await ann.wait_for(text="is placed"))["text"]
    assert "Please pay at the shop; we make your order once it is paid." in placed_text
    assert "when you get your order" not in placed_text
    number = int(placed_text.split("#", 1)[1].split(" ", 1)[0])
    await staff_says(owner, f"/status {number} preparing", f"Order #{number} is not paid yet")


async def test_a_stale_one_tap_payment_button_records_nothing_twice(shop: Shop) -> None:
    """A "Received" button made before someone recorded the money, or a Record payment button whose
    amount is no longer what is due, records nothing: the money is not counted twice."""
    owner = shop.owner
    assert owner is not None
    ann, number, ask = await cash_order_at_handover(shop, owner)
    await staff_says(owner, f"/pay {number} 9 cash", "The order is paid")  # meanwhile, by hand
    await owner.press("💵 Received $9.00 (Cash), hand it over", message_id=ask["message_id"])
    await owner.wait_for(text=f"Order #{number} is now completed")  # handed over, nothing more recorded
    assert await order_state(shop, number) == ("completed", [(900, "verified")])

    bob, transfer = await placed(shop, "Bob")  # $9.00 by bank transfer
    view = await staff_says(owner, f"/order {transfer}", f"Order #{transfer}")
    await owner.press("💰 Record payment", message_id=view["message_id"])
    guided = await owner.wait_for(text="still due")
    await staff_says(owner, f"/pay {transfer} 4 transfer", "Verified so far: $4.00 of $9.00")
    refused = await owner.press("Bank transfer · $9.00", message_id=guided["message_id"], wait=10)
    assert f"Nothing recorded: $5.00 is due on order #{transfer} now, not $9.00." in refused["text"]
    assert await order_state(shop, transfer) == ("pending_payment", [(400, "verified")])


async def test_an_order_cancelled_with_money_on_it_says_the_money_goes_back(shop: Shop) -> None:
    """A deposit on an order paid at handover, then the order is cancelled: the owner hears the money is
    to be given back, and the customer that it will be; nothing is silently kept."""
    owner = shop.owner
    assert owner is not None
    ann = await shop.started()
    await fill_cart(ann, 1, 2)  # $9.00
    await checkout_to_summary(ann, delivery=False, notes=None, method="💵 Cash")
    await ann.press("✅ Place order")
    number = int((await ann.wait_for(text="is placed"))["text"].split("#", 1)[1].split(" ", 1)[0])
    await staff_says(owner, f"/status {number} preparing", "is now being prepared")
    await staff_says(owner, f"/pay {number} 1 cash", "Verified so far: $1.00 of $9.00")
    await staff_says(owner, f"/status {number} cancelled", "is now cancelled")
    await owner.wait_for(text=f"Order #{number} is cancelled with $1.00 paid on it: give the money back")
    await ann.wait_for(text=f"The $1.00 you paid for order #{number} will be given back to you")
