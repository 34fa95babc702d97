"""Orders (state machine, cancel, reorder, receipts), the catalog and CSV, customers' data."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shop import cart as carts
from shop import catalog, checkout, crm, customers, orders, payments
from shop.catalog import ProductQuery
from shop.config import ShopConfig
from shop.errors import CancelNotAllowed, IllegalTransition, NoOrderAwaitingPayment, OrderNotFound
from shop.orders import OrderStatus as S
from shop.translations import Named
from storage.models import Payment
from tests.factories import make_category, make_customer, make_product, stock_of
from tests.shop.test_checkout import CONFIG, ready_checkout


async def placed_order(uow: Any, fulfilment: str = "delivery", quantity: int = 2) -> tuple[Any, Any, Any]:
    ann = await make_customer(uow)
    tea = await make_product(uow, stock=10)
    async with uow() as u:
        await carts.add_to_cart(u, ann.id, tea.id, quantity, CONFIG)
    token = await ready_checkout(uow, ann, fulfilment)
    async with uow() as u:
        order = (await checkout.place_order(u, ann, token, CONFIG)).order
    return ann, tea, order


async def paid_in_full(u: Any, order: Any) -> None:
    """A verified payment of the order's total, as an owner's /pay records it."""
    u.payments.add(
        Payment(
            order_id=order.id,
            amount_minor=order.total_minor,
            method="cash",
            status="verified",
            recorded_by=1,
            verified_by=1,
        )
    )
    await u.session.flush()


async def test_state_machine_and_audit_trail(uow: Any) -> None:
    ann, tea, order = await placed_order(uow, "pickup")
    async with uow() as u:
        await u.begin_write()
        loaded = await u.orders.get(order.id)
        with pytest.raises(IllegalTransition) as error:
            await orders.transition(u, loaded, S.completed, "staff:1", config=ShopConfig())
        assert error.value.params == {
            "number": order.id,
            "current": "pending_payment",
            "wanted": "completed",
            "allowed": ["cancelled", "expired"],  # paid is for payments to reach
        }
        await paid_in_full(u, loaded)
        for status in (S.paid, S.preparing, S.ready, S.completed):
            await orders.transition(u, loaded, status, "staff:1", f"to {status}", config=ShopConfig())
        await u.commit()
    async with uow() as u:
        done = await u.orders.get(order.id)
        assert [e.to_status for e in done.events] == [
            "pending_payment",
            "paid",
            "preparing",
            "ready",
            "completed",
        ]
        assert done.events[-1].actor == "staff:1" and done.paid_at and done.closed_at
        # A pickup order is never "out for delivery".
        assert S.out_for_delivery not in orders.allowed_next(done, ShopConfig())


async def test_paid_is_reached_only_by_verified_payments(uow: Any) -> None:
    """No status command or button makes an order paid: only payments verified up to its total do."""
    owner, clerk = 1, 2
    config = ShopConfig(admin_ids=(owner,))
    ann, tea, order = await placed_order(uow, "pickup")  # $9.00
    async with uow() as u:
        assert S.paid not in orders.allowed_next(await u.orders.get(order.id), config)  # no button for it
        for actor in (owner, clerk):
            with pytest.raises(orders.PaidByPayments) as error:
                await orders.change_status(u, order.id, S.paid, actor, "trust me", config)
            assert error.value.params == {"number": order.id, "paid_minor": 0, "total_minor": 900}
            await u.rollback()
    async with uow() as u:
        await payments.record_payment(u, order.id, "9.00", "cash", None, clerk, config)
    async with uow() as u:
        with pytest.raises(orders.PaidByPayments):  # an employee's payment waits for an owner
            await orders.change_status(u, order.id, S.paid, owner, None, config)
    async with uow() as u:
        assert (await u.orders.get(order.id)).status == "pending_payment"
        [pending] = await u.payments.for_order(order.id)
    async with uow() as u:
        settled = await payments.verify_payment(u, pending.id, owner, config)
    assert settled.order_became_paid
    async with uow() as u:
        paid = await u.orders.get(order.id)
    assert paid.status == "paid" and [e.reason for e in paid.events] == ["placed", f"payment #{pending.id}"]


async def test_customer_cancel_returns_stock(uow: Any) -> None:
    ann, tea, order = await placed_order(uow)
    assert await stock_of(uow, tea.id) == 8
    async with uow() as u:
        cancelled = await orders.cancel_by_customer(u, ann.id, order.id, CONFIG)
    assert cancelled.status == "cancelled" and await stock_of(uow, tea.id) == 10
    async with uow() as u:
        with pytest.raises(CancelNotAllowed) as error:
            await orders.cancel_by_customer(u, ann.id, order.id, CONFIG)
    assert error.value.params["reason"] == "closed"


async def test_cancel_refused_after_window_or_payment(uow: Any) -> None:
    ann, tea, order = await placed_order(uow)
    tight = ShopConfig(cancel_window=timedelta(seconds=0))
    async with uow() as u:
        with pytest.raises(CancelNotAllowed) as error:
            await orders.cancel_by_customer(u, ann.id, order.id, tight)
    assert error.value.params["reason"] == "window"
    async with uow() as u:
        await u.begin_write()
        loaded = await u.orders.get(order.id)
        await paid_in_full(u, loaded)
        await orders.transition(u, loaded, S.paid, "staff:1", config=ShopConfig())
        await u.commit()
    async with uow() as u:
        with pytest.raises(CancelNotAllowed) as error:
            await orders.cancel_by_customer(u, ann.id, order.id, CONFIG)
    assert error.value.params["reason"] == "paid" and await stock_of(uow, tea.id) == 8


async def test_someone_elses_order_is_not_found(uow: Any) -> None:
    ann, tea, order = await placed_order(uow)
    bob = await make_customer(uow, "Bob")
    async with uow() as u:
        with pytest.raises(OrderNotFound):
            await orders.customer_order(u, bob.id, order.id)
        with pytest.raises(OrderNotFound):
            await orders.cancel_by_customer(u, bob.id, order.id, CONFIG)


async def test_reorder_uses_todays_prices(uow: Any) -> None:
    ann, tea, order = await placed_order(uow)
    async with uow() as u:
        (await u.catalog.product(tea.id)).price_minor = 999
        await u.commit()
    async with uow() as u:
        result = await orders.reorder(u, ann.id, order.id, CONFIG)
    assert result.added == [Named("Green tea")] and result.skipped == []
    async with uow() as u:
        view = await carts.view_cart(u, ann.id)
    assert [(line.quantity, line.unit_price_minor) for line in view.lines] == [(2, 999)]
    async with uow() as u:
        (await u.catalog.product(tea.id)).active = False
        await u.commit()
    async with uow() as u:
        assert (await orders.reorder(u, ann.id, order.id, CONFIG)).skipped == [Named("Green tea")]


async def test_receipt_goes_on_the_unpaid_order(uow: Any) -> None:
    ann, tea, order = await placed_order(uow)
    async with uow() as u:
        with_receipt = await orders.attach_receipt(u, ann.id, "AgACfile", CONFIG)
    assert with_receipt.id == order.id and with_receipt.receipt_file_id == "AgACfile"
    bob = await make_customer(uow, "Bob")
    async with uow() as u:
        with pytest.raises(NoOrderAwaitingPayment):
            await orders.attach_receipt(u, bob.id, "AgACother", CONFIG)


async def test_history_pages(uow: Any) -> None:
    ann = await make_customer(uow)
    tea = await make_product(uow, stock=100)
    for _ in range(7):
        async with uow() as u:
            await carts.add_to_cart(u, ann.id, tea.id, 1, CONFIG)
        token = await ready_checkout(uow, ann, "pickup")
        async with uow() as u:
            await checkout.place_order(u, ann, token, CONFIG)
    async with uow() as u:
        first = await orders.history(u, ann.id, 0, 5)
        second = await orders.history(u, ann.id, 1, 5)
    assert first.pages == 2 and len(first.orders) == 5 and len(second.orders) == 2
    assert first.orders[0].id > first.orders[-1].id  # newest first


# --- catalog ----------------------------------------------------------------------------------------
async def test_the_featured_shelf_needs_an_active_featured_product(uow: Any) -> None:
    drinks = await make_category(uow, "Drinks")
    await make_product(uow, "T1", "Green tea", 450, 5, drinks)
    await make_product(uow, "T2", "Old tea", 450, 5, drinks, featured=True, active=False)
    async with uow() as u:
        assert not (await catalog.categories(u)).any_featured  # only a hidden product is featured
    await make_product(uow, "T3", "New tea", 450, 5, drinks, featured=True)
    async with uow() as u:
        shelves = await catalog.categories(u)
    assert shelves.any_featured and [(c.name, c.products) for c in shelves.items] == [("Drinks", 2)]


async def test_browse_filters_and_search(uow: Any) -> None:
    drinks = await make_category(uow, "Drinks")
    food = await make_category(uow, "Food", 1)
    await make_product(uow, "T1", "Green tea", 450, 5, drinks, brand="Leafy", featured=True)
    await make_product(uow, "T2", "Black tea", 350, 0, drinks, brand="Leafy")
    await make_product(uow, "C1", "Flat white", 500, 9, drinks, brand="Bean & Co")
    await make_product(uow, "F1", "Lemon cake", 300, 2, food)
    await make_product(uow, "F2", "Hidden cake", 300, 2, food, active=False)
    async with uow() as u:
        shelves = await catalog.categories(u)
        assert {c.name: c.products for c in shelves.items} == {"Drinks": 3, "Food": 1}
        assert shelves.any_featured  # the green tea
        page = await catalog.browse(u, ProductQuery(category_id=drinks.id), 0, 2)
        assert (page.pages, page.total, [p.name for p in page.products]) == (2, 3, ["Green tea", "Black tea"])
        last = await catalog.browse(u, ProductQuery(category_id=drinks.id), 99, 2)  # a stale page number
        assert last.page == 1 and [p.name for p in last.products] == ["Flat white"]

        async def names(**filters: Any) -> list[str]:
            return [p.name for p in (await catalog.browse(u, ProductQuery(**filters), 0, 10)).products]

        assert await names(brand="Leafy", in_stock=True) == ["Green tea"]
        assert await names(min_price_minor=400, max_price_minor=500) == ["Green tea", "Flat white"]
        assert await names(featured=True) == ["Green tea"]
        assert await names(text="TEA") == ["Green tea", "Black tea"]
        assert await names(text="cake") == ["Lemon cake"]
        assert await names(text="100%_") == []  # LIKE wildcards are matched literally
        shelf = await catalog.shelf(u, ProductQuery(category_id=drinks.id))
        assert (shelf.brands, shelf.price_range) == (["Bean & Co", "Leafy"], (350, 500))
        food_shelf = await catalog.shelf(u, ProductQuery(category_id=food.id))  # the hidden cake left out
        assert (food_shelf.brands, food_shelf.price_range) == ([], (300, 300))
        empty = await catalog.shelf(u, ProductQuery(category_id=food.id, brand="Leafy"))
        assert (empty.brands, empty.price_range) == ([], None)


async def test_csv_round_trip_and_all_or_nothing(uow: Any, tmp_path: Path) -> None:
    good = (
        "sku,name,category,price,stock,brand,description,photo,featured,active\n"
        "TEA-1,Green tea,Drinks,4.50,10,Leafy,Fresh <leaves> & more,,yes,yes\n"
        "CAKE-1,Lemon cake,Food,3,4,,,,no,\n"
    )
    async with uow() as u:
        result = await catalog.import_products_csv(u, good, "USD", tmp_path)
    assert (result.created, result.updated, result.errors) == (2, 0, [])
    async with uow() as u:
        exported = await catalog.export_products_csv(u, "USD")
    assert "TEA-1,Green tea,Drinks,4.50,10,Leafy,Fresh <leaves> & more,,yes,yes" in exported
    async with uow() as u:
        again = await catalog.import_products_csv(u, exported, "USD", tmp_path)
    assert (again.created, again.updated) == (0, 2)
    bad = "sku,name,price,stock\nTEA-1,Green tea,4.555,10\nNEW,New thing,1,-3\n,nameless,1,1\n"
    async with uow() as u:
        refused = await catalog.import_products_csv(u, bad, "USD", tmp_path)
    assert [(e.row, e.column) for e in refused.errors] == [(2, "price"), (3, "stock"), (4, "sku")]
    async with uow() as u:
        assert (await u.catalog.by_sku("TEA-1")).price_minor == 450 and await u.catalog.by_sku("NEW") is None


# --- customers ----------------------------------------------------------------------------------------
async def test_register_export_and_forget(uow: Any) -> None:
    user = customers.TelegramUser(id=777, first_name="Ann <b>", username="ann", language_code="ru")
    async with uow() as u:
        ann = await customers.register_customer(u, user)
    async with uow() as u:
        same = await customers.register_customer(u, user)
    assert same.id == ann.id and same.first_name == "Ann <b>"
    tea = await make_product(uow)
    async with uow() as u:
        await carts.add_to_cart(u, ann.id, tea.id, 1, CONFIG)
    token = await ready_checkout(uow, ann)
    async with uow() as u:
        order = (await checkout.place_order(u, ann, token, CONFIG)).order
    async with uow() as u:
        await crm.add_note(u, ann.id, "Prefers oat milk & <no> sugar", author=1)
    async with uow() as u:
        data = await customers.export_data(u, ann.id)
    assert data["customer"]["username"] == "ann" and data["orders"][0]["address"] == "12 Baker Street, flat 3"
    assert [(n["text"], "author" in n) for n in data["staff_notes"]] == [
        ("Prefers oat milk & <no> sugar", False)
    ]
    assert data["addresses"][0]["text"] == "12 Baker Street, flat 3"
    assert data["loyalty_points"] == [] and data["customer"]["cart_reminders"] is True
    async with uow() as u:
        await customers.forget_customer(u, ann.id)
    async with uow() as u:
        forgotten = await u.customers.get(ann.id)
        kept = await u.orders.get(order.id)
        assert (forgotten.first_name, forgotten.username, forgotten.phone) == ("", None, None)
        assert forgotten.deleted_at and forgotten.telegram_id != 777
        assert (kept.total_minor, kept.address_text, kept.phone) == (order.total_minor, None, None)
        assert await u.customers.addresses(ann.id) == []
        assert await u.customers.by_telegram_id(777) is None


async def test_forgetting_a_customer_erases_their_messages_alerts_and_notes(uow: Any) -> None:
    """The outbox keeps what was said (a staff alert holds the name, phone, address and notes) and staff
    keep notes: they go with the customer, sent or not, and nobody else's do."""
    from dataclasses import replace

    from sqlalchemy import func, select

    from shop.notifications import notify_customer
    from storage.models import Order, OutboxMessage, Payment

    config = replace(CONFIG, staff_chat_id=-100)
    await make_product(uow, stock=10)
    ann, bob = await make_customer(uow, "Ann"), await make_customer(uow, "Bob")
    for who in (ann, bob):
        async with uow() as u:
            await carts.add_to_cart(u, who.id, (await u.catalog.by_sku("TEA-1")).id, 1, config)
        token = await ready_checkout(uow, who)
        async with uow() as u:
            await checkout.place_order(u, who, token, config)
        async with uow() as u:
            order = await orders.attach_receipt(u, who.id, f"receipt-photo-of-{who.first_name}", config)
        async with uow() as u:
            await payments.record_payment(u, order.id, "1.00", "transfer", f"T-{who.id}", 1, config)
    async with uow() as u:
        await u.begin_write()
        # a message queued before the outbox named whose data it holds: found by its chat
        await u.outbox.enqueue(
            OutboxMessage(kind="old", chat_id=ann.telegram_id, template="notify.status", dedupe_key="old")
        )
        await notify_customer(u, ann, config, kind="k", template="notify.status", key="ann:2")
        await u.commit()
    for who in (ann, bob):
        async with uow() as u:
            await crm.add_note(u, who.id, f"{who.first_name} is allergic to nuts", author=1)

    async def rows(u: Any, *where: Any) -> int:
        return int(await u.session.scalar(select(func.count(OutboxMessage.id)).where(*where)))

    async with uow() as u:
        assert await rows(u, OutboxMessage.chat_id == -100) == 6  # each order's alert, receipt, payment
        assert await rows(u, OutboxMessage.about_customer_id == ann.id) == 5  # and her order's confirmation
        assert await rows(u, OutboxMessage.chat_id == ann.telegram_id) == 3
        everyone_else = await rows(u, OutboxMessage.about_customer_id == bob.id)
    async with uow() as u:
        await customers.forget_customer(u, ann.id)
    async with uow() as u:
        assert await rows(u, OutboxMessage.about_customer_id == ann.id) == 0
        assert await rows(u, OutboxMessage.chat_id == ann.telegram_id) == 0
        assert await rows(u, OutboxMessage.chat_id == -100) == 3  # Bob's
        assert await rows(u, OutboxMessage.about_customer_id == bob.id) == everyone_else
        assert await u.notes.for_customer(ann.id) == [] and len(await u.notes.for_customer(bob.id)) == 1
        photos = await u.session.execute(
            select(Order.customer_id, Order.receipt_file_id, Payment.proof_file_id).join(Payment)
        )
        assert sorted(tuple(row) for row in photos) == [
            (ann.id, None, None),
            (bob.id, "receipt-photo-of-Bob", "receipt-photo-of-Bob"),
        ]


