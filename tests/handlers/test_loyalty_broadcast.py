"""Through the sandbox: /points for customers and staff, points at checkout, cart reminders preference,
and /broadcast from compose to the final summary."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import update

from sandbox.client import SimUser
from shop import broadcast
from storage.models import OutboxMessage, utcnow
from storage.uow import UnitOfWork
from tests.handlers.conftest import Shop, button_labels
from tests.handlers.test_checkout_orders import checkout_to_summary, fill_cart
from tests.handlers.test_staff import staff_says


async def customer_id(shop: Shop, user: SimUser) -> int:
    async with shop.uow() as u:
        return (await u.customers.by_telegram_id(user.id)).id


async def test_staff_give_points_and_the_customer_spends_them_at_checkout(shop: Shop) -> None:
    ann = await shop.started("Ann")
    cid = await customer_id(shop, ann)
    owner = shop.owner
    await staff_says(owner, f"/points {cid} +40 welcome <gift> & more", "+40 points for Ann")
    notice = await ann.wait_for(text="changed your points by +40")
    assert "welcome <gift> & more" in notice["text"]  # escaped on the way, shown as typed
    await ann.send("/points")
    view = await ann.wait_for(text="Your points: 40")
    assert "worth $4.00" in view["text"] and "Bronze" in view["text"]

    await fill_cart(ann, 1, 2)  # 2 × $4.50 = $9.00; points may pay 50%: 40 points = $4.00
    summary = await checkout_to_summary(ann, delivery=False, notes=None)
    assert "You can pay $4.00 of this order with 40 points" in summary["text"]
    assert "⭐ Use 40 points" in button_labels(summary)
    await ann.press("⭐ Use 40 points")
    using = await ann.wait_for(text="Points (40)")
    assert "Total: $5.00" in using["text"] and "✖ Don't use points" in button_labels(using)
    await ann.press("✖ Don't use points")
    await ann.wait_for(lambda m: "Total: $9.00" in m.get("text", "") and "Use 40 points" in str(m))
    await ann.press("⭐ Use 40 points")
    await ann.wait_for(text="Points (40)")
    await ann.press("✅ Place order")
    placed = await ann.wait_for(text="is placed")
    assert "Total: $5.00" in placed["text"]
    await ann.send("/points")
    after = await ann.wait_for(text="Your points: 0")
    assert "-40 · used" in after["text"]


async def test_points_commands_refuse_bad_input_and_non_staff(shop: Shop) -> None:
    ann = await shop.started("Ann")
    cid = await customer_id(shop, ann)
    owner = shop.owner
    await staff_says(owner, "/points abc", "Use: /points ID")
    await staff_says(owner, "/points 99999 +5", "99999")
    await staff_says(owner, f"/points {cid} -5 oops", "cannot take it below zero")
    await staff_says(owner, f"/points {cid} +20000", "whole number from 1 to 10000")
    await staff_says(owner, f"/points {cid} +0", "whole number from 1")
    await staff_says(owner, f"/points {cid}", "Adjust: /points")
    await ann.send(f"/points {cid} +500 free")
    await ann.wait_for(text="for the shop's staff only")
    async with shop.uow() as u:
        assert await u.loyalty.entries(cid) == []


@pytest.mark.staff_group
async def test_only_owners_adjust_points_and_the_ledger_names_the_person(shop: Shop) -> None:
    """An employee could have given themselves a million points; in the staff group the ledger named
    the group (its chat id) as the actor."""
    ann = await shop.started("Ann")
    cid = await customer_id(shop, ann)
    owner, group = shop.owner, shop.settings.staff_chat_id
    await staff_says(owner, f"/points {cid} +5 thanks", "+5 points for Ann", chat_id=group)
    clerk = await shop.started("Clerk")
    await staff_says(owner, f"/staff add {clerk.id}", "is now staff")
    await staff_says(clerk, f"/points {cid} +500 for me", "Only an owner can change a customer's points.")
    view = await staff_says(clerk, f"/points {cid}", "5 points")  # employees still see them
    assert "Adjust:" not in view["text"]
    async with shop.uow() as u:
        [entry] = await u.loyalty.entries(cid)
    assert (entry.points, entry.actor) == (5, f"staff:{owner.id}")


async def place(user: SimUser, product_id: int, quantity: int, *, points: int = 0) -> int:
    """A pickup order by bank transfer, paid partly with ``points`` if given; its number."""
    await fill_cart(user, product_id, quantity)
    await checkout_to_summary(user, delivery=False, notes=None)
    if points:
        await user.press(f"⭐ Use {points} points")
        await user.wait_for(text=f"Points ({points})")
    await user.press("✅ Place order")
    placed = await user.wait_for(text="is placed")
    return int(placed["text"].split("#", 1)[1].split()[0])


async def test_a_refund_after_the_points_were_spent_reads_honestly(shop: Shop) -> None:
    """Points earned on A, used on B, A refunded: all of them are taken back (a balance below zero,
    explained); B cancelled: the points it used come back, and the balance is where it began."""
    ann = await shop.started("Ann")
    owner = shop.owner
    a = await place(ann, 1, 10)  # 10 × $4.50: 4 points
    await staff_says(owner, f"/pay {a} 45 cash", "The order is paid")
    await ann.wait_for(text=f"You earned 4 points with order #{a}. Your balance: 4 points.")
    b = await place(ann, 3, 2, points=4)
    await staff_says(owner, f"/status {a} refunded", "refunded")
    taken = await ann.wait_for(text=f"The 4 points order #{a} earned are taken back.")
    assert "Your balance: -4 points.\nYour next points make this up first." in taken["text"]
    await ann.send("/points")
    view = await ann.wait_for(text="Your points: -4")
    assert "worth" not in view["text"] and "taken back, even when already used" in view["text"]
    assert f"-4 · taken back · #{a}" in view["text"]
    await staff_says(owner, f"/status {b} cancelled", "cancelled")
    back = await ann.wait_for(text=f"The 4 points you used on order #{b} are back.")
    assert "Your balance: 0 points." in back["text"] and "make this up" not in back["text"]


async def test_cart_reminders_can_be_turned_off_in_the_profile(shop: Shop) -> None:
    ann = await shop.started("Ann")
    await ann.send("/profile")
    profile = await ann.wait_for(text="Cart reminders: yes")
    assert "☑ Cart reminders" in button_labels(profile)
    await ann.press("☑ Cart reminders")
    await ann.wait_for(text="Cart reminders: no")
    async with shop.uow() as u:
        assert (await u.customers.by_telegram_id(ann.id)).cart_reminders is False


async def opt_in(user: SimUser) -> None:
    await user.send("/profile")
    await user.wait_for(text="News and offers: no")
    await user.press("☐ News and offers")
    await user.wait_for(text="News and offers: yes")


@pytest.mark.allow_bot_errors  # Bob's 403 is the point
async def test_a_broadcast_reaches_opted_in_customers_and_reports_progress(shop: Shop) -> None:
    ann, bob, cat, dan = [await shop.started(n) for n in ("Ann", "Bob", "Cat", "Dan")]
    for user in (ann, bob, dan):
        await opt_in(user)
    await bob.block()  # Telegram will refuse: counted as unreachable
    async with shop.uow() as u:  # Dan is known to be unreachable: skipped from the start
        await u.begin_write()
        (await u.customers.by_telegram_id(dan.id)).blocked_at = utcnow()
        await u.commit()
    owner = shop.owner
    await staff_says(owner, "/broadcast", "Send the message for your customers")
    await owner.send("x" * 4001)  # too long: told why, still composing
    await owner.wait_for(text="at most 4000 characters")
    await owner.press_reply("🛒 Cart")  # a tap on the menu is not the news: the cart, still composing
    await owner.wait_for(text="Your cart is empty")
    await owner.send("Fresh <scones> & jam today 🍰")
    preview = await owner.wait_for(text="Fresh <scones> & jam today 🍰")
    assert preview["text"] == "Fresh <scones> & jam today 🍰"
    audiences = await owner.wait_for(text="Who should get it?")
    labels = button_labels(audiences)
    assert "everyone opted in" in labels and "VIP" in labels and "🥇 Gold" in labels
    answer = await owner.press("VIP")
    assert answer["show_alert"] and "Nobody is in this audience" in answer["text"]
    await owner.press("everyone opted in")
    confirm = await owner.wait_for(text="Send it to 2 customers")
    await owner.press("📣 Send", message_id=confirm["message_id"])
    done = await owner.wait_for(text="is done", timeout=20)
    assert done["message_id"] == confirm["message_id"]  # one message, edited as it went
    assert "sent: 1 · ⚠ failed: 0 · 🚫 unreachable: 1\nof 2 customers" in done["text"]
    got = [m["text"] for m in await ann.bot_messages() if "scones" in (m.get("text") or "")]
    assert got == ["Fresh <scones> & jam today 🍰"]
    for user in (cat, dan):
        assert not [m for m in await user.bot_messages() if "scones" in (m.get("text") or "")]
    async with shop.uow() as u:
        counts = await u.broadcasts.counts(1)
    assert counts == {"sent": 1, "unreachable": 1}


async def test_a_broadcast_with_a_photo_and_a_customer_cannot_start_one(shop: Shop) -> None:
    ann = await shop.started("Ann")
    await opt_in(ann)
    owner = shop.owner
    await staff_says(owner, "/broadcast", "Send the message")
    await owner.send_photo("New menu & prices")
    await owner.wait_for(lambda m: "photo" in m and m.get("caption") == "New menu & prices")
    await owner.wait_for(text="Who should get it?")
    await owner.press("everyone opted in")
    await owner.wait_for(text="Send it to 1 customer (")
    await owner.press("📣 Send")
    await owner.wait_for(text="is done", timeout=20)
    photo: Any = await ann.wait_for(lambda m: "photo" in m and "New menu" in m.get("caption", ""))
    assert photo["caption"] == "New menu & prices"
    await ann.send("/broadcast")
    await ann.wait_for(text="for the shop's staff only")


def span(text: str, part: str) -> dict[str, int]:
    """Where ``part`` is in ``text``, in Telegram's UTF-16 units."""
    start = text.index(part)
    return {
        "offset": len(text[:start].encode("utf-16-le")) // 2,
        "length": len(part.encode("utf-16-le")) // 2,
    }


