"""The catalog: categories, filtered pages of products, search, and CSV import/export."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field

from storage.models import Category, Product
from storage.repositories import ProductQuery
from storage.uow import UnitOfWork

from .errors import DomainError, InvalidImport, ProductUnavailable
from .limits import parse_price
from .money import format_plain

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


@dataclass
class Shelf:
    brands: list[str]  # sorted, those with no brand left out
    price_range: tuple[int, int] | None  # the lowest and highest price; None when the shelf is empty


@dataclass
class Categories:
    items: list[CategoryCount]
    any_featured: bool  # is any active product featured (a "Featured" shelf to show)


async def categories(uow: UnitOfWork) -> Categories:
    """The catalog's first page: active categories with their product counts, in one statement."""
    rows, any_featured = await uow.catalog.categories_with_counts()
    return Categories([CategoryCount(c.id, c.name, n) for c, n in rows], any_featured)


async def category(uow: UnitOfWork, category_id: int) -> Category | None:
    return await uow.catalog.category(category_id)


async def browse(uow: UnitOfWork, query: ProductQuery, page: int, page_size: int) -> Page:
    """One page of active products matching the filters; a page past the end shows the last one."""
    page = max(page, 0)
    products, total = await uow.catalog.page(query, page * page_size, page_size)
    pages = max(1, -(-total // page_size))
    if page >= pages and total:
        return await browse(uow, query, pages - 1, page_size)
    return Page(products, page, pages, total)


async def shelf(uow: UnitOfWork, query: ProductQuery) -> Shelf:
    """What the filters of a page of products can offer: the brands and the span of prices it holds."""
    brands, price_range = await uow.catalog.shelf(query)
    return Shelf(brands, price_range)


async def get_product(uow: UnitOfWork, product_id: int) -> Product:
    product = await uow.catalog.product(product_id)
    if product is None or not product.active:
        raise ProductUnavailable(product_id=product_id)
    return product


def search_text(product: Product) -> str:
    return " ".join(filter(None, [product.name, product.brand, product.sku, product.description])).lower()


async def remember_photo(uow: UnitOfWork, product_id: int, file_id: str) -> None:
    """Telegram's file id for a product photo, so it is uploaded once."""
    await uow.begin_write()
    await uow.catalog.set_photo_file_id(product_id, file_id)
    await uow.commit()


@dataclass
class ImportResult:
    created: int = 0
    updated: int = 0
    errors: list[tuple[int, str]] = field(default_factory=list)


async def import_products_csv(uow: UnitOfWork, text: str, currency: str) -> ImportResult:
    """Create or update products by SKU. All rows or none: any error leaves the catalog unchanged."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    missing = {"sku", "name", "price"} - set(reader.fieldnames or [])
    if missing:
        raise InvalidImport(missing=sorted(missing))
    await uow.begin_write()
    result = ImportResult()
    for line, row in enumerate(reader, start=2):
        try:
            await _import_row(uow, row, currency, result)
        except (DomainError, ValueError) as error:
            result.errors.append((line, str(error)))
    if result.errors:
        await uow.rollback()
        return ImportResult(errors=result.errors)
    await uow.commit()
    return result


async def _import_row(uow: UnitOfWork, row: dict[str, str], currency: str, result: ImportResult) -> None:
    sku = (row.get("sku") or "").strip()
    name = (row.get("name") or "").strip()
    if not sku or not name:
        raise ValueError("sku and name are required")
    price = parse_price(row.get("price") or "", currency)
    stock = int((row.get("stock") or "0").strip() or 0)
    if stock < 0:
        raise ValueError("stock cannot be negative")
    category_name = (row.get("category") or "").strip()
    category_row = None
    if category_name:
        category_row = await uow.catalog.category_by_name(category_name)
        if category_row is None:
            category_row = Category(name=category_name[:128])
            uow.catalog.add(category_row)
            await uow.session.flush()
    product = await uow.catalog.by_sku(sku)
    if product is None:
        product = Product(sku=sku[:64], price_minor=price, name=name)
        uow.catalog.add(product)
        result.created += 1
    else:
        result.updated += 1
    product.name = name[:200]
    product.price_minor = price
    product.stock = stock
    product.category_id = category_row.id if category_row else None
    product.brand = (row.get("brand") or "").strip() or None
    product.description = (row.get("description") or "").strip()
    photo = (row.get("photo") or "").strip() or None
    if photo != product.photo:
        product.photo, product.photo_file_id = photo, None
    product.featured = _flag(row.get("featured"), False)
    product.active = _flag(row.get("active"), True)
    product.search_text = search_text(product)
    await uow.session.flush()


def _flag(value: str | None, default: bool) -> bool:
    text = (value or "").strip().lower()
    if not text:
        return default
    if text in {"1", "true", "yes", "y"}:
        return True
    if text in {"0", "false", "no", "n"}:
        return False
    raise ValueError(f"not a yes/no value: {value!r}")


async def export_products_csv(uow: UnitOfWork, currency: str) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS)
    writer.writeheader()
    for p in await uow.catalog.all_products():
        writer.writerow(
            {
                "sku": p.sku,
                "name": p.name,
                "category": p.category.name if p.category else "",
                "price": format_plain(p.price_minor, currency),
                "stock": p.stock,
                "brand": p.brand or "",
                "description": p.description,
                "photo": p.photo or "",
                "featured": "yes" if p.featured else "no",
                "active": "yes" if p.active else "no",
            }
        )
    return out.getvalue()


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
    text = quantity_text.strip()
    if not (text.isdecimal() and text.isascii()) or int(text) > 1_000_000:
        raise InvalidStock(text=quantity_text)
    product = await _by_sku(uow, sku)
    product.stock = int(text)
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


PRODUCT_LIMITS = {"sku": 64, "name": 200, "category": 128, "description": 2000}


def check_field(field_name: str, text: str, currency: str) -> str | int:
    """One answer of the /product conversation, checked: the value to store."""
    value = (text or "").strip()
    if field_name == "price":
        return parse_price(value, currency)
    if field_name == "stock":
        if not (value.isdecimal() and value.isascii()) or int(value) > 1_000_000:
            raise InvalidStock(text=text)
        return int(value)
    if not value or len(value) > PRODUCT_LIMITS[field_name] or (field_name == "sku" and " " in value):
        raise InvalidProductField(field=field_name, max=PRODUCT_LIMITS[field_name])
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
        category_row = await uow.catalog.category_by_name(name)
        if category_row is None:
            category_row = Category(name=name)
            uow.catalog.add(category_row)
            await uow.session.flush()
        product.category_id = category_row.id
    if "photo_file_id" in values:
        product.photo, product.photo_file_id = None, str(values["photo_file_id"])
    product.search_text = search_text(product)
    await uow.commit()
    return product, created
