"""Checkouts under contention on SQLite, at service level.

200 customers press "Place order" at once for the last unit of a product (exactly one order, none
oversold), then 50 customers place orders at once for a plentiful one (every order placed, zero
"database is locked"). Reports attempts per second for each round.
"""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from shop import cart, checkout
from shop.config import ShopConfig
from shop.customers import TelegramUser, register_customer
from shop.errors import OutOfStock
from storage.db import create_engine, create_session_factory
from storage.migrations import upgrade
from storage.models import Customer, Order, Product
from storage.uow import UnitOfWork

CONFIG = ShopConfig(currency="USD")


async def ready(factory: Any, telegram_id: int, product_id: int) -> tuple[Customer, str]:
    """A customer with the product in the cart and a checkout at its last step."""
    async with UnitOfWork(factory) as uow:
        customer = await register_customer(uow, TelegramUser(telegram_id, f"C{telegram_id}"))
    async with UnitOfWork(factory) as uow:
        await cart.add_to_cart(uow, customer.id, product_id, 1, CONFIG)
    async with UnitOfWork(factory) as uow:
        draft, _ = await checkout.start_checkout(uow, customer)
    for step in (
        lambda u: checkout.set_fulfilment(u, customer.id, "pickup"),
        lambda u: checkout.set_phone(u, customer.id, "+15550000000"),
        lambda u: checkout.set_payment_method(u, customer.id, "cash", CONFIG),
    ):
        async with UnitOfWork(factory) as uow:
            await step(uow)
    return customer, draft.token


async def storm(factory: Any, ready_customers: list[tuple[Customer, str]]) -> dict[str, Any]:
    outcomes: dict[str, int] = {"placed": 0, "out_of_stock": 0, "database_locked": 0}

    async def place(customer: Customer, token: str) -> None:
        try:
            async with UnitOfWork(factory) as uow:
                await checkout.place_order(uow, customer, token, CONFIG)
            outcomes["placed"] += 1
        except OutOfStock:
            outcomes["out_of_stock"] += 1
        except OperationalError as error:
            if "locked" not in str(error):
                raise
            outcomes["database_locked"] += 1

    started = time.perf_counter()
    await asyncio.gather(*(place(c, t) for c, t in ready_customers))
    elapsed = time.perf_counter() - started
    return {
        **outcomes,
        "seconds": round(elapsed, 3),
        "attempts_per_second": round(len(ready_customers) / elapsed, 1),
    }


async def bench(buyers: int = 200, writers: int = 50) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as folder:
        engine = create_engine(f"sqlite+aiosqlite:///{Path(folder) / 'checkout.db'}")
        await upgrade(engine)
        factory = create_session_factory(engine)
        async with UnitOfWork(factory) as uow:
            await uow.begin_write()
            last = Product(sku="LAST", name="The last cake", price_minor=500, stock=1, search_text="last")
            plenty = Product(sku="TEA", name="Tea", price_minor=150, stock=10_000, search_text="tea")
            uow.catalog.add(last)
            uow.catalog.add(plenty)
            await uow.commit()
        contenders = [await ready(factory, 10_000 + i, last.id) for i in range(buyers)]
        last_unit = await storm(factory, contenders)
        shoppers = [await ready(factory, 20_000 + i, plenty.id) for i in range(writers)]
        many = await storm(factory, shoppers)
        async with UnitOfWork(factory) as uow:
            stock = await uow.session.scalar(select(Product.stock).where(Product.sku == "LAST"))
            orders = await uow.session.scalar(select(func.count(Order.id)))
        await engine.dispose()
    return {
        "benchmark": "checkout",
        "last_unit": {**last_unit, "buyers": buyers, "stock_after": stock},
        "concurrent_writers": {**many, "writers": writers},
        "orders_in_database": orders,
        "oversold": max(0, -int(stock or 0)),
    }


def main(argv: list[str] | None = None) -> None:
    args = argv if argv is not None else sys.argv[1:]
    print(json.dumps(asyncio.run(bench(int(args[0]) if args else 200))))


if __name__ == "__main__":
    main()