def formatting(message: dict[str, Any]) -> list[tuple[str, str, str | None]]:
    """(type, the text it covers, url) of each entity of a message."""
    text = (message.get("text") or message.get("caption") or "").encode("utf-16-le")
    return [
        (e["type"], text[2 * e["offset"] : 2 * (e["offset"] + e["length"])].decode("utf-16-le"), e.get("url"))
        for e in message.get("entities") or message.get("caption_entities") or []
    ]


async def test_a_broadcast_keeps_the_formatting_staff_gave_it(shop: Shop) -> None:
    ann = await shop.started("Ann")
    await opt_in(ann)
    owner = shop.owner
    await staff_says(owner, "/broadcast", "Send the message")
    text = "🍰 Weekend sale: 20% off <all> cakes & tea — see the menu ✨"
    await owner.send(
        text,
        entities=[
            {"type": "bold", **span(text, "Weekend sale")},
            {"type": "italic", **span(text, "cakes & tea")},
            {"type": "text_link", **span(text, "the menu"), "url": "https://example.com/menu?a=1&b=2"},
            {"type": "custom_emoji", **span(text, "✨"), "custom_emoji_id": "5368324170671202286"},
        ],
    )
    expected = [
        ("bold", "Weekend sale", None),
        ("italic", "cakes & tea", None),
        ("text_link", "the menu", "https://example.com/menu?a=1&b=2"),
    ]  # a custom emoji stays the plain emoji: only some bots may send those
    preview = await owner.wait_for(text="Weekend sale")
    assert preview["text"] == text and formatting(preview) == expected
    await owner.wait_for(text="Who should get it?")
    await owner.press("everyone opted in")
    await owner.wait_for(text="Send it to 1 customer (")
    await owner.press("📣 Send")
    await owner.wait_for(text="is done", timeout=20)
    got = await ann.wait_for(text="Weekend sale")
    assert got["text"] == text and formatting(got) == expected

    await staff_says(owner, "/broadcast", "Send the message")  # and a photo's caption
    await owner.send_photo(
        "New <menu>", caption_entities=[{"type": "underline", **span("New <menu>", "<menu>")}]
    )
    await owner.wait_for(text="Who should get it?")
    await owner.press("everyone opted in")
    await owner.wait_for(text="Send it to 1 customer (")
    await owner.press("📣 Send")
    photo = await ann.wait_for(lambda m: "photo" in m and "New" in m.get("caption", ""))
    assert photo["caption"] == "New <menu>" and formatting(photo) == [("underline", "<menu>", None)]


