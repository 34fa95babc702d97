"""Customers as staff see them: search, profile, metrics computed from orders, typed notes."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from storage.models import Address, Customer, CustomerNote, Order, utcnow
from storage.uow import UnitOfWork

from .errors import DomainError
from .money import format_plain
from .spreadsheets import csv_text

CUSTOMER_TYPES = ("walk_in", "regular", "vip", "wholesale")
NOTE_TYPES = ("personal", "preference", "issue", "feedback")
PURCHASED = {"paid", "preparing", "ready", "out_for_delivery", "completed"}  # orders that count as buying


class CustomerNotFound(DomainError):
    code = "customer_not_found"


class NoteNotFound(DomainError):
    code = "note_not_found"


class InvalidNote(DomainError):
    code = "invalid_note"


@dataclass
class Metrics:
    orders: int
    spent_minor: int
    first: datetime | None
    last: datetime | None

    @property
    def average_minor(self) -> int:
        return self.spent_minor // self.orders if self.orders else 0

    @property
    def days_since_last(self) -> int | None:
        return (utcnow() - self.last).days if self.last else None

    @property
    def repeat(self) -> bool:
        return self.orders >= 2

    @property
    def frequency(self) -> str:
        """one_time (1 order), occasional (2–3), regular (4–9), frequent (10 or more); "none" before any."""
        if self.orders == 0:
            return "none"
        if self.orders == 1:
            return "one_time"
        return "occasional" if self.orders <= 3 else "regular" if self.orders <= 9 else "frequent"


def metrics(orders: list[Order]) -> Metrics:
    bought = [o for o in orders if o.status in PURCHASED]
    moments = sorted(o.created_at for o in bought)
    return Metrics(
        len(bought),
        sum(o.total_minor for o in bought),
        moments[0] if moments else None,
        moments[-1] if moments else None,
    )


@dataclass
class Profile:
    customer: Customer
    addresses: list[Address]
    notes: list[CustomerNote]
    metrics: Metrics


@dataclass
class Found:
    customers: list[Customer]  # the first matches
    more: bool  # and there are more than these


async def search(uow: UnitOfWork, query: str, limit: int = 20) -> Found:
    rows = await uow.customers.search(query.strip()[:64], limit + 1)
    return Found(rows[:limit], len(rows) > limit)


def label(customer: Customer) -> str:
    """A person as staff read them: their name, and @username when they have one."""
    name = " ".join(part for part in (customer.first_name, customer.last_name) if part)
    return f"{name} (@{customer.username})" if customer.username else name


async def who(uow: UnitOfWork, telegram_ids: Iterable[int]) -> dict[int, str]:
    """Names for Telegram ids, of those who ever wrote to the shop (the others are left out)."""
    ids = sorted(set(telegram_ids))
    known = await uow.customers.with_staff_roles(ids) if ids else {}
    return {telegram_id: label(customer) for telegram_id, (customer, _) in known.items()}


async def actors(uow: UnitOfWork, order: Order) -> dict[str, str]:
    """Names for the actors of an order's timeline ("customer:1", "staff:100000002")."""
    staff_ids = [
        int(e.actor[6:]) for e in order.events if e.actor.startswith("staff:") and e.actor[6:].isdigit()
    ]
    names = {f"staff:{telegram_id}": name for telegram_id, name in (await who(uow, staff_ids)).items()}
    names[f"customer:{order.customer_id}"] = label(order.customer)
    return names


async def find(uow: UnitOfWork, text: str) -> Customer:
    """The customer staff name: #12 or 12 (the number /customers shows), their Telegram id, @username
    or phone."""
    query = (text or "").strip()[:64]
    digits = query.lstrip("#+")
    if query.startswith("@") or (not digits.isdecimal() and query):
        name = query.lstrip("@").lower()
        exact = [c for c in await uow.customers.search(query, 20) if (c.username or "").lower() == name]
        if len(exact) == 1:
            return exact[0]
    elif digits.isdecimal() and len(digits) <= 18:
        number = int(digits)
        found = None
        if query.startswith("+") or len(digits) >= 8:  # a phone or a Telegram id, not our number
            found = await uow.customers.by_telegram_id(number)
            if found is None:
                by_phone = [c for c in await uow.customers.search(digits, 20) if _digits(c.phone) == digits]
                found = by_phone[0] if len(by_phone) == 1 else None
        if found is None and number < 2**31:  # our numbers are 32-bit
            found = await uow.customers.get(number)
        if found is not None:
            return found
    raise CustomerNotFound(id=query)