async def test_search_uses_the_engines_index_and_follows_edits(uow: Any) -> None:
    from sqlalchemy import text

    tea = await make_product(uow, "T1", "Green tea", 450, 5)
    await make_product(uow, "Q1", 'The "best" scone', 300, 5)
    async with uow() as u:

        async def names(query: str) -> list[str]:
            return [p.name for p in (await catalog.browse(u, ProductQuery(text=query), 0, 10)).products]

        assert await names("ree") == ["Green tea"]  # inside a word
        assert await names('"best"') == ['The "best" scone']  # quotes are text, not query syntax
        assert await names("te") == ["Green tea"]  # shorter than a trigram: a plain scan
        dialect = u.session.bind.dialect.name
        if dialect == "sqlite":
            plan = await u.session.execute(
                text("EXPLAIN QUERY PLAN SELECT rowid FROM products_fts WHERE products_fts MATCH '\"ree\"'")
            )
            assert "VIRTUAL TABLE INDEX" in " ".join(str(row) for row in plan)
        else:
            indexes = await u.session.scalars(
                text("SELECT indexname FROM pg_indexes WHERE tablename = 'products'")
            )
            assert "ix_products_search_trgm" in list(indexes)
    async with uow() as u:
        await u.begin_write()
        product = await u.catalog.product(tea.id)
        product.name = "Jasmine tea"
        product.search_text = catalog.search_text(product)
        await u.commit()
    async with uow() as u:
        found = [p.name for p in (await catalog.browse(u, ProductQuery(text="jasmine"), 0, 10)).products]
        gone = [p.name for p in (await catalog.browse(u, ProductQuery(text="green"), 0, 10)).products]
    assert (found, gone) == (["Jasmine tea"], [])


