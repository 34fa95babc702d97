"""Staff: customer lookup, profiles with metrics, notes, types; the catalog by SKU and as CSV."""

from __future__ import annotations

import aiohttp

from shop import catalog
from tests.handlers.conftest import Shop, button_labels
from tests.handlers.test_staff import placed, staff_says


async def download(shop: Shop, message: dict) -> str:
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"{shop.sandbox.url}/sandbox/files/{message['document']['file_id']}") as response,
    ):
        return (await response.read()).decode("utf-8")


async def test_lookup_profile_metrics_notes_and_type(shop: Shop) -> None:
    owner = shop.owner
    ann, number = await placed(shop, "Ann <Smith>")
    await staff_says(owner, f"/pay {number} 9 cash", "The order is paid")
    found = await staff_says(owner, "/customers smith", "Customers matching")
    async with shop.uow() as u:
        customer = await u.customers.by_telegram_id(ann.id)
    assert f"/customer {customer.id} · Ann <Smith> · {ann.phone_number}" in found["text"]
    await staff_says(owner, f"/customers {ann.phone_number[-6:]}", f"/customer {customer.id}")
    await staff_says(owner, "/customers nobody-like-this", "No customer matches")
    await staff_says(owner, f"/customers {ann.phone_number[1:]}", f"/customer {customer.id}")  # 11 digits
    profile = await staff_says(owner, f"/customer {customer.id}", "Purchases")
    assert "1 order · spent $9.00 · average $9.00" in profile["text"] and "one-time" in profile["text"]
    assert button_labels(profile) == ["walk-in", "regular", "VIP", "wholesale"]
    await owner.press("VIP", message_id=profile["message_id"])
    await owner.wait_for(lambda m: "· VIP" in m.get("text", ""))
    note = await staff_says(
        owner, f"/note {customer.id} Likes <oat> milk & no sugar", "Note saved (personal)"
    )
    await owner.press("preference", message_id=note["message_id"])
    await owner.wait_for(text="Note saved (preference)")
    profile = await staff_says(owner, f"/customer {customer.id}", "Notes")
    assert "[preference] Likes <oat> milk & no sugar" in profile["text"]
    await staff_says(owner, "/customer 99999", "No customer found for 99999")
    await staff_says(owner, "/note 99999 hello", "No customer found for 99999")
    for named in (str(ann.id), f"#{customer.id}", ann.phone_number):  # as the rest of the bot shows them
        card = await staff_says(owner, f"/customer {named}", "Purchases")
        assert "Ann <Smith>" in card["text"], named
    await staff_says(owner, "/customer @OLGA_owner", "Olga")  # the owner shops too
    await staff_says(owner, f"/note {customer.id}", "Use: /note CUSTOMER_ID TEXT")


async def test_stock_price_hide_show(shop: Shop) -> None:
    owner = shop.owner
    await staff_says(owner, "/stock TEA-1 25", "25 in stock")
    await staff_says(owner, "/price TEA-1 4,80", "$4.80")
    await staff_says(owner, "/hide TEA-1", "hidden")
    for command, answer in [
        ("/stock TEA-1 -3", "is not a stock quantity"),
        ("/stock TEA-1 abc", "is not a stock"),
        ("/stock NOPE 3", "no product with the SKU NOPE"),
        ("/price TEA-1 -5", "is not an amount"),
        ("/price TEA-1 1e9", "is not an amount"),
        ("/price TEA-1 1000000000.01", "is more than a price can be: at most $1,000,000,000.00"),
        ("/price TEA-1 999999999999999.99", "is more than a price can be"),  # 99 of it overflowed
        ("/stock TEA-1", "Use: /stock SKU"),
        ("/show", "Use: /hide SKU"),
    ]:
        await staff_says(owner, command, answer)
    async with shop.uow() as u:
        tea = await u.catalog.by_sku("TEA-1")
    assert (tea.stock, tea.price_minor, tea.active) == (25, 480, False)
    await staff_says(owner, "/show TEA-1", "shown")


async def test_import_and_export_csv(shop: Shop) -> None:
    owner = shop.owner
    good = "sku,name,category,price,stock\nNEW-1,Oat cookie,Cakes,1.20,30\nTEA-1,Green tea,Tea,5.00,10\n"
    await owner.send_document("products.csv", good, caption="/import")
    await owner.wait_for(text="Imported: 1 new, 1 updated")
    bad = "sku,name,price,stock\nNEW-2,Ok,1,1\nNEW-3,Broken,1.234,1\nNEW-4,Neg,1,-1\n"
    ask = await staff_says(owner, "/import", "Send the CSV file now")
    assert "name_ru, description_ru, category_ru" in ask["text"]  # every column it reads
    await owner.send_document("bad.csv", bad)
    refused = await owner.wait_for(text="Nothing was imported")
    assert "Row 3, price: “1.234” is not an amount" in refused["text"] and "Row 4, stock:" in refused["text"]
    await staff_says(owner, "/import", "Send the CSV file now")
    await owner.send_document("notes.txt", "hello")
    await owner.wait_for(text="not a CSV file")
    async with shop.uow() as u:
        assert (
            await u.catalog.by_sku("NEW-2") is None and (await u.catalog.by_sku("TEA-1")).price_minor == 500
        )
    ann, number = await placed(shop)
    for what, expected in [
        ("products", "NEW-1,Oat cookie,Cakes,1.20,30"),
        ("customers", "Ann"),
        ("orders", f"{number},"),
    ]:
        await owner.send(f"/export {what}")
        document = await owner.wait_for(
            lambda m, w=what: m.get("document", {}).get("file_name") == f"{w}.csv"
        )
        assert expected in await download(shop, document)
    await staff_says(owner, "/export everything", "Use: /export orders")