def _digits(phone: str | None) -> str:
    return "".join(ch for ch in phone or "" if ch.isdigit())


async def profile(uow: UnitOfWork, customer_id: int) -> Profile:
    customer = await uow.customers.get(customer_id)
    if customer is None:
        raise CustomerNotFound(id=customer_id)
    return Profile(
        customer,
        await uow.customers.addresses(customer_id),
        await uow.notes.for_customer(customer_id),
        metrics(await uow.orders.all_for_customer(customer_id)),
    )


async def set_type(uow: UnitOfWork, customer_id: int, customer_type: str) -> Customer:
    if customer_type not in CUSTOMER_TYPES:
        raise InvalidNote(reason="type")
    await uow.begin_write()
    customer = await uow.customers.get(customer_id)
    if customer is None:
        raise CustomerNotFound(id=customer_id)
    customer.customer_type = customer_type
    await uow.commit()
    return customer


async def add_note(
    uow: UnitOfWork, customer_id: int, text: str, author: int, note_type: str = "personal"
) -> CustomerNote:
    text = (text or "").strip()
    if not text:
        raise InvalidNote(reason="empty")
    if len(text) > 1000:
        raise InvalidNote(reason="long", max=1000)
    await uow.begin_write()
    if await uow.customers.get(customer_id) is None:
        raise CustomerNotFound(id=customer_id)
    note = CustomerNote(customer_id=customer_id, text=text, author=author, type=note_type)
    uow.notes.add(note)
    await uow.commit()
    return note


async def set_note_type(uow: UnitOfWork, note_id: int, note_type: str) -> CustomerNote:
    if note_type not in NOTE_TYPES:
        raise InvalidNote(reason="type")
    await uow.begin_write()
    note = await uow.notes.get(note_id)
    if note is None:
        raise NoteNotFound(id=note_id)
    note.type = note_type
    await uow.commit()
    return note


async def export_customers_csv(uow: UnitOfWork, currency: str) -> str:
    header = [
        "id",
        "telegram_id",
        "first_name",
        "last_name",
        "username",
        "phone",
        "type",
        "marketing_opt_in",
        "orders",
        "spent",
        "first_purchase",
        "last_purchase",
        "frequency",
    ]
    rows = []
    for customer in await uow.customers.all_active():
        m = metrics(await uow.orders.all_for_customer(customer.id))
        rows.append(
            [
                customer.id,
                customer.telegram_id,
                customer.first_name,
                customer.last_name or "",
                customer.username or "",
                customer.phone or "",
                customer.customer_type,
                "yes" if customer.marketing_opt_in else "no",
                m.orders,
                format_plain(m.spent_minor, currency),
                m.first.isoformat() if m.first else "",
                m.last.isoformat() if m.last else "",
                m.frequency,
            ]
        )
    return csv_text(header, rows)


async def export_orders_csv(uow: UnitOfWork) -> str:
    header = [
        "number",
        "created_at",
        "status",
        "customer_id",
        "fulfilment",
        "payment_method",
        "currency",
        "subtotal_minor",
        "delivery_fee_minor",
        "total_minor",
        "reference",
        "items",
    ]
    rows = [
        [
            order.id,
            order.created_at.isoformat(),
            order.status,
            order.customer_id,
            order.fulfilment,
            order.payment_method,
            order.currency,
            order.subtotal_minor,
            order.delivery_fee_minor,
            order.total_minor,
            order.reference,
            "; ".join(f"{i.sku} x{i.quantity}" for i in order.items),
        ]
        for order in await uow.orders.all_orders()
    ]
    return csv_text(header, rows)
