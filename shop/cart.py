"""The cart: kept in the database, checked against today's stock and prices before it is shown."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from storage.models import Cart, CartItem, Product, utcnow
from storage.uow import UnitOfWork

from .config import ShopConfig
from .errors import CartFull, OutOfStock, ProductUnavailable
from .limits import MAX_LINES, check_quantity
from .translations import Translations, names_only


@dataclass
class CartLine:
    product_id: int
    sku: str
    name: str
    unit_price_minor: int
    quantity: int
    stock: int
    translations: Translations | None = None  # the product's (``shop.translations.localized``)

    @property
    def total_minor(self) -> int:
        return self.unit_price_minor * self.quantity


@dataclass
class CartChange:
    """Something that changed since the customer put the item in: told before checkout."""

    kind: str  # "price" | "reduced" | "removed"
    name: str
    old: int = 0
    new: int = 0
    translations: Translations | None = None  # the product's names


@dataclass
class CartView:
    lines: list[CartLine]
    changes: list[CartChange] = field(default_factory=list)

    @property
    def total_minor(self) -> int:
        return sum(line.total_minor for line in self.lines)

    @property
    def count(self) -> int:
        return sum(line.quantity for line in self.lines)


def row_line(row: Any) -> CartLine:
    """A line of ``CartRepository.lines``."""
    return CartLine(row.id, row.sku, row.name, row.price_minor, row.quantity, row.stock, row.translations)


def _line(item: CartItem) -> CartLine:
    p = item.product
    return CartLine(p.id, p.sku, p.name, p.price_minor, item.quantity, p.stock, p.translations)


def short_of(product: Product, wanted: int, available: int) -> dict[str, Any]:
    """A line of ``OutOfStock``: the product's names, how many were wanted and how many there are."""
    return {
        "name": product.name,
        "translations": names_only(product.translations),
        "wanted": wanted,
        "available": available,
    }


async def view_cart(uow: UnitOfWork, customer_id: int) -> CartView:
    """The cart as it can be bought now; price, stock and availability changes are applied and listed.
    Inside a writer's transaction the changes join it (its owner commits); otherwise they are committed.
    Read as rows first: when nothing changed (nearly always) no object is built."""
    rows = await uow.carts.lines(customer_id)
    if all(r.active and 0 < r.quantity <= r.stock and r.price_seen_minor == r.price_minor for r in rows):
        return CartView([row_line(r) for r in rows])
    cart = await uow.carts.cart(customer_id)
    if cart is None or not cart.items:
        return CartView([])
    changes = _changes(cart)
    if changes:
        began = await uow.begin_write()
        if began:  # read before this writer's transaction: read again
            cart = await uow.carts.cart(customer_id)
            assert cart is not None
            changes = _changes(cart)
        _apply(cart)
        if began:
            await uow.commit()
    return CartView([_line(item) for item in cart.items], changes)


def _changes(cart: Cart) -> list[CartChange]:
    changes = []
    for item in cart.items:
        p = item.product
        names = names_only(p.translations)
        if not p.active or p.stock <= 0:
            changes.append(CartChange("removed", p.name, translations=names))
            continue
        if item.quantity > p.stock:
            changes.append(CartChange("reduced", p.name, item.quantity, p.stock, names))
        if item.price_seen_minor != p.price_minor:
            changes.append(CartChange("price", p.name, item.price_seen_minor, p.price_minor, names))
    return changes


def _apply(cart: Cart) -> None:
    for item in list(cart.items):
        p = item.product
        if not p.active or p.stock <= 0:
            cart.items.remove(item)
            continue
        item.quantity = min(item.quantity, p.stock)
        item.price_seen_minor = p.price_minor
    cart.updated_at = utcnow()


async def add_to_cart(
    uow: UnitOfWork, customer_id: int, product_id: int, quantity: int, config: ShopConfig
) -> CartView:
    check_quantity(quantity)
    await uow.begin_write()
    product = await uow.catalog.product(product_id)
    if product is None or not product.active:
        raise ProductUnavailable(product_id=product_id)
    wanted = quantity + await uow.carts.quantity(customer_id, product_id)
    check_quantity(wanted)
    if wanted > product.stock:
        raise OutOfStock(items=[short_of(product, wanted, product.stock)])
    await uow.carts.put_line(customer_id, product_id, wanted, product.price_minor)
    rows = await uow.carts.lines(customer_id)
    if len(rows) > MAX_LINES:  # this product would be one too many: the line is taken back
        await uow.rollback()
        raise CartFull(max=MAX_LINES)
    await uow.commit()
    return CartView([row_line(r) for r in rows])


async def change_quantity(
    uow: UnitOfWork, customer_id: int, product_id: int, delta: int, config: ShopConfig
) -> CartView:
    """+1/−1 from the cart's buttons; down to zero removes the line."""
    await uow.begin_write()
    cart = await uow.carts.get_or_create(customer_id)
    item = next((i for i in cart.items if i.product_id == product_id), None)
    if item is None:
        raise ProductUnavailable(product_id=product_id)
    wanted = item.quantity + delta
    if wanted <= 0:
        cart.items.remove(item)
    else:
        check_quantity(wanted)
        if wanted > item.product.stock:
            raise OutOfStock(items=[short_of(item.product, wanted, item.product.stock)])
        item.quantity = wanted
    cart.updated_at = utcnow()
    await uow.commit()
    return CartView([_line(i) for i in cart.items])


async def remove_from_cart(uow: UnitOfWork, customer_id: int, product_id: int) -> CartView:
    await uow.begin_write()
    cart = await uow.carts.get_or_create(customer_id)
    cart.items[:] = [i for i in cart.items if i.product_id != product_id]
    cart.updated_at = utcnow()
    await uow.commit()
    return CartView([_line(i) for i in cart.items])


async def clear_cart(uow: UnitOfWork, customer_id: int) -> None:
    await uow.begin_write()
    cart = await uow.carts.get_or_create(customer_id)
    cart.items.clear()
    cart.updated_at = utcnow()
    await uow.commit()
