"""/forgetme: nothing the shop wrote about the customer survives in the database, on SQLite not even in
the files (the database, its WAL and shared memory), while the books keep their numbers."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.engine import make_url

from shop import cart as carts
from shop import checkout, crm, customers, loyalty, orders, payments
from shop.config import ShopConfig
from shop.orders import OrderStatus
from storage.models import Base, Customer, LoyaltyEntry, Order, OrderEvent, OutboxMessage, Payment, utcnow
from tests.factories import make_product

OWNER = 1
CONFIG = ShopConfig(
    currency="USD",
    admin_ids=(OWNER,),
    staff_chat_id=-100,
    payment_methods=("transfer", "cash"),
    points_per_unit=Decimal(1),
)
NAME, PHONE = "Zebediah", "9998887766"  # what must be gone: the name, and the phone's digits
MARKS = (NAME, PHONE)


async def placed(
    uow: Any, who: Any, notes: str, phone: str = f"+1{PHONE}", address: str = f"7 {NAME} Lane, flat 2"
) -> Order:
    """An order by delivery, with the customer's phone, address and notes."""
    tea = await make_product(uow, f"TEA-{notes[:3]}", "Green tea", 500, 10)
    async with uow() as u:
        await carts.add_to_cart(u, who.id, tea.id, 1, CONFIG)
    async with uow() as u:
        draft, _ = await checkout.start_checkout(u, who)
    async with uow() as u:
        await checkout.set_fulfilment(u, who.id, "delivery")
    async with uow() as u:
        await checkout.set_address(u, who.id, address, CONFIG)
    async with uow() as u:
        await checkout.set_phone(u, who.id, phone)
    async with uow() as u:
        await checkout.set_notes(u, who.id, notes, CONFIG)
    async with uow() as u:
        await checkout.set_payment_method(u, who.id, "transfer", CONFIG)
    async with uow() as u:
        return (await checkout.place_order(u, who, draft.token, CONFIG)).order


async def registered(uow: Any, first_name: str, last_name: str) -> Customer:
    telegram_id = 700_000_000 + len(first_name) * 1000 + len(last_name)
    async with uow() as u:
        user = customers.TelegramUser(id=telegram_id, first_name=first_name, last_name=last_name)
        return await customers.register_customer(u, user)


async def rows_mentioning(uow: Any, *marks: str) -> list[str]:
    """Every row of every table that holds one of ``marks`` anywhere, as text."""
    found = []
    async with uow() as u:
        for table in Base.metadata.sorted_tables:
            for row in await u.session.execute(select(table)):
                text = repr(tuple(row))
                found += [f"{table.name}: {text}" for mark in marks if mark in text]
    return found


async def test_forgetting_a_customer_leaves_no_trace_of_them_in_the_database(
    uow: Any, database_url: str
) -> None:
    """The free text written about them goes too: staff's status notes, a rejected payment's reason, a
    points adjustment's reason, the alerts sent long ago. On SQLite, freed space is zeroed (secure_delete)
    and the WAL emptied, so no old copy of a page keeps them; orders and payments keep their numbers."""
    zeb = await registered(uow, NAME, "Quartz")
    async with uow() as u:  # a new Telegram name: the old one was overwritten in place
        zeb = await customers.register_customer(
            u, customers.TelegramUser(id=zeb.telegram_id, first_name="Zeb", username="zeb_q")
        )
    first = await placed(uow, zeb, f"Ring twice, ask for {NAME}")
    second = await placed(uow, zeb, "Leave it at the door")
    async with uow() as u:
        payment = await payments.record_payment(u, first.id, "5.00", "transfer", "BANK-1", 2, CONFIG)
    async with uow() as u:  # an employee's: pending, then the owner turns it down
        await payments.reject_payment(u, payment.payment.id, OWNER, f"{NAME}'s transfer bounced", CONFIG)
    async with uow() as u:
        note = f"{NAME} asked to cancel, call +1{PHONE}"
        await orders.change_status(u, first.id, OrderStatus.cancelled, OWNER, note, CONFIG)
    async with uow() as u:
        await payments.record_payment(u, second.id, "8.00", "cash", None, OWNER, CONFIG)
    async with uow() as u:
        await loyalty.adjust(u, zeb, 5, f"Birthday of {NAME}, +1{PHONE}", OWNER, CONFIG)
    async with uow() as u:
        await crm.add_note(u, zeb.id, f"{NAME} likes oat milk; call +1{PHONE}", OWNER)
    async with uow() as u:  # a month on: alerts sent long ago are swept out (before any erasure)
        await u.begin_write()
        await u.session.execute(update(OutboxMessage.__table__).values(status="sent"))
        assert await u.outbox.forget_done_before(utcnow().replace(year=utcnow().year + 1)) > 0
        await u.commit()
    await placed(uow, zeb, f"Third time, {NAME} again")  # alerts still waiting
    ann = await registered(uow, "Ann", "Other")
    await placed(uow, ann, "Ann's own order", "+15550001111", "1 Other Road, flat 1")
    assert await rows_mentioning(uow, *MARKS)

    async with uow() as u:
        await customers.forget_customer(u, zeb.id)

    assert await rows_mentioning(uow, *MARKS) == []
    assert await rows_mentioning(uow, "Ann's own order")  # nobody else is forgotten
    async with uow() as u:
        kept = (
            await u.session.execute(select(Order.id, Order.total_minor).where(Order.customer_id == zeb.id))
        ).all()
        assert [total for _, total in kept] == [first.total_minor, second.total_minor, kept[2][1]]
        amounts = await u.session.scalars(select(Payment.amount_minor).order_by(Payment.id))
        assert list(amounts) == [500, 800]
        events = await u.session.scalars(select(OrderEvent.to_status).where(OrderEvent.order_id == first.id))
        assert list(events) == ["pending_payment", "cancelled"]  # the trail stays, without its notes
        assert (
            await u.session.scalar(select(LoyaltyEntry.points).where(LoyaltyEntry.kind == "adjusted"))
        ) == 5
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        database = Path(str(url.database))
        files = [
            database,
            database.with_name(database.name + "-wal"),
            database.with_name(database.name + "-shm"),
        ]
        for file in files:
            data = file.read_bytes() if file.exists() else b""
            assert [mark for mark in MARKS if mark.encode() in data] == [], file.name
        assert b"Ann's own order" in database.read_bytes()  # the grep finds what is there
