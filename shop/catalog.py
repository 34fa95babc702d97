"""The catalog: categories, filtered pages of products, search, and CSV import/export."""

from __future__ import annotations

import asyncio
import csv
import io
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from storage.models import Category, Product
from storage.repositories import ProductQuery
from storage.uow import UnitOfWork

from .errors import DomainError, InvalidImport, ProductUnavailable
from .limits import parse_price
from .money import format_plain
from .photos import checked_photo
from .spreadsheets import csv_text, unguarded
from .translations import TRANSLATED, Translations, changed, translated_texts

# Texts a catalog file may give in other languages, each as a column ``<field>_<language>``: name_ru...
TRANSLATED_FIELDS = ("name", "description", "category")
TRANSLATION_COLUMNS = [f"{text}_{language}" for language in TRANSLATED for text in TRANSLATED_FIELDS]
CSV_COLUMNS = [
    "sku",
    "name",
    "category",
    "price",
    "stock",
    "brand",
    "description",
    "photo",
    "featured",
    "active",
    *TRANSLATION_COLUMNS,
]
__all__ = ["CSV_COLUMNS", "ProductQuery", "Page", "browse", "categories", "get_product"]


@dataclass
class Page:
    products: list[Product]
    page: int
    pages: int
    total: int


@dataclass
class CategoryCount:
    id: int
    name: str
    products: int
    translations: Translations | None = None


@dataclass
class Shelf:
    brands: list[str]  # sorted, those with no brand left out
    prices: list[int]  # each price once, lowest first

    @property
    def price_range(self) -> tuple[int, int] | None:
        """The lowest and highest price; None when the shelf is empty."""
        return (self.prices[0], self.prices[-1]) if self.prices else None


ROUND_STEPS = (1, 2, 5)  # price bands are these times a power of ten (minor units): $1, $2, $5, $10...