async def test_a_large_import_shows_its_progress_and_the_shop_goes_on_meanwhile(shop: Shop) -> None:
    """The file is written in chunks of short transactions: a customer who writes while it runs is answered
    before it ends (the import held the writer's lock throughout, and customers waited for all of it)."""
    owner = shop.owner
    ann = await shop.started()
    rows = 40 * catalog.IMPORT_CHUNK
    big = "sku,name,price,stock\n" + "".join(f"B-{i},Bulk {i},1.00,5\n" for i in range(rows))
    await owner.send_document("big.csv", big, caption="/import")
    await owner.wait_for(text="Importing:", timeout=30)
    await ann.send("/cart")
    await ann.wait_for(text="Your cart is empty")
    await owner.wait_for(text=f"Imported: {rows} new, 0 updated", timeout=120)
    sent = await shop.client.calls("sendMessage")

    def first(chat_id: int, words: str) -> int:
        said = (c for c in sent if c["params"]["chat_id"] == chat_id and words in c["params"]["text"])
        return int(next(said)["seq"])

    assert first(ann.id, "Your cart is empty") < first(owner.id, "Imported:")
    async with shop.uow() as u:
        assert await u.catalog.product_count() == rows + 9


async def test_a_customer_cannot_import(shop: Shop) -> None:
    ann = await shop.started()
    await ann.send_document("products.csv", "sku,name,price\nX,Free stuff,0.01\n", caption="/import")
    await ann.wait_for(text="for the shop's staff only")
    async with shop.uow() as u:
        assert await u.catalog.by_sku("X") is None


async def test_report_with_chart(shop: Shop) -> None:
    owner = shop.owner
    ann, first = await placed(shop, "Ann")
    bob, second = await placed(shop, "Bob", product_id=3, quantity=1)
    await staff_says(owner, f"/pay {first} 9 transfer T-1", "The order is paid")
    await staff_says(owner, f"/pay {second} 2.50 cash", "The order is paid")
    await owner.send("/report week")
    report = await owner.wait_for(lambda m: "photo" in m and "Last 7 days" in m.get("caption", ""))
    caption = report["caption"]
    assert "Revenue: $11.50 · 2 orders · average $5.75" in caption
    assert "Bank transfer: $9.00" in caption and "Cash: $2.50" in caption
    assert "1. Green tea × 2" in caption and "Customers: 2 new, 0 returning" in caption
    await staff_says(owner, "/report forever", "Use: /report today")


async def test_product_conversation_adds_and_edits(shop: Shop) -> None:
    owner = shop.owner
    await staff_says(owner, "/product", "Send its SKU")
    await staff_says(owner, "NEW 9", "A SKU is one word")
    name_question = await staff_says(owner, "NEW-9", "Name of NEW-9?")
    assert button_labels(name_question) == ["✖ Cancel"]  # a new product needs a name: no Skip
    await staff_says(owner, "Fig & <walnut> loaf 🍞", "Category?")
    await staff_says(owner, "Bread", "Price, like 4.50?")
    await staff_says(owner, "4.505", "is not an amount")
    await staff_says(owner, "4.50", "How many in stock?")
    await staff_says(owner, "-1", "is not a stock quantity")
    await staff_says(owner, "12", "Description?")
    await owner.press("Skip →")
    await owner.wait_for(text="Send a photo")
    await owner.send_photo("loaf")
    saved = await owner.wait_for(text="Added: NEW-9")
    assert "Fig & <walnut> loaf 🍞 · $4.50 · 12 in stock" in saved["text"]
    await staff_says(owner, "/product", "Send its SKU")
    await staff_says(owner, "TEA-1", "Editing TEA-1 · Green tea · $4.50")
    for question in ("Name of TEA-1?", "Category?"):  # keep the name and the category
        await owner.wait_for(lambda m, q=question: q in (m.get("text") or "") and "Keep" in button_labels(m))
        await owner.press("Keep")
    await staff_says(owner, "5", "How many in stock?")
    await owner.press("✖ Cancel")
    await owner.wait_for(text="Nothing was changed")
    await staff_says(owner, "/product", "Send its SKU")
    await staff_says(owner, "TEA-1", "Name of TEA-1?")
    await owner.press_reply("🛒 Cart")  # the owner shops too: a tap on the menu is not a name
    await owner.wait_for(text="Nothing was changed")
    async with shop.uow() as u:
        loaf = await u.catalog.by_sku("NEW-9")
        tea = await u.catalog.by_sku("TEA-1")
    assert (loaf.name, loaf.price_minor, loaf.stock, loaf.photo_file_id is not None) == (
        "Fig & <walnut> loaf 🍞",
        450,
        12,
        True,
    )
    assert tea.price_minor == 450  # the edit was cancelled before saving
    ann = await shop.started()
    await ann.send(f"/start p_{loaf.id}")
    card = await ann.wait_for(lambda m: "photo" in m)
    assert card["caption"].startswith("Fig & <walnut> loaf 🍞")