async def test_a_send_button_left_after_cancel_sends_nothing(shop: Shop) -> None:
    ann = await shop.started("Ann")
    await opt_in(ann)
    owner = shop.owner
    await staff_says(owner, "/broadcast", "Send the message")
    await owner.send("Closed today")
    await owner.wait_for(text="Who should get it?")
    await owner.press("everyone opted in")
    await owner.wait_for(text="Send it to 1 customer (")
    await owner.send("/cancel")
    await owner.wait_for(text="nothing is in progress now")
    answer = await owner.press("📣 Send")
    assert answer["show_alert"] and "already sent or cancelled" in answer["text"]
    async with shop.uow() as u:
        assert await u.broadcasts.get(1) is None


async def test_broadcast_progress_is_written_only_when_it_changed(
    shop: Shop, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The reporter runs every two seconds for each unfinished broadcast: a writer's transaction each time
    would queue behind every update's, for nothing."""
    ann = await shop.started("Ann")
    await opt_in(ann)
    clock = shop.dp["clock"]  # only this test reports, and nothing sends
    clock.scheduler.pause()
    await asyncio.sleep(0)
    if clock.running:
        await asyncio.wait(set(clock.running))
    async with shop.uow() as u:
        item = await broadcast.start(
            u,
            text="Scones at four",
            photo=None,
            audience="all",
            staff_id=shop.owner.id,
            chat_id=shop.owner.id,
            message_id=None,
            config=shop.dp["config"],
        )
        await u.begin_write()  # the message waits for tomorrow: the broadcast stays unfinished
        await u.session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.broadcast_id == item.id)
            .values(due_at=utcnow() + timedelta(days=1))
        )
        await u.commit()
    reporter = shop.dp["broadcasts"]
    writers = 0
    begin_write = UnitOfWork.begin_write

    async def counted(uow: UnitOfWork) -> bool:
        nonlocal writers
        writers += 1
        return await begin_write(uow)

    monkeypatch.setattr(UnitOfWork, "begin_write", counted)
    assert await reporter.report() == 1  # the progress message, sent and recorded
    assert writers == 1
    assert await reporter.report() == 0
    assert writers == 1  # unchanged: no writer's transaction (on SQLite, the one writer's lock)
    shown = await shop.owner.wait_for(text=f"Broadcast #{item.id} is being sent")
    assert "waiting: 1" in shown["text"]
