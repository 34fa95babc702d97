"""Test data made through the same services the bot uses."""

from __future__ import annotations

from typing import Any

from shop.catalog import search_text
from shop.customers import TelegramUser, register_customer
from storage.models import Category, Customer, Product

_next_tg = iter(range(500_000_001, 600_000_000))


async def make_customer(uow: Any, first_name: str = "Ann", **extra: Any) -> Customer:
    async with uow() as u:
        return await register_customer(u, TelegramUser(id=next(_next_tg), first_name=first_name, **extra))


async def make_category(uow: Any, name: str = "Drinks", position: int = 0) -> Category:
    async with uow() as u:
        category = Category(name=name, position=position)
        u.catalog.add(category)
        await u.commit()
        return category


async def make_product(
    uow: Any,
    sku: str = "TEA-1",
    name: str = "Green tea",
    price_minor: int = 450,
    stock: int = 10,
    category: Category | None = None,
    **extra: Any,
) -> Product:
    async with uow() as u:
        product = Product(
            sku=sku,
            name=name,
            price_minor=price_minor,
            stock=stock,
            category_id=category.id if category else None,
            **extra,
        )
        product.search_text = search_text(product)
        u.catalog.add(product)
        await u.commit()
        return product


async def stock_of(uow: Any, product_id: int) -> int:
    async with uow() as u:
        product = await u.catalog.product(product_id)
        return product.stock