async def test_search_finds_and_counts_active_products_only(uow: Any) -> None:
    """Hiding, showing again and deleting a product keep search and its count right (the SQLite index
    holds active products only and counts text searches by itself)."""
    from sqlalchemy import delete

    from storage.models import Product

    teas = [await make_product(uow, f"T{i}", f"Green tea {i}", 450, 5) for i in range(3)]
    hidden = await make_product(uow, "T9", "Green tea hidden", 450, 5, active=False)

    async def found(query: ProductQuery) -> tuple[list[str], int]:
        async with uow() as u:
            page = await catalog.browse(u, query, 0, 2)
        return [p.name for p in page.products], page.total

    async def edit(product_id: int, **values: Any) -> None:
        async with uow() as u:
            await u.begin_write()
            product = await u.catalog.product(product_id)
            for name, value in values.items():
                setattr(product, name, value)
            product.search_text = catalog.search_text(product)
            await u.commit()

    assert await found(ProductQuery(text="green")) == (["Green tea 0", "Green tea 1"], 3)
    await edit(teas[0].id, active=False)
    await edit(hidden.id, active=True)
    assert await found(ProductQuery(text="green tea")) == (["Green tea 1", "Green tea 2"], 3)
    assert (await found(ProductQuery(text="hidden")))[1] == 1
    await edit(hidden.id, active=False, name="Green tea gone")  # hidden and renamed in one change
    assert await found(ProductQuery(text="hidden")) == ([], 0)
    assert await found(ProductQuery(text="gone")) == ([], 0)
    await edit(teas[0].id, active=True, name="Green tea back")
    assert await found(ProductQuery(text="back")) == (["Green tea back"], 1)
    # Other filters, or a word too short for the index, are counted over the products themselves.
    assert (await found(ProductQuery(text="green", in_stock=True)))[1] == 3
    assert (await found(ProductQuery(text="green 1")))[1] == 1
    async with uow() as u:
        await u.begin_write()
        await u.session.execute(delete(Product).where(Product.id == teas[1].id))
        await u.commit()
    # in the order they were added (the catalog's own), not by name
    assert await found(ProductQuery(text="green")) == (["Green tea back", "Green tea 2"], 2)


