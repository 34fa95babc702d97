"""A big catalog at service level on SQLite: 100 000 products, 10 000 customers.

Times a catalog page (a category, a random page, with the count) and a search (a word of the product
names, through the FTS5 trigram index), each in its own unit of work as an update would, and reports
p50/p95/p99 in milliseconds; then starts ``orderbot run`` on that database and reports its resident
memory once idle, beside a bare aiogram bot's (``bench.echo_bot``) as the floor any aiogram bot pays.
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy import insert

from shop import catalog
from shop.catalog import ProductQuery
from storage.db import create_engine, create_session_factory
from storage.migrations import upgrade
from storage.models import Category, Customer, Product
from storage.uow import UnitOfWork

from .updates import idle_rss, percentile, rss_mb, shop_env

WORDS = [
    "green",
    "black",
    "mint",
    "earl",
    "jasmine",
    "oolong",
    "chai",
    "matcha",
    "lemon",
    "ginger",
    "cocoa",
    "mocha",
    "latte",
    "vanilla",
    "caramel",
    "honey",
    "almond",
    "hazel",
    "cherry",
    "berry",
    "apple",
    "peach",
    "mango",
    "coconut",
    "cinnamon",
    "nutmeg",
    "maple",
    "orange",
    "lime",
    "rose",
]
KINDS = ["tea", "coffee", "cake", "scone", "muffin", "tart", "cookie", "bread", "juice", "syrup"]


async def fill(factory: Any, products: int, customers: int, categories: int) -> None:
    rng = random.Random(7)
    async with UnitOfWork(factory) as uow:
        await uow.begin_write()
        await uow.session.execute(
            insert(Category),
            [{"name": f"Category {i}", "position": i, "active": True} for i in range(categories)],
        )
        rows = []
        for i in range(products):
            name = f"{rng.choice(WORDS).title()} {rng.choice(WORDS)} {rng.choice(KINDS)} {i}"
            rows.append(
                {
                    "sku": f"SKU-{i:06d}",
                    "category_id": 1 + i % categories,
                    "name": name,
                    "description": "",
                    "brand": f"Brand {i % 50}",
                    "price_minor": rng.randint(100, 5000),
                    "stock": rng.randint(0, 50),
                    "featured": i % 100 == 0,
                    "active": True,
                    "search_text": f"{name} brand {i % 50} sku-{i:06d}".lower(),
                }
            )
            if len(rows) == 5000:
                await uow.session.execute(insert(Product), rows)
                rows = []
        if rows:
            await uow.session.execute(insert(Product), rows)
        await uow.session.execute(
            insert(Customer), [{"telegram_id": 10**9 + i, "first_name": f"C{i}"} for i in range(customers)]
        )
        await uow.commit()


async def timed(factory: Any, runs: int, make_query: Any) -> dict[str, float]:
    samples = []
    for _ in range(runs):
        query, page = make_query()
        started = time.perf_counter()
        async with UnitOfWork(factory) as uow:
            await catalog.browse(uow, query, page, 6)
        samples.append((time.perf_counter() - started) * 1000)
    return {
        "p50_ms": round(statistics.median(samples), 2),
        "p95_ms": round(percentile(samples, 0.95), 2),
        "p99_ms": round(percentile(samples, 0.99), 2),
    }


async def bench(products: int = 100_000, customers: int = 10_000, runs: int = 300) -> dict[str, Any]:
    categories = 20
    rng = random.Random(11)
    with tempfile.TemporaryDirectory() as folder:
        engine = create_engine(f"sqlite+aiosqlite:///{Path(folder) / 'catalog.db'}")
        await upgrade(engine)
        factory = create_session_factory(engine)
        started = time.perf_counter()
        await fill(factory, products, customers, categories)
        loaded = time.perf_counter() - started
        per_category = products // categories
        page = await timed(
            factory,
            runs,
            lambda: (ProductQuery(category_id=rng.randint(1, categories)), rng.randint(0, per_category // 6)),
        )
        search = await timed(factory, runs, lambda: (ProductQuery(text=rng.choice(WORDS)), 0))
        two_words = await timed(
            factory, runs, lambda: (ProductQuery(text=f"{rng.choice(WORDS)} {rng.choice(KINDS)}"), 0)
        )
        gc.collect()
        memory = rss_mb(os.getpid())
        await engine.dispose()
        python, folder_path = sys.executable, Path(folder)
        env = shop_env(f"sqlite+aiosqlite:///{folder_path / 'catalog.db'}", folder_path)
        bot_rss = await idle_rss([python, "-m", "bot.cli", "run"], env, folder_path)
        bare_rss = await idle_rss([python, "-m", "bench.echo_bot"], {}, folder_path)
    return {
        "benchmark": "catalog",
        "products": products,
        "customers": customers,
        "load_seconds": round(loaded, 1),
        "page": page,
        "search_one_word": search,
        "search_two_words": two_words,
        "target_p95_ms": 20,
        "bench_process_rss_mb": round(memory, 1),
        "idle_bot_rss_mb": round(bot_rss, 1),
        "idle_bare_aiogram_bot_rss_mb": round(bare_rss, 1),
        "target_rss_mb": 150,
    }


def main(argv: list[str] | None = None) -> None:
    args = argv if argv is not None else sys.argv[1:]
    print(json.dumps(asyncio.run(bench(int(args[0]) if args else 100_000))))


if __name__ == "__main__":
    main()
