"""Customers: registration from Telegram, profile, language, data export and erasure."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import IntegrityError

from storage.models import Address, Customer, utcnow
from storage.uow import UnitOfWork

from .config import LANGUAGES, ShopConfig
from .staff import role_of


@dataclass(frozen=True)
class TelegramUser:
    id: int
    first_name: str
    last_name: str | None = None
    username: str | None = None
    language_code: str | None = None


async def register_customer(uow: UnitOfWork, user: TelegramUser) -> Customer:
    """The customer for a Telegram user: created on first contact, names kept current."""
    return await _kept_current(uow, user, await uow.customers.by_telegram_id(user.id))


async def identify(uow: UnitOfWork, user: TelegramUser, config: ShopConfig) -> tuple[Customer, str | None]:
    """The customer behind an update (registered on first contact) and their staff role: "owner", "staff"
    or None. One query for a customer we know whose names have not changed."""
    customer, role = await uow.customers.with_staff_role(user.id)
    if customer is None or user.id in config.admin_ids:
        role = await role_of(uow, user.id, config)  # owners by setting; staff may write before they shop
    return await _kept_current(uow, user, customer), role


async def _kept_current(uow: UnitOfWork, user: TelegramUser, customer: Customer | None) -> Customer:
    fields = {
        "first_name": user.first_name[:128],
        "last_name": (user.last_name or None) and user.last_name[:128],
        "username": user.username,
        "telegram_language": user.language_code,
    }
    if customer is not None and all(getattr(customer, k) == v for k, v in fields.items()):
        return customer
    if await uow.begin_write():  # read before this writer's transaction: read again
        customer = await uow.customers.by_telegram_id(user.id)
    if customer is None:
        customer = Customer(telegram_id=user.id, **fields)
        try:
            async with uow.session.begin_nested():  # a savepoint: what the unit of work wrote before stays
                uow.customers.add(customer)
        except IntegrityError:
            # A new user's first updates arrive together; on PostgreSQL another one registered them first.
            existing = await uow.customers.by_telegram_id(user.id)
            if existing is None:
                raise
            customer = existing
    else:
        for key, value in fields.items():
            setattr(customer, key, value)
        customer.deleted_at = None  # someone who asked to be forgotten and came back is a new start
    await uow.commit()
    return customer


async def get_customer(uow: UnitOfWork, customer_id: int) -> Customer:
    customer = await uow.customers.get(customer_id)
    assert customer is not None, customer_id
    return customer


async def set_language(uow: UnitOfWork, customer_id: int, language: str) -> None:
    if language not in LANGUAGES:
        raise ValueError(language)
    await uow.begin_write()
    (await get_customer(uow, customer_id)).language = language
    await uow.commit()


PREFERENCES = ("marketing_opt_in", "cart_reminders")  # news and offers; abandoned-cart reminders


async def set_preference(uow: UnitOfWork, customer_id: int, name: str, on: bool) -> Customer:
    """Turn one of the customer's message preferences on or off."""
    if name not in PREFERENCES:
        raise ValueError(name)
    await uow.begin_write()
    customer = await get_customer(uow, customer_id)
    setattr(customer, name, on)
    await uow.commit()
    return customer


async def addresses(uow: UnitOfWork, customer_id: int) -> list[Address]:
    return await uow.customers.addresses(customer_id)


async def export_data(uow: UnitOfWork, customer_id: int) -> dict[str, Any]:
    """Everything stored about a customer, for /mydata."""
    customer = await get_customer(uow, customer_id)
    cart = await uow.carts.cart(customer_id)
    orders = await uow.orders.all_for_customer(customer_id)
    return {
        "customer": {
            "telegram_id": customer.telegram_id,
            "first_name": customer.first_name,
            "last_name": customer.last_name,
            "username": customer.username,
            "phone": customer.phone,
            "language": customer.language,
            "telegram_language": customer.telegram_language,
            "marketing_opt_in": customer.marketing_opt_in,
            "cart_reminders": customer.cart_reminders,
            "created_at": customer.created_at.isoformat(),
        },
        "loyalty_points": [
            {
                "kind": e.kind,
                "points": e.points,
                "balance_after": e.balance_after,
                "order": e.order_id,
                "at": e.created_at.isoformat(),
            }
            for e in await uow.loyalty.entries(customer_id)
        ],
        "addresses": [
            {"text": a.text, "created_at": a.created_at.isoformat()}
            for a in await uow.customers.addresses(customer_id)
        ],
        "staff_notes": [  # what staff wrote about them is theirs to see too; who wrote it is not
            {"type": n.type, "text": n.text, "created_at": n.created_at.isoformat()}
            for n in await uow.notes.for_customer(customer_id)
        ],
        "cart": [
            {"sku": i.product.sku, "name": i.product.name, "quantity": i.quantity}
            for i in (cart.items if cart else [])
        ],
        "orders": [
            {
                "number": o.number,
                "status": o.status,
                "created_at": o.created_at.isoformat(),
                "fulfilment": o.fulfilment,
                "address": o.address_text,
                "phone": o.phone,
                "notes": o.notes,
                "payment_method": o.payment_method,
                "currency": o.currency,
                "total_minor": o.total_minor,
                "items": [
                    {
                        "sku": i.sku,
                        "name": i.name,
                        "quantity": i.quantity,
                        "unit_price_minor": i.unit_price_minor,
                    }
                    for i in o.items
                ],
                "events": [
                    {"from": e.from_status, "to": e.to_status, "at": e.created_at.isoformat()}
                    for e in o.events
                ],
            }
            for o in orders
        ],
    }


async def forget_customer(uow: UnitOfWork, customer_id: int) -> None:
    """Erase personal data: the profile, addresses, staff notes, cart, checkout, the outbox's messages
    to or about them, and what staff wrote about them elsewhere (status notes, reasons for a rejected
    payment or a points adjustment). Orders, payments and points stay for the shop's books, without
    name, phone, address or notes; on SQLite no old copy stays in the files either."""
    await uow.begin_write()
    customer = await get_customer(uow, customer_id)
    await uow.outbox.forget_customer(customer_id, customer.telegram_id)  # their messages, our alerts
    customer.telegram_id = -customer.id  # no longer tied to the person; keeps the column unique
    customer.first_name = ""
    customer.last_name = customer.username = customer.phone = None
    customer.language = customer.telegram_language = None
    customer.marketing_opt_in = False
    customer.deleted_at = utcnow()
    await uow.customers.delete_addresses(customer_id)
    await uow.notes.delete_for(customer_id)  # what staff wrote about them
    await uow.carts.delete_cart(customer_id)
    await uow.carts.delete_draft(customer_id)
    await uow.orders.pseudonymise(customer_id)
    await uow.loyalty.forget_reasons(customer_id)
    await uow.commit()
    await uow.erase_old_copies()