def test_price_bands_are_round_never_overlap_and_never_empty() -> None:
    """Coffee at $2.50–$7.26 offered "$2.50–$4.88" and "$4.88–$7.26": edges shared, one range empty."""
    assert catalog.price_bands([250, 300, 350, 420, 488, 726]) == [(200, 400), (400, 600), (600, 800)]
    assert catalog.price_bands([450]) == [] and catalog.price_bands([450, 460]) == []  # nothing to split

    @given(st.lists(st.integers(min_value=0, max_value=10**9), min_size=1, max_size=60))
    def check(prices: list[int]) -> None:
        bands = catalog.price_bands(sorted(set(prices)))
        assert len(bands) <= 4
        for (_, high), following in zip(bands, bands[1:], strict=False):
            assert high <= following[0]  # no overlap
        for low, high in bands:
            step = high - low
            assert low % step == 0 and str(step).strip("0") in {"1", "2", "5"}  # round edges
            assert any(low <= p < high for p in prices)  # never empty
        if bands:
            assert all(sum(low <= p < high for low, high in bands) == 1 for p in prices)  # each price once

    check()


async def test_a_category_page_is_read_in_menu_order_from_the_catalog_index(uow: Any) -> None:
    """A page of a category is shown featured first, then in the catalog's own order (by id): the index
    it walks is in that order (migration 0016), so it reads one page, not a sort of the whole category."""
    from sqlalchemy import text

    from storage.repositories import CatalogRepository

    async with uow() as u:
        if u.session.bind.dialect.name != "sqlite":
            pytest.skip("PostgreSQL plans by its statistics of the rows")
        values = CatalogRepository._filter_values(ProductQuery(category_id=1), None, [])
        statement = CatalogRepository._built("page", values)
        sql = statement.compile(dialect=u.session.bind.dialect).string
        rows = await u.session.execute(text(f"EXPLAIN QUERY PLAN {sql.replace('?', 'NULL')}"))
        plan = " | ".join(str(row[-1]) for row in rows)
    assert "ix_products_catalog" in plan and "TEMP B-TREE" not in plan, plan