def price_bands(prices: list[int], most: int = 4) -> list[tuple[int, int]]:
    """Up to ``most`` price ranges for a filter over ``prices`` (lowest first): round edges
    (``ROUND_STEPS``), each range from its low edge up to but not including its high one, so none
    overlap, and only ranges that hold a price. Ranges are at least a tenth of the dearest price wide
    (a filter between $4.50 and $4.60 helps nobody); none when the prices do not split."""
    if len(prices) < 2:
        return []
    least = max((prices[-1] - prices[0]) / most, prices[-1] / 10, 1)
    for step in _round_steps():
        if step < least:
            continue
        edges = sorted({price // step for price in prices})
        if len(edges) <= most:
            return [(n * step, (n + 1) * step) for n in edges] if len(edges) > 1 else []
    raise AssertionError("unreachable: a step as wide as the dearest price puts all in one or two ranges")


def _round_steps() -> Iterator[int]:
    magnitude = 1
    while True:
        for unit in ROUND_STEPS:
            yield unit * magnitude
        magnitude *= 10


@dataclass
class Categories:
    items: list[CategoryCount]
    any_featured: bool  # is any active product featured (a "Featured" shelf to show)


async def categories(uow: UnitOfWork) -> Categories:
    """The catalog's first page: active categories with their product counts, in one statement."""
    rows, any_featured = await uow.catalog.categories_with_counts()
    return Categories([CategoryCount(c.id, c.name, n, c.translations) for c, n in rows], any_featured)


async def category(uow: UnitOfWork, category_id: int) -> Category | None:
    return await uow.catalog.category(category_id)


async def browse(uow: UnitOfWork, query: ProductQuery, page: int, page_size: int) -> Page:
    """One page of active products matching the filters; a page past the end shows the last one."""
    page = max(page, 0)
    products, total = await uow.catalog.page(_as_searched(query), page * page_size, page_size)
    pages = max(1, -(-total // page_size))
    if page >= pages and total:
        return await browse(uow, query, pages - 1, page_size)
    return Page(products, page, pages, total)


async def shelf(uow: UnitOfWork, query: ProductQuery) -> Shelf:
    """What the filters of a page of products can offer: the brands and the span of prices it holds."""
    brands, prices = await uow.catalog.shelf(_as_searched(query))
    return Shelf(brands, prices)


def _as_searched(query: ProductQuery) -> ProductQuery:
    """The query with its text as the products' ``search_text`` keeps theirs (``searchable``)."""
    return replace(query, text=searchable(query.text)) if query.text else query


async def get_product(uow: UnitOfWork, product_id: int) -> Product:
    product = await uow.catalog.product(product_id)
    if product is None or not product.active:
        raise ProductUnavailable(product_id=product_id)
    return product


def search_text(product: Product) -> str:
    return text_to_search(product.name, product.brand, product.sku, product.description, product.translations)


def text_to_search(
    name: str, brand: str | None, sku: str, description: str | None, translations: Translations | None = None
) -> str:
    """What a search looks in: the product's texts in every language it has, as ``searchable``."""
    texts = [name, brand, sku, description, *translated_texts(translations)]
    return searchable(" ".join(filter(None, texts)))


def searchable(text: str) -> str:
    """Lower-cased, and ё as е: Russian is mostly typed without the dots ("зеленый" finds "Зелёный")."""
    return text.lower().replace("ё", "е")


async def remember_photo(uow: UnitOfWork, product_id: int, file_id: str) -> None:
    """Telegram's file id for a product photo, so it is uploaded once."""
    await uow.begin_write()
    await uow.catalog.set_photo_file_id(product_id, file_id)
    await uow.commit()


# --- the catalog as a CSV file --------------------------------------------------------------------------
REQUIRED_COLUMNS = ("sku", "name", "price")
# Rows written per transaction. SQLite's statements run in the event loop's thread and hold the one
# writer's lock: a chunk of 250 takes 25-30 ms, and customers' updates run between two chunks.
IMPORT_CHUNK = 250


@dataclass(frozen=True)
class ProductRow:
    """A row of a catalog file, checked: the product it makes or updates."""

    row: int
    sku: str
    name: str
    category: str | None
    price_minor: int
    stock: int
    brand: str | None
    description: str
    photo: str | None
    featured: bool
    active: bool
    # (language, field) → text, for the translation columns the file has (None: a blank cell, which takes
    # the translation away); a column the file does not have leaves the product's translation as it is.
    translated: dict[tuple[str, str], str | None] = field(default_factory=dict)
    category_translated: dict[str, str] = field(default_factory=dict)  # language → the category's name


@dataclass(frozen=True)
class RowError:
    """Why a row of a catalog file cannot be imported: its first wrong cell."""

    row: int  # as a spreadsheet numbers it: the header is row 1
    column: str
    error: DomainError


@dataclass
class ImportResult:
    created: int = 0
    updated: int = 0
    errors: list[RowError] = field(default_factory=list)
    renamed: list[CategoryNames] = field(default_factory=list)  # rows that named a category differently


@dataclass(frozen=True)
class CategoryNames:
    """A category the file's rows name differently in a language: the last row's name is the one kept."""

    category: str
    language: str
    kept: str
    kept_row: int
    other: str
    other_row: int


def differing_category_names(rows: list[ProductRow]) -> list[CategoryNames]:
    """Each (category, language) whose rows give different translated names, once."""
    seen: dict[tuple[str, str], tuple[str, int]] = {}
    differing: dict[tuple[str, str], CategoryNames] = {}
    for row in rows:
        category = row.category
        if not category:
            continue
        for language, name in row.category_translated.items():
            key = (category.casefold(), language)
            if key in seen and seen[key][0] != name:
                other, other_row = seen[key]
                differing[key] = CategoryNames(category, language, name, row.row, other, other_row)
            seen[key] = (name, row.row)
    return list(differing.values())


class InvalidFlag(DomainError):
    code = "invalid_flag"


class DuplicateSku(DomainError):
    """params: sku, row (where it came first)."""

    code = "duplicate_sku"


Progress = Callable[[int, int], Awaitable[None]]  # rows written so far, rows in all


async def import_products_csv(
    uow: UnitOfWork, text: str, currency: str, media_dir: Path, progress: Progress | None = None
) -> ImportResult:
    """Create or update products by SKU from a CSV file's text.

    Every row is checked first, on a thread and without the database: a file with any bad row changes
    nothing and gets every bad row back. A good file is then written ``IMPORT_CHUNK`` rows to a
    transaction, so a large import never holds the writer's lock for long; ``progress`` hears after each.
    A crash midway leaves the chunks written so far; importing the same file again completes it (rows
    match products by SKU, so a row written before is an update that changes nothing).
    """
    rows, errors = await asyncio.to_thread(read_products_csv, text, currency, media_dir)
    if errors:
        return ImportResult(errors=errors)
    result = ImportResult(renamed=differing_category_names(rows))
    for start in range(0, len(rows), IMPORT_CHUNK):
        chunk = rows[start : start + IMPORT_CHUNK]
        began = time.monotonic()
        await uow.begin_write()
        created = await _write_products(uow, chunk)
        await uow.commit()
        result.created += created
        result.updated += len(chunk) - created
        if progress is not None:
            await progress(start + len(chunk), len(rows))
        # As long again for everyone else: the statements ran in the loop's thread (SQLite), and a
        # customer's update needs more than one turn of the loop to reach its own transaction.
        await asyncio.sleep(time.monotonic() - began)
    return result


async def _write_products(uow: UnitOfWork, rows: list[ProductRow]) -> int:
    """Insert or update these products (their SKUs are distinct); how many were new."""
    categories = await uow.catalog.category_ids([row.category for row in rows if row.category])
    await _translate_categories(uow, rows, categories)
    existing = await uow.catalog.existing_by_sku([row.sku for row in rows])
    new, updated = [], []
    for row in rows:
        kept = existing[row.sku][3] if row.sku in existing else None
        translations = changed(kept, row.translated)
        values = {
            "sku": row.sku,
            "name": row.name,
            "category_id": categories[row.category.casefold()] if row.category else None,
            "price_minor": row.price_minor,
            "stock": row.stock,
            "brand": row.brand,
            "description": row.description,
            "photo": row.photo,
            "featured": row.featured,
            "active": row.active,
            "translations": translations,
            "search_text": text_to_search(row.name, row.brand, row.sku, row.description, translations),
        }
        if row.sku in existing:
            product_id, photo, file_id, _ = existing[row.sku]
            # Telegram's copy of the photo stands while the photo does
            kept_file_id = file_id if photo == row.photo else None
            updated.append({**values, "product_id": product_id, "photo_file_id": kept_file_id})
        else:
            new.append(values)
    await uow.catalog.insert_products(new)
    await uow.catalog.update_products(updated)
    return len(new)


async def _translate_categories(uow: UnitOfWork, rows: list[ProductRow], ids: dict[str, int]) -> None:
    """The categories' names in other languages, as the rows give them (the last row's, when rows of
    one category differ); a blank cell leaves a category's name as it was."""
    names: dict[int, dict[tuple[str, str], str | None]] = {}
    for row in rows:
        if row.category and row.category_translated:
            given = names.setdefault(ids[row.category.casefold()], {})
            given.update({(language, "name"): name for language, name in row.category_translated.items()})
    for category_id, texts in names.items():
        category = await uow.catalog.category(category_id)
        assert category is not None  # made by ``category_ids`` in this transaction if it was new
        translations = changed(category.translations, texts)
        if translations != category.translations:
            category.translations = translations


def read_products_csv(text: str, currency: str, media_dir: Path) -> tuple[list[ProductRow], list[RowError]]:
    """Every row of a catalog file checked (no database; photos in ``media_dir``): the products, and each
    bad row's first wrong cell. Columns are named in the header (any case, any order); rows with every
    cell blank are skipped. Raises InvalidImport when required columns are missing or the text is not CSV."""
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff")))
    reading = 1  # the row the reader is at, should it fail
    try:
        header = [name.strip().lower() for name in next(reader, [])]
        missing = [name for name in REQUIRED_COLUMNS if name not in header]
        if missing:
            raise InvalidImport(missing=missing)
        rows: list[ProductRow] = []
        errors: list[RowError] = []
        first_row: dict[str, int] = {}  # SKU → the row it is on
        reading = 2
        for number, cells in enumerate(reader, start=2):
            reading = number + 1
            if not any(cell.strip() for cell in cells):
                continue
            given = dict.fromkeys(header, "") | dict(zip(header, cells, strict=False))  # short rows: blank
            row = _checked_row(number, given, currency, media_dir)
            if isinstance(row, RowError):
                errors.append(row)
                continue
            if row.sku in first_row:
                errors.append(RowError(number, "sku", DuplicateSku(sku=row.sku, row=first_row[row.sku])))
                continue
            first_row[row.sku] = number
            rows.append(row)
    except csv.Error:  # a cell over 128 kB, say
        raise InvalidImport(unreadable=reading) from None
    return rows, errors


def _checked_row(number: int, cells: dict[str, str], currency: str, media_dir: Path) -> ProductRow | RowError:
    values: dict[str, Any] = {}
    for column in CSV_COLUMNS:
        if column in TRANSLATION_COLUMNS and column not in cells:
            continue  # the file has no such column: the product's translation stays as it is
        text = unguarded((cells.get(column) or "").strip())
        try:
            values[column] = _checked_cell(column, text, currency, media_dir)
        except DomainError as error:
            error.params = _shortened(error.params)
            return RowError(number, column, error)
    translated = {
        (language, text): values[f"{text}_{language}"]
        for language in TRANSLATED
        for text in ("name", "description")
        if f"{text}_{language}" in values
    }
    category_translated = {
        language: values[f"category_{language}"]
        for language in TRANSLATED
        if values.get(f"category_{language}")
    }
    return ProductRow(
        row=number,
        sku=values["sku"],
        name=values["name"],
        category=values["category"],
        price_minor=values["price"],
        stock=values["stock"],
        brand=values["brand"],
        description=values["description"],
        photo=values["photo"],
        featured=values["featured"],
        active=values["active"],
        translated=translated,
        category_translated=category_translated,
    )


def _checked_cell(column: str, text: str, currency: str, media_dir: Path) -> Any:
    """A cell's value, by the same rules as staff's commands (``check_field``); blank optional cells
    take their defaults."""
    if column in ("featured", "active"):
        return _flag(text, default=column == "active")
    if not text and column not in REQUIRED_COLUMNS:
        return {"stock": 0, "description": ""}.get(column)
    if column == "photo":
        return checked_photo(text, media_dir)
    if column in TRANSLATION_COLUMNS:  # name_ru: bounded as name is
        return check_field(column.rpartition("_")[0], text, currency)
    return check_field(column, text, currency)


def _flag(text: str, default: bool) -> bool:
    value = text.lower()
    if not value:
        return default
    if value in {"1", "true", "yes", "y"}:
        return True
    if value in {"0", "false", "no", "n"}:
        return False
    raise InvalidFlag(text=text)


def _shortened(params: dict[str, Any], limit: int = 40) -> dict[str, Any]:
    """A cell echoed in an error, at most ``limit`` characters: twenty errors must fit one message."""
    return {k: v[:limit] + "…" if isinstance(v, str) and len(v) > limit else v for k, v in params.items()}


async def export_products_csv(uow: UnitOfWork, currency: str) -> str:
    """Every product in the columns the import reads (what ``import_products_csv`` takes back as it is)."""
    rows = [
        [
            p.sku,
            p.name,
            p.category.name if p.category else "",
            format_plain(p.price_minor, currency),
            p.stock,
            p.brand or "",
            p.description,
            p.photo or "",
            "yes" if p.featured else "no",
            "yes" if p.active else "no",
            *_translations_of(p),
        ]
        for p in await uow.catalog.all_products()
    ]
    return csv_text(CSV_COLUMNS, rows)


def _translations_of(product: Product) -> list[str]:
    """The product's cells of ``TRANSLATION_COLUMNS``, in their order."""
    category = product.category.translations if product.category else None
    of = {"name": product.translations, "description": product.translations, "category": category}
    return [
        (of[text] or {}).get(language, {}).get("name" if text == "category" else text, "")
        for language in TRANSLATED
        for text in TRANSLATED_FIELDS
    ]


# --- staff: quick changes by SKU -----------------------------------------------------------------------
class ProductNotFound(DomainError):
    code = "product_not_found"


class InvalidStock(DomainError):
    code = "invalid_stock"


async def _by_sku(uow: UnitOfWork, sku: str) -> Product:
    await uow.begin_write()
    product = await uow.catalog.by_sku(sku.strip())
    if product is None:
        raise ProductNotFound(sku=sku)
    return product


async def set_stock(uow: UnitOfWork, sku: str, quantity_text: str) -> Product:
    stock = check_stock(quantity_text)
    product = await _by_sku(uow, sku)
    product.stock = stock
    await uow.commit()
    return product


async def set_price(uow: UnitOfWork, sku: str, amount_text: str, currency: str) -> Product:
    price = parse_price(amount_text, currency)
    product = await _by_sku(uow, sku)
    product.price_minor = price
    await uow.commit()
    return product


async def set_active(uow: UnitOfWork, sku: str, active: bool) -> Product:
    product = await _by_sku(uow, sku)
    product.active = active
    await uow.commit()
    return product


class InvalidProductField(DomainError):
    """params: field, and max for lengths."""

    code = "invalid_product_field"


# Every way a product's fields come in (/product, /stock, a catalog file) has the same bounds: these,
# a price's (``shop.limits.parse_price``) and a photo's (``shop.photos``). The lengths are the columns'.
PRODUCT_LIMITS = {"sku": 64, "name": 200, "category": 128, "brand": 100, "description": 2000}
MAX_STOCK = 1_000_000


def check_stock(text: str) -> int:
    value = (text or "").strip()
    if not (value.isdecimal() and value.isascii()) or len(value) > 12 or int(value) > MAX_STOCK:
        raise InvalidStock(text=text, max=MAX_STOCK)
    return int(value)


def check_field(field_name: str, text: str, currency: str) -> str | int:
    """A product's field as staff give it (an answer of /product, a cell of a catalog file), checked:
    the value to store."""
    value = (text or "").strip()
    if field_name == "price":
        return parse_price(value, currency)
    if field_name == "stock":
        return check_stock(value)
    limit = PRODUCT_LIMITS[field_name]
    if not value:
        raise InvalidProductField(field=field_name, max=limit, reason="empty")
    if len(value) > limit:
        raise InvalidProductField(field=field_name, max=limit, reason="long")
    if field_name == "sku" and any(character.isspace() for character in value):
        raise InvalidProductField(field=field_name, max=limit, reason="space")
    return value


async def save_product(uow: UnitOfWork, sku: str, values: dict[str, str | int]) -> tuple[Product, bool]:
    """Create or update the product with this SKU from checked values; True when it is new."""
    await uow.begin_write()
    product = await uow.catalog.by_sku(sku)
    created = product is None
    if product is None:
        if "name" not in values or "price" not in values:
            raise InvalidProductField(field="name" if "name" not in values else "price", max=0)
        product = Product(sku=sku, name=str(values["name"]), price_minor=int(values["price"]))
        uow.catalog.add(product)
    for key in ("name", "description"):
        if key in values:
            setattr(product, key, str(values[key]))
    if "price" in values:
        product.price_minor = int(values["price"])
    if "stock" in values:
        product.stock = int(values["stock"])
    if "category" in values:
        name = str(values["category"])
        product.category_id = (await uow.catalog.category_ids([name]))[name.casefold()]
    if "photo_file_id" in values:
        product.photo, product.photo_file_id = None, str(values["photo_file_id"])
    product.search_text = search_text(product)
    await uow.commit()
    return product, created
