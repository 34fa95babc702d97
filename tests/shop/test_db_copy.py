"""`orderbot db copy`: a SQLite shop moves to another database (PostgreSQL when configured) intact."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from shop import cart as carts
from shop import checkout, payments
from storage.copy import CopyRefused, copy_database
from storage.db import create_engine, create_session_factory
from storage.migrations import upgrade
from storage.models import Base, LoyaltyEntry, Order
from storage.uow import UnitOfWork
from tests.conftest import DATABASES, fresh_database_url
from tests.e2e.test_orderbot_process import orderbot, run
from tests.factories import make_customer, make_product
from tests.shop.test_checkout import ready_checkout
from tests.shop.test_loyalty import CONFIG, OWNER


async def a_shop(url: str) -> Any:
    engine = create_engine(url)
    await upgrade(engine)
    factory = create_session_factory(engine)
    uow = lambda: UnitOfWork(factory)  # noqa: E731
    ann = await make_customer(uow, "Ann <&>")
    tea = await make_product(uow, price_minor=25_000, stock=5)
    async with uow() as u:
        await carts.add_to_cart(u, ann.id, tea.id, 1, CONFIG)
    token = await ready_checkout(uow, ann)
    async with uow() as u:
        order = (await checkout.place_order(u, ann, token, CONFIG)).order
    async with uow() as u:
        await payments.record_payment(u, order.id, "250.00", "cash", None, OWNER, CONFIG)
    await engine.dispose()
    return order


async def counts(url: str) -> dict[str, int]:
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            return {
                t.name: int(await connection.scalar(select(func.count()).select_from(t)) or 0)
                for t in Base.metadata.sorted_tables
            }
    finally:
        await engine.dispose()


@pytest.mark.parametrize("target_kind", DATABASES)
async def test_a_shop_is_copied_whole_and_keeps_working(tmp_path: Path, target_kind: str) -> None:
    source = f"sqlite+aiosqlite:///{tmp_path / 'source.db'}"
    order = await a_shop(source)
    (tmp_path / "target").mkdir()
    target = await fresh_database_url(target_kind, tmp_path / "target")
    copied = await copy_database(source, target)
    assert copied["orders"] == 1 and copied["loyalty_ledger"] == 1 and copied["outbox"] >= 2
    assert await counts(target) == await counts(source)

    engine = create_engine(target)
    factory = create_session_factory(engine)
    try:
        async with UnitOfWork(factory) as u:
            moved = await u.orders.get(order.id)
            [entry] = await u.session.scalars(select(LoyaltyEntry))
            customer = await u.customers.get(moved.customer_id)
        assert (moved.total_minor, moved.status, customer.first_name) == (25_000, "paid", "Ann <&>")
        assert moved.created_at == order.created_at and moved.created_at.tzinfo is not None
        assert entry.points == 25 and entry.expires_at is not None
        uow = lambda: UnitOfWork(factory)  # noqa: E731
        bob = await make_customer(uow, "Bob")  # new rows get fresh ids after the copied ones
        async with UnitOfWork(factory) as u:
            assert bob.id > moved.customer_id
            assert await u.session.scalar(select(func.max(Order.id))) == order.id
    finally:
        await engine.dispose()
    with pytest.raises(CopyRefused):
        await copy_database(source, target)  # never over a shop


async def test_the_command_line_copies_and_refuses_a_full_target(tmp_path: Path) -> None:
    source = f"sqlite+aiosqlite:///{tmp_path / 'source.db'}"
    await a_shop(source)
    target = f"sqlite+aiosqlite:///{tmp_path / 'target.db'}"
    code, out, err = await run(orderbot("db", "copy", source, target), dict(os.environ), tmp_path)
    assert code == 0 and "orders: 1" in out and "point DATABASE_URL" in out, err
    code, out, err = await run(orderbot("db", "copy", source, target), dict(os.environ), tmp_path)
    assert code == 1 and "nothing copied: the target database is not empty" in err
