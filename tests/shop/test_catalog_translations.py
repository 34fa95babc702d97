"""Translated catalog texts: the catalog file's optional name_ru, description_ru and category_ru columns
(bounded like the fields they translate, kept when a file does not have them), the one function that
picks a text in the customer's language, and the demo café that uses them."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

from markupsafe import Markup

from bot.demo import demo_csv, draw_photos
from handlers.render import Renderer
from shop import catalog
from shop.catalog import ProductQuery
from shop.config import ShopConfig
from shop.translations import localized
from tests.shop.test_catalog_files import HEADER, MEDIA
from tests.shop.test_checkout import CONFIG

TRANSLATED_HEADER = HEADER.rstrip("\n") + ",name_ru,description_ru,category_ru\n"


async def import_csv(uow: Any, text: str) -> catalog.ImportResult:
    async with uow() as u:
        return await catalog.import_products_csv(u, text, "USD", MEDIA)


async def product(uow: Any, sku: str) -> Any:
    async with uow() as u:
        found = await u.catalog.by_sku(sku)
        category = await u.catalog.category(found.category_id)
        return found, category


async def test_translation_columns_import_export_and_import_again(uow: Any) -> None:
    text = TRANSLATED_HEADER + (
        "TEA-1,Green tea,Tea,4.50,10,Leafy,Sencha,,yes,yes,Зелёный чай,Сенча из Сидзуоки,Чай\n"
        "TEA-2,Mint tea,Tea,2.50,5,,Fresh mint,,no,yes,,,\n"
    )
    assert (await import_csv(uow, text)).errors == []
    tea, category = await product(uow, "TEA-1")
    assert tea.translations == {"ru": {"name": "Зелёный чай", "description": "Сенча из Сидзуоки"}}
    assert category.translations == {"ru": {"name": "Чай"}}
    mint, _ = await product(uow, "TEA-2")
    assert mint.translations is None
    async with uow() as u:
        exported = await catalog.export_products_csv(u, "USD")
    rows = list(csv.DictReader(io.StringIO(exported)))
    assert [(r["name_ru"], r["description_ru"], r["category_ru"]) for r in rows] == [
        ("Зелёный чай", "Сенча из Сидзуоки", "Чай"),
        ("", "", "Чай"),
    ]
    again = await import_csv(uow, exported)
    assert (again.updated, again.errors) == (2, [])
    assert (await product(uow, "TEA-1"))[0].translations == tea.translations


async def test_an_older_file_without_the_columns_imports_and_keeps_the_translations(uow: Any) -> None:
    first = TRANSLATED_HEADER + "TEA-1,Green tea,Tea,4.50,10,,Sencha,,no,yes,Зелёный чай,Сенча,Чай\n"
    assert (await import_csv(uow, first)).errors == []
    older = HEADER + "TEA-1,Green tea,Tea,3.90,10,,Sencha,,no,yes\nTEA-2,Mint tea,Tea,2.50,5,,,,no,yes\n"
    result = await import_csv(uow, older)
    assert (result.created, result.updated, result.errors) == (1, 1, [])
    tea, category = await product(uow, "TEA-1")
    assert tea.price_minor == 390
    assert tea.translations == {"ru": {"name": "Зелёный чай", "description": "Сенча"}}
    assert category.translations == {"ru": {"name": "Чай"}}
    # A blank cell in a column the file has takes the product's translation away (a category's stays).
    only_names = HEADER.rstrip("\n") + ",name_ru,category_ru\nTEA-1,Green tea,Tea,3.90,10,,Sencha,,no,yes,,\n"
    assert (await import_csv(uow, only_names)).errors == []
    tea, category = await product(uow, "TEA-1")
    assert tea.translations == {"ru": {"description": "Сенча"}}
    assert category.translations == {"ru": {"name": "Чай"}}


async def test_translations_are_bounded_like_their_fields_and_escaped(uow: Any) -> None:
    long_rows = TRANSLATED_HEADER + (
        f"A-1,Tea,Tea,1.00,1,,,,,,{'Ч' * 201},,\n"
        f"A-2,Tea,Tea,1.00,1,,,,,,,{'Ч' * 2001},\n"
        f"A-3,Tea,Tea,1.00,1,,,,,,,,{'Ч' * 129}\n"
        f"A-4,Tea,Tea,1.00,1,,,,,,{'Ч' * 5000},,\n"
    )
    result = await import_csv(uow, long_rows)
    assert [(e.row, e.column, e.error.code) for e in result.errors] == [
        (2, "name_ru", "invalid_product_field"),
        (3, "description_ru", "invalid_product_field"),
        (4, "category_ru", "invalid_product_field"),
        (5, "name_ru", "invalid_product_field"),
    ]
    hostile = "<b>Чай</b> & <i>"
    at_limits = TRANSLATED_HEADER + (
        f'A-1,Tea,Tea,1.00,1,,,,,,"{hostile}","{"<&>" * 666}",{"Ч" * 128}\n'
        f"A-2,Tea 2,Tea,1.00,1,,,,,,{'Ч' * 200},,\n"
    )
    assert (await import_csv(uow, at_limits)).errors == []
    tea, _ = await product(uow, "A-1")
    card = Renderer(CONFIG).render("catalog.product", "ru", product=tea, in_cart=0)
    assert "<b>&lt;b&gt;Чай&lt;/b&gt; &amp; &lt;i&gt;</b>" in card
    assert "&lt;&amp;&gt;" in card and "<&>" not in card
    assert len(Markup(card).striptags()) < 1024  # the description is clipped as the English one is


def test_a_text_falls_back_to_the_catalogs_own() -> None:
    class Item:
        name = "Green tea"
        description = "Sencha"
        translations = {"ru": {"name": "Зелёный чай"}}

    assert localized(Item, "name", "ru") == "Зелёный чай"
    assert localized(Item, "description", "ru") == "Sencha"  # no Russian description
    assert localized(Item, "name", "en") == "Green tea"
    assert localized({"name": "Cake", "translations": None}, "name", "ru") == "Cake"


async def test_search_finds_a_product_by_its_translation(uow: Any) -> None:
    text = TRANSLATED_HEADER + "TEA-1,Green tea,Tea,4.50,10,,Sencha,,no,yes,Зелёный чай,Сенча,Чай\n"
    assert (await import_csv(uow, text)).errors == []
    for words in ("зелёный", "ЗЕЛЁНЫЙ ЧАЙ", "зеленый", "green", "чай"):  # ё typed as е too
        async with uow() as u:
            page = await catalog.browse(u, ProductQuery(text=words), 0, 6)
        assert [p.sku for p in page.products] == ["TEA-1"], words


async def test_the_demo_cafe_is_translated_and_one_category_is_longer_than_a_page(
    uow: Any, tmp_path: Path
) -> None:
    rows = list(csv.DictReader(io.StringIO(demo_csv())))
    assert all(r["name_ru"] and r["description_ru"] and r["category_ru"] for r in rows)
    assert not [r for r in rows if set("<&>") & set("".join(r.values()))]  # a café, not a test fixture
    assert [r["name"] for r in rows if r["stock"] == "0"] == ["Lemon tart"]
    draw_photos(tmp_path)
    async with uow() as u:
        result = await catalog.import_products_csv(u, demo_csv(), "USD", tmp_path)
    assert (result.created, result.errors) == (len(rows), [])
    async with uow() as u:
        shelves = await catalog.categories(u)
        pages = {
            c.name: (await catalog.browse(u, ProductQuery(category_id=c.id), 0, ShopConfig().page_size)).pages
            for c in shelves.items
        }
    assert pages["Coffee"] == 2 and max(pages.values()) == 2
    assert {localized(c, "name", "ru") for c in shelves.items} == {
        "Кофе",
        "Чай",
        "Выпечка",
        "Завтраки",
        "Напитки",
    }


async def test_rows_naming_a_category_differently_are_pointed_out(uow: Any) -> None:
    """Two rows give Tea different Russian names: the last is kept, and the owner is told which rows."""
    text = (
        TRANSLATED_HEADER
        + "TEA-1,Green tea,Tea,4.50,10,,Sencha,,no,yes,Зелёный чай,,Чай\n"
        + "TEA-2,Black tea,tea,3.50,10,,Assam,,no,yes,Чёрный чай,,Чаи\n"
        + "TEA-3,Mint tea,Tea,2.50,10,,Mint,,no,yes,,,Чаи\n"
    )
    result = await import_csv(uow, text)
    assert result.errors == [] and len(result.renamed) == 1
    said = Renderer(CONFIG).render("crm.imported", "en", result=result)
    assert "⚠ Category “tea” is “Чаи” in row 3 but “Чай” in row 2 (ru); row 3's name is kept." in said
    _, category = await product(uow, "TEA-1")
    assert localized(category, "name", "ru") == "Чаи"
