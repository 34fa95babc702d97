"""The customer's journey through the real dispatcher and the sandbox: what they saw, what was stored."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import select

from storage.models import Customer, Order
from tests.handlers.conftest import Shop, button_labels, texts


async def test_start_greets_by_escaped_name_and_registers(shop: Shop) -> None:
    ann = await shop.customer("Ann <b>&</b> 😀", username="ann_x")
    await ann.send("/start")
    greeting = await ann.wait_for(text="Hello")
    assert greeting["text"].startswith("👋 Hello, Ann <b>&</b> 😀!")
    assert "Test & <Shop>" in greeting["text"]
    keyboard = await ann.reply_keyboard()
    assert [b["text"] for row in keyboard["keyboard"] for b in row] == [
        "🛍 Catalog",
        "🛒 Cart",
        "📦 My orders",
        "❓ Help",
    ]
    async with shop.uow() as u:
        customer = await u.customers.by_telegram_id(ann.id)
    assert (customer.first_name, customer.username, customer.telegram_language) == (
        "Ann <b>&</b> 😀",
        "ann_x",
        "en",
    )


async def test_catalog_pages_edit_in_place(shop: Shop) -> None:
    ann = await shop.started()
    await ann.press_reply("🛍 Catalog")
    categories = await ann.wait_for(text="Pick a category")
    # in the catalog file's order, the shop's menu
    assert button_labels(categories) == ["⭐ Featured", "Tea (7)", "Cakes (1)", "🔎 Search", "🛒 Cart"]
    await ann.press("Tea (7)")
    page1 = await ann.wait_for(text="page 1 of 2")
    assert page1["message_id"] == categories["message_id"]  # edited, not a new message
    assert button_labels(page1)[:2] == ["Green tea · $4.50", "Black tea · $3.50 · sold out"]
    before = len(await ann.messages())
    await ann.press("Next ›")
    page2 = await ann.wait_for(text="page 2 of 2")
    assert page2["message_id"] == page1["message_id"] and len(await ann.messages()) == before
    await ann.press("‹ Previous")
    await ann.wait_for(text="page 1 of 2")


async def test_filters(shop: Shop) -> None:
    ann = await shop.started()
    await ann.send("/catalog")
    await ann.wait_for(text="Pick a category")
    await ann.press("Tea (7)")
    await ann.wait_for(text="7 products")
    await ann.press("⚙ Filters")
    await ann.wait_for(lambda m: "Herbal" in button_labels(m))
    await ann.press("Herbal")
    herbal = await ann.wait_for(text="2 products")
    assert "⚙ Herbal" in herbal["text"]
    assert button_labels(herbal)[:2] == ["Mint tea · $2.50", "Rooibos · $2.60"]
    await ann.press("● Herbal")  # pressing the chosen brand again turns the filter off
    await ann.wait_for(text="7 products")
    await ann.press("☐ In stock only")
    in_stock = await ann.wait_for(text="6 products")
    assert "sold out" not in " ".join(button_labels(in_stock))
    await ann.press("☑ In stock only")
    unfiltered = await ann.wait_for(text="7 products")
    bands = [label for label in button_labels(unfiltered) if "–$" in label]
    assert bands == ["$2.00–$3.00", "$3.00–$4.00", "$4.00–$5.00", "$6.00–$7.00"]  # round, apart, none empty
    await ann.press("$2.00–$3.00")
    cheap = await ann.wait_for(text="3 products")
    assert [label for label in button_labels(cheap) if "·" in label] == [
        "Mint tea · $2.50",
        "Earl Grey · $2.70",
        "Rooibos · $2.60",
    ]
    await ann.press("$3.00–$4.00")  # $3.00 is in this one only
    await ann.wait_for(text="2 products")


async def test_product_card_and_quantity(shop: Shop) -> None:
    ann = await shop.started()
    await ann.send("/catalog")
    await ann.wait_for(text="Pick a category")
    await ann.press("⭐ Featured")
    await ann.wait_for(text="Featured")
    await ann.press("Green tea · $4.50")
    card = await ann.wait_for(lambda m: "photo" in m)
    assert card["caption"].startswith("Green tea · Leafy\nSencha <fresh> & green")
    assert "$4.50" in card["caption"]
    await ann.press("+")
    await ann.wait_for(lambda m: "🛒 Add 2 to cart" in button_labels(m))
    answer = await ann.press("🛒 Add 2 to cart")
    assert "Added 2 × Green tea" in answer["text"]
    async with shop.uow() as u:
        cart = await u.carts.cart((await u.customers.by_telegram_id(ann.id)).id)
    assert [(i.product.sku, i.quantity) for i in cart.items] == [("TEA-1", 2)]
    # The second card shows the photo Telegram already has: uploaded once.
    await ann.send("/start p_" + str(cart.items[0].product_id))
    again = await ann.wait_for(lambda m: "photo" in m)
    assert again["photo"][0]["file_id"] == card["photo"][0]["file_id"]


async def test_typed_quantity_bad_input(shop: Shop) -> None:
    ann = await shop.started()
    await ann.send("/start p_1")
    await ann.wait_for(lambda m: "photo" in m)
    await ann.press("1")  # the quantity in the middle: type another one
    await ann.wait_for(text="How many")
    for bad in ("abc", "0", "-1", "1000000", "2.5", "٣", "<b>5</b>"):
        await ann.send(bad)
        reply = await ann.wait_for(text="whole number")
        assert "from 1 to 99" in reply["text"]
    await ann.send("11")
    out_of_stock = await ann.wait_for(text="not have enough")
    assert "you wanted 11, 10 left" in out_of_stock["text"]
    await ann.send("3")
    await ann.wait_for(text="Added 3 × Green tea")
    async with shop.uow() as u:
        cart = await u.carts.cart((await u.customers.by_telegram_id(ann.id)).id)
    assert [i.quantity for i in cart.items] == [3]
    # A command instead of a number ends the question and does what it says.
    await ann.press("1")
    await ann.wait_for(text="How many")
    await ann.send("/cart")
    await ann.wait_for(text="Your cart")
    await ann.send("4")  # no longer an answer
    await ann.wait_for(text="I did not understand that")
    await ann.press("1")
    await ann.wait_for(text="How many")
    await ann.press_reply("🛒 Cart")  # so is a tap on the menu
    await ann.wait_for(text="Your cart")


async def test_search_and_inline_mode(shop: Shop) -> None:
    ann = await shop.started()
    await ann.send("/search TEA")
    results = await ann.wait_for(text="Results for “TEA”")
    assert (
        "7 products" in results["text"] and len(button_labels(results)) == 6 + 1
    )  # SKUs match too; a page + Next
    await ann.send("/search <script>")
    await ann.wait_for(text="Nothing found")
    answer = await ann.inline("mint")
    assert [r["title"] for r in answer["results"]] == ["Mint tea"]
    button = answer["results"][0]["reply_markup"]["inline_keyboard"][0][0]
    assert button["url"].endswith("?start=p_3")


async def test_the_search_button_asks_and_the_next_text_is_the_search(shop: Shop) -> None:
    ann = await shop.started()
    await ann.press_reply("🛍 Catalog")
    catalog = await ann.wait_for(text="Catalog")
    await ann.press("🔎 Search", message_id=catalog["message_id"])
    await ann.wait_for(text="What are you looking for?")
    await ann.send("  mint  ")
    await ann.wait_for(text="Results for “mint”")
    await ann.send("mint")  # the question was answered: a word now is not a search
    await ann.wait_for(text="I did not understand")
    await ann.send("/search")
    await ann.wait_for(text="What are you looking for?")
    await ann.send("zzzz")
    await ann.wait_for(text="Nothing found. Send another word")
    await ann.send("Chai")  # after nothing found, the next word is tried
    chai = await ann.wait_for(text="Results for “Chai”")
    assert "1 product" in chai["text"]
    await ann.send("/search")
    await ann.wait_for(text="What are you looking for?")
    await ann.press_reply("🛒 Cart")  # a menu tap ends the question and does what it says
    await ann.wait_for(text="Your cart is empty")


async def test_search_pages_the_card_closes_and_missing_things_are_explained(shop: Shop) -> None:
    ann = await shop.started()
    await ann.send("/search")
    await ann.wait_for(text="What are you looking for?")
    await ann.send("/search tea")
    results = await ann.wait_for(text="7 products")
    await ann.press("Next ›", message_id=results["message_id"])
    second = await ann.wait_for(
        lambda m: m["message_id"] == results["message_id"] and "‹ Previous" in button_labels(m)
    )
    assert len(button_labels(second)) == 1 + 1  # the seventh product, and the way back
    await ann.send("/start p_999")  # a link to a product that is not there (or withdrawn: CAKE-2)
    await ann.wait_for(text="no longer available")
    async with shop.uow() as u:
        await u.begin_write()
        hidden = await u.catalog.by_sku("CAKE-2")
        (await u.catalog.by_sku("TEA-3")).photo = "gone.png"  # its file is missing: the card is text
        await u.commit()
    await ann.send(f"/start p_{hidden.id}")
    await ann.wait_for(text="no longer available")
    await ann.send("/start p_3")
    card = await ann.wait_for(text="Mint tea")
    assert "photo" not in card
    await ann.press("✖ Close", message_id=card["message_id"])
    for _ in range(50):
        if all(m["message_id"] != card["message_id"] for m in await ann.messages()):
            break
        await asyncio.sleep(0.1)
    else:
        raise AssertionError("the card was not closed")


async def test_a_photo_named_in_the_database_is_checked_again_before_it_is_sent(
    shop: Shop, tmp_path: Path
) -> None:
    """Rows written before photos were checked (or changed in the database since) never send a file from
    outside the media folder, or one that is not an image: the card goes as text. Telegram's copy of a
    photo whose path no longer passes is not sent either."""
    Image.new("RGB", (8, 8)).save(tmp_path.parent / "secret.png")  # an image outside MEDIA_DIR
    (tmp_path / "link.png").symlink_to(tmp_path.parent / "secret.png")
    (tmp_path / "notes.png").write_text("root:x:0:0:root:/root:/bin/bash")
    ann = await shop.started()
    await ann.send("/start p_1")
    assert "photo" in await ann.wait_for(text="Green tea")  # tea.png, inside: uploaded, its copy kept
    bad = {2: "/etc/hostname", 3: "../secret.png", 4: "link.png", 5: "notes.png", 1: "../secret.png"}
    names = {1: "Green tea", 2: "Black tea", 3: "Mint tea", 4: "Earl Grey", 5: "Chai"}
    async with shop.uow() as u:
        await u.begin_write()
        for product_id, photo in bad.items():
            (await u.catalog.product(product_id)).photo = photo
        await u.commit()
        assert (await u.catalog.product(1)).photo_file_id is not None
    for product_id in bad:
        await ann.send(f"/start p_{product_id}")
        assert "photo" not in await ann.wait_for(text=names[product_id]), product_id
    assert len(await shop.client.calls("sendPhoto")) == 1  # Green tea's, before its path went bad


async def test_cart_buttons(shop: Shop) -> None:
    ann = await shop.started()
    for product_id in (1, 3):
        await ann.send(f"/start p_{product_id}")
        await ann.wait_for(lambda m: "Add 1" in json.dumps(button_labels(m)))
        await ann.press("🛒 Add 1 to cart")
    await ann.send("/cart")
    cart = await ann.wait_for(text="Your cart")
    assert "Total: $7.00" in cart["text"]
    await ann.press("+", message_id=cart["message_id"])
    assert "Total: $11.50" in (await ann.wait_for(text="Total: $11.50"))["text"]
    await ann.press("✕ Mint tea × 1")
    after = await ann.wait_for(text="Total: $9.00")
    assert "Mint tea" not in after["text"]
    await ann.press("🗑 Empty the cart")
    await ann.wait_for(text="Your cart is empty")


async def test_stale_and_tampered_buttons_get_a_polite_alert(shop: Shop) -> None:
    ann = await shop.started()
    await ann.send("/start p_8")
    card = await ann.wait_for(text="Lemon cake")
    async with shop.uow() as u:
        await u.begin_write()  # as services do: a writer's transaction from the start
        (await u.catalog.by_sku("CAKE-1")).active = False  # the product is withdrawn meanwhile
        await u.commit()
    answer = await ann.press("🛒 Add 1 to cart")
    assert answer["show_alert"] and "no longer available" in answer["text"]
    # Someone edits callback data by hand: unknown data, or a product that never existed.
    huge = "9" * 25  # no database id is that long: not an apology, the same polite alert
    for forged in ("zz:1", "p:a:999999:1", "p:q:notanumber:1", f"r:o:{huge}", f"p:a:{huge}:1"):
        await shop.bot.edit_message_reply_markup(
            chat_id=ann.id,
            message_id=card["message_id"],
            reply_markup={"inline_keyboard": [[{"text": "forged", "callback_data": forged}]]},
        )
        answer = await ann.press(forged)
        assert answer["answered"] and answer["show_alert"], forged
        assert "went wrong" not in answer["text"], forged
    async with shop.uow() as u:
        assert (await u.carts.cart((await u.customers.by_telegram_id(ann.id)).id)) is None


async def test_redelivered_update_changes_nothing(shop: Shop) -> None:
    ann = await shop.started()
    update = {
        "update_id": 10**15,
        "message": {
            "message_id": 999,
            "date": 0,
            "text": "/help",
            "chat": {"id": ann.id, "type": "private", "first_name": "Ann"},
            "from": {"id": ann.id, "is_bot": False, "first_name": "Ann"},
            "entities": [{"type": "bot_command", "offset": 0, "length": 5}],
        },
    }
    for _ in range(3):
        await shop.dp.feed_raw_update(shop.bot, update)
    helps = [t for t in texts(await ann.bot_messages()) if t.startswith("How to order")]
    assert len(helps) == 1


@pytest.mark.throttle(burst=3, per_second=0.5)
async def test_flood_is_answered_once_and_others_are_unaffected(shop: Shop) -> None:
    flood = await shop.customer("Flood")
    for i in range(15):
        await flood.send(f"/help {i}")
    calm = await shop.customer("Calm")
    await calm.send("/start")
    await calm.wait_for(text="Hello")
    for _ in range(100):  # the burst's replies arrive as the bot gets to them
        replies = texts(await flood.bot_messages())
        if sum(t.startswith("How to order") for t in replies) >= 3:
            break
        await asyncio.sleep(0.1)
    await asyncio.sleep(0.3)  # and nothing more comes after them
    replies = texts(await flood.bot_messages())
    assert sum("wait a moment" in t for t in replies) == 1  # told once, not fifteen times
    assert sum(t.startswith("How to order") for t in replies) == 3  # the burst got through


async def test_customer_row_is_one_per_telegram_user(shop: Shop) -> None:
    ann = await shop.started()
    await ann.send("/help")
    await ann.wait_for(text="How to order")
    async with shop.uow() as u:
        rows = (await u.session.scalars(select(Customer).where(Customer.telegram_id == ann.id))).all()
        assert len(rows) == 1
        assert (await u.session.scalars(select(Order))).all() == []


async def test_an_unexpected_error_apologises_with_a_reference_and_loses_nothing(
    shop: Shop, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    ann = await shop.started()
    await ann.send("/start p_1")
    await ann.wait_for(lambda m: "🛒 Add 1 to cart" in button_labels(m))
    await ann.press("🛒 Add 1 to cart")

    async def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("the disk is on fire")

    monkeypatch.setattr("shop.cart.view_cart", broken)
    await ann.send("/cart")
    apology = await ann.wait_for(text="something went wrong")
    reference = apology["entities"][0]
    utf16 = apology["text"].encode("utf-16-le")  # entity offsets count UTF-16 code units
    code = utf16[reference["offset"] * 2 : (reference["offset"] + reference["length"]) * 2].decode(
        "utf-16-le"
    )
    assert reference["type"] == "code" and len(code) == 8
    assert "Traceback" not in apology["text"] and "fire" not in apology["text"]
    assert any(code in record.getMessage() for record in caplog.records)  # the log has it under that code
    monkeypatch.undo()
    await ann.send("/cart")
    cart = await ann.wait_for(text="Your cart")
    assert "Green tea" in cart["text"]  # what was committed before the error is all there
