"""Nasty text at every conversation step and every staff command: always a friendly answer that Telegram
would accept (the fixture fails on any refused Bot API call), never the "something went wrong" apology."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from handlers.staff.access import STAFF_COMMANDS
from sandbox.client import SimUser
from tests.handlers.conftest import Shop
from tests.handlers.test_checkout_orders import fill_cart

NASTY = [
    "<b>bold</b> & <script>alert(1)</script>",
    "' OR 1=1; DROP TABLE orders; --",
    "\u202eevil right-to-left\u202c and \u200bzero\u200bwidth\u200d",
    "مرحبا بالعالم — שלום",
    "🍰" * 700,
    "x" * 5000,
    "%_\\ %s %(name)s {{ 7*7 }} {% raw %}",
    "-1",
    "99999999999999999999999",
    "#12 @user /start",
]
APOLOGY = "something went wrong"
DIGEST = "Good morning! Yesterday"


async def answered_kindly(user: SimUser, text: str, chat_id: int | None = None) -> dict[str, Any]:
    await user.send(text, chat_id=chat_id)
    # The staff's morning digest goes out by itself within seconds of the bot starting: not a reply.
    reply = await user.wait_for(lambda m: DIGEST not in (m.get("text") or ""), timeout=15, chat_id=chat_id)
    body = reply.get("text") or reply.get("caption") or ""
    assert APOLOGY not in body, (text[:60], body)
    return reply


# Entities Telegram finds in plain text by itself; anything else in a reply would be markup.
DETECTED = {"bot_command", "mention", "hashtag", "cashtag", "url", "email", "phone_number"}


@pytest.mark.throttle(burst=500, per_second=500)
async def test_nasty_text_at_every_checkout_step(shop: Shop) -> None:
    """Each step gets every text; a text a step accepts moves the checkout on and the rest land on the
    next step, so every step sees nasty input."""
    await shop.client.set_limits(private_per_second=1000, private_burst=1000)  # faster than people
    ann = await shop.started("Ann")
    await fill_cart(ann, 1, 1)
    await ann.send("/checkout")
    await ann.wait_for(text="How would you like")
    for text in NASTY:  # text where a button is expected
        await answered_kindly(ann, text)
    await ann.press("🚚 Delivery")
    await ann.wait_for(text="Where should we deliver")
    for text in NASTY:  # the address step, then the phone step
        await answered_kindly(ann, text)
    await ann.press_reply("📱 Share my phone number")
    await ann.wait_for(text="Anything we should know")
    for text in NASTY:  # the notes step, then the payment step (a button expected)
        await answered_kindly(ann, text)
    await ann.press("🏦 Bank transfer")
    summary = await ann.wait_for(text="Is everything right")
    for text in NASTY:  # the summary (a button expected)
        await answered_kindly(ann, text)
    await ann.press("✅ Place order", message_id=summary["message_id"])
    placed = await ann.wait_for(text="is placed")
    assert "<script>" not in placed["text"] or "&lt;" not in placed["text"]  # shown as typed, not markup


@pytest.mark.throttle(burst=500, per_second=500)
async def test_nasty_text_in_search_quantity_and_profile(shop: Shop) -> None:
    await shop.client.set_limits(private_per_second=1000, private_burst=1000)
    ann = await shop.started("Ann")
    for text in NASTY:
        await answered_kindly(ann, f"/search {text}")
        await answered_kindly(ann, text)  # outside any conversation
    await ann.send("/start p_1")
    await ann.wait_for(text="Green tea")
    await ann.press("1")  # type a quantity
    await ann.wait_for(text="How many")
    for text in NASTY:
        await answered_kindly(ann, text)
        await ann.send("/start p_1")
        await ann.wait_for(text="Green tea")
        await ann.press("1")
        await ann.wait_for(text="How many")


@pytest.mark.throttle(burst=500, per_second=500)
async def test_nasty_arguments_to_every_staff_command(shop: Shop) -> None:
    await shop.client.set_limits(private_per_second=1000, private_burst=1000)
    owner = shop.owner
    for command in [*STAFF_COMMANDS, "points"]:
        for text in NASTY[:6]:
            await answered_kindly(owner, f"/{command} {text}")
        if command in {"product", "broadcast"}:  # these start a conversation: nasty answers, then leave
            for text in NASTY[:6]:
                await answered_kindly(owner, text)
            await owner.send("/cancel")
            await owner.wait_for(timeout=15)


# Generated text on top of the corpus: markup characters, invisible and right-to-left marks, emoji and
# any other printable character, short or up to the 4096 a Telegram message holds.
MARKS = "<>&\"'/\\{}%#@*_`[]()~|\u200b\u200d\u202e\u202c\ufeff"
GENERATED = st.one_of(
    st.text(
        st.one_of(st.sampled_from(MARKS), st.characters(codec="utf-8", exclude_categories=("Cs", "Cc"))),
        min_size=1,
        max_size=200,
    ),
    st.tuples(st.sampled_from(["&<", "🍰", "\u202e", "ع"]), st.integers(1000, 2000)).map(
        lambda p: p[0] * p[1]
    ),
).filter(lambda text: text.strip() and len(text.encode("utf-16-le")) // 2 <= 4000)


@pytest.mark.throttle(burst=5000, per_second=5000)
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), database=None)
@given(text=GENERATED)
async def test_generated_text_in_search_notes_and_outside_conversations(shop: Shop, text: str) -> None:
    """One shop for all examples (hypothesis runs them inside the one test)."""
    await shop.client.set_limits(private_per_second=10_000, private_burst=10_000)
    ann = await shop.started("Ann")
    owner = shop.owner
    assert owner is not None
    await answered_kindly(ann, text)  # outside any conversation
    await answered_kindly(ann, f"/search {text}")
    async with shop.uow() as u:
        customer = await u.customers.by_telegram_id(ann.id)
    assert customer is not None
    saved = await answered_kindly(owner, f"/note {customer.id} {text}")
    if len(text) <= 150 and " ".join(text.split()) == text:  # echoed whole: it must read as typed
        assert text in saved["text"], (text, saved["text"])
        assert {e["type"] for e in saved.get("entities", [])} <= DETECTED, saved
