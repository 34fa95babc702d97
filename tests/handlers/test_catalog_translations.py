"""Catalog names in the customer's language: a Russian-speaking customer sees the Russian names and
descriptions the catalog file gave, wherever a product or category is shown, and the English ones where
there is no translation; staff see the catalog's own names."""

from __future__ import annotations

from pathlib import Path

from shop.catalog import import_products_csv
from tests.handlers.conftest import CATALOG, Shop, button_labels, texts

# Green tea and its category get Russian names (and markup to escape); Mint tea and Cakes have none.
TRANSLATED = (
    CATALOG.splitlines()[0]
    + ",name_ru,description_ru,category_ru\n"
    + "TEA-1,Green tea,Tea,4.50,10,Leafy,Sencha <fresh> & green,tea.png,yes,yes,"
    + "Зелёный <чай>,Сенча <свежая> & зелёная,Чай\n"
)


async def translated(shop: Shop) -> None:
    async with shop.uow() as u:
        result = await import_products_csv(u, TRANSLATED, "USD", Path(shop.settings.media_dir))
    assert (result.updated, result.errors) == (1, [])


async def test_a_russian_customer_sees_russian_names_from_catalog_to_order(shop: Shop) -> None:
    await translated(shop)
    ivan = await shop.started("Иван", language="ru")
    await ivan.send("/catalog")
    categories = await ivan.wait_for(text="Выберите категорию")
    assert {"Чай (7)", "Cakes (1)"} <= set(button_labels(categories))  # Cakes: no Russian name given
    await ivan.press("Чай (7)")
    page = await ivan.wait_for(text="товаров")
    assert page["text"].startswith("Чай · ")
    labels = button_labels(page)
    assert labels[0] == "Зелёный <чай> · 4,50\xa0$" and "Mint tea · 2,50\xa0$" in labels

    await ivan.press("Зелёный <чай> · 4,50\xa0$")
    card = await ivan.wait_for(lambda m: "photo" in m)
    assert card["caption"].startswith("Зелёный <чай> · Leafy\nСенча <свежая> & зелёная\n")
    await ivan.press("🛒 В корзину: 1")
    await ivan.send("/start p_3")  # Mint tea, untranslated
    mint = await ivan.wait_for(text="Mint tea")
    assert mint["text"].startswith("Mint tea · Herbal\nFresh mint\n")
    await ivan.press("🛒 В корзину: 1")

    await ivan.press_reply("🛒 Корзина")
    cart = await ivan.wait_for(text="Ваша корзина")
    assert "Зелёный <чай>\n" in cart["text"] and "Mint tea\n" in cart["text"]
    assert "Green tea" not in cart["text"]
    assert "✕ Зелёный <чай> × 1" in button_labels(cart)

    await ivan.send("/checkout")
    await ivan.wait_for(text="Как вы хотите получить заказ?")
    await ivan.press("🏪 Самовывоз")
    await ivan.wait_for(text="По какому номеру")
    await ivan.press_reply("📱 Поделиться номером")
    await ivan.wait_for(text="Что нам нужно знать?")
    await ivan.press("Без комментария →")
    await ivan.wait_for(text="Как будете платить?")
    await ivan.press("🏦 Банковский перевод")
    summary = await ivan.wait_for(text="Всё верно?")
    assert (
        "Зелёный <чай> — 1 × 4,50\xa0$" in summary["text"] and "Mint tea — 1 × 2,50\xa0$" in summary["text"]
    )
    await ivan.press("✅ Оформить заказ")
    await shop.owner.wait_for(text="New order")
    alert = texts(await shop.owner.bot_messages())[-1]
    assert "Green tea × 1" in alert and "Зелёный" not in alert  # staff see the catalog's names

    await ivan.send("/orders")
    history = await ivan.wait_for(text="Нажмите на заказ")
    await ivan.press(next(label for label in button_labels(history) if label.startswith("#")))
    detail = await ivan.wait_for(text="Mint tea — 1 ×")
    assert "Зелёный <чай> — 1 × 4,50\xa0$" in detail["text"]
    await ivan.press("🔁 Повторить заказ")
    again = await ivan.wait_for(text="Добавлено в корзину:")
    assert "Зелёный <чай>, Mint tea" in again["text"]


async def test_side_by_side_an_english_customer_sees_english_and_a_russian_one_russian(shop: Shop) -> None:
    await translated(shop)
    ann, ivan = await shop.started(), await shop.started("Иван", language="ru")
    for user, category, asked in (
        (ann, "Tea (7)", "Pick a category"),
        (ivan, "Чай (7)", "Выберите категорию"),
    ):
        await user.send("/catalog")
        await user.wait_for(text=asked)
        await user.press(category)
    page = await ann.wait_for(text="products")
    assert page["text"].startswith("Tea · ") and button_labels(page)[0] == "Green tea · $4.50"
    in_english = [label.split(" · ")[0] for label in button_labels(page) if " · " in label]
    page = await ivan.wait_for(text="товаров")
    assert page["text"].startswith("Чай · ") and button_labels(page)[0] == "Зелёный <чай> · 4,50\xa0$"
    in_russian = [label.split(" · ")[0] for label in button_labels(page) if " · " in label]
    # One menu order in both languages: the catalog file's, not each language's alphabet.
    assert in_english == ["Green tea", "Black tea", "Mint tea", "Earl Grey", "Chai", "Rooibos"]
    assert in_russian == ["Зелёный <чай>", *in_english[1:]]
    await ann.press("Green tea · $4.50")
    await ivan.press("Зелёный <чай> · 4,50\xa0$")
    card = await ann.wait_for(lambda m: "photo" in m)
    assert card["caption"].startswith("Green tea · Leafy\nSencha <fresh> & green\n")
    card = await ivan.wait_for(lambda m: "photo" in m)
    assert card["caption"].startswith("Зелёный <чай> · Leafy\nСенча <свежая> & зелёная\n")
    await ann.press("🛒 Add 1 to cart")
    await ann.press_reply("🛒 Cart")
    cart = await ann.wait_for(text="Your cart")
    assert "Green tea\n" in cart["text"] and "Зелёный" not in cart["text"]


async def test_search_and_inline_mode_find_and_show_either_language(shop: Shop) -> None:
    await translated(shop)
    ivan = await shop.started("Иван", language="ru")
    await ivan.send("/search зелёный")
    results = await ivan.wait_for(text="Результаты")
    assert button_labels(results) == ["Зелёный <чай> · 4,50\xa0$"]
    await ivan.send("/search green")  # the English name finds it too, shown in Russian
    results = await ivan.wait_for(text="Результаты")
    assert button_labels(results) == ["Зелёный <чай> · 4,50\xa0$"]
    answer = await ivan.inline("свеж")
    assert [r["title"] for r in answer["results"]] == ["Зелёный <чай>"]
    assert (
        "Сенча &lt;свежая&gt; &amp; зелёная" in answer["results"][0]["input_message_content"]["message_text"]
    )
    ann = await shop.started()
    answer = await ann.inline("свеж")
    assert [r["title"] for r in answer["results"]] == ["Green tea"]
