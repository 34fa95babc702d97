"""Checkout: a draft in the database, step by step, then one order per draft.

Stock is reserved with one conditional UPDATE per line (``stock >= qty``), never read-then-write.
The draft's token is unique on orders, so pressing "Place order" twice, or from two devices, gives
one order: the second attempt finds the first's order and returns it.
"""

from __future__ import annotations

import re
import secrets
import uuid
from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError

from storage.models import Address, CheckoutDraft, Customer, Order, OrderEvent, OrderItem, utcnow
from storage.uow import UnitOfWork

from . import loyalty
from .cart import CartView, row_line, short_of, view_cart
from .config import ShopConfig
from .context import about_order
from .errors import (
    CheckoutChanged,
    CheckoutExpired,
    CheckoutIncomplete,
    EmptyCart,
    InvalidAddress,
    InvalidNotes,
    InvalidPhone,
    NotYourContact,
    OrderNotFound,
    OutOfStock,
    PaymentMethodUnavailable,
)
from .notifications import notify_customer, notify_staff
from .orders import OrderStatus
from .telegram_payments import TELEGRAM_METHODS, invoice_for
from .translations import names_only

FULFILMENTS = ("pickup", "delivery")
REFERENCE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read over the phone
_PHONE = re.compile(r"^\+?[0-9]{7,15}$")


@dataclass
class Summary:
    draft: CheckoutDraft
    cart: CartView
    delivery_fee_minor: int
    points_available: int = 0  # points that could pay for part of this order
    points_used: int = 0  # those the customer chose to use
    discount_minor: int = 0

    @property
    def total_minor(self) -> int:
        return self.cart.total_minor + self.delivery_fee_minor - self.discount_minor


@dataclass
class Placed:
    order: Order
    created: bool  # False when this checkout had already placed its order


async def start_checkout(uow: UnitOfWork, customer: Customer) -> tuple[CheckoutDraft, CartView]:
    """A fresh draft (any old one is replaced) for a cart that can be bought as it stands, with the
    phone the customer gave last time. ``customer``: as this update read them."""
    await uow.begin_write()  # the cart read, and its changes applied, in the draft's transaction
    cart = await view_cart(uow, customer.id)
    if not cart.lines:
        await uow.commit()  # what cannot be bought leaves the cart, as a look at the cart does
        raise EmptyCart(changes=cart.changes)
    await uow.carts.delete_draft(customer.id)
    draft = CheckoutDraft(customer_id=customer.id, token=str(uuid.uuid4()), phone=customer.phone)
    uow.carts.add_draft(draft)
    await uow.commit()
    return draft, cart


async def cancel_checkout(uow: UnitOfWork, customer_id: int) -> bool:
    """Drop the customer's checkout draft (the cart stays); False when there was none."""
    await uow.begin_write()
    had_draft = await uow.carts.draft(customer_id) is not None
    await uow.carts.delete_draft(customer_id)
    await uow.commit()
    return had_draft


async def current_draft(uow: UnitOfWork, customer_id: int) -> CheckoutDraft:
    draft = await uow.carts.draft(customer_id)
    if draft is None:
        raise CheckoutExpired()
    return draft


async def _answer(uow: UnitOfWork, customer_id: int, **values: object) -> CheckoutDraft:
    """Write answers into the draft, in a writer's transaction (begun here unless it is already)."""
    await uow.begin_write()
    draft = await uow.carts.update_draft(customer_id, values)
    if draft is None:
        raise CheckoutExpired()
    return draft


async def _update(uow: UnitOfWork, customer_id: int, **values: object) -> CheckoutDraft:
    draft = await _answer(uow, customer_id, **values)
    await uow.commit()
    return draft


async def set_fulfilment(uow: UnitOfWork, customer_id: int, fulfilment: str) -> CheckoutDraft:
    """Pickup or delivery; pickup forgets an address given before."""
    if fulfilment not in FULFILMENTS:
        raise CheckoutIncomplete(step="fulfilment")
    forget = {"address_text": None} if fulfilment == "pickup" else {}
    return await _update(uow, customer_id, fulfilment=fulfilment, **forget)


def clean_address(text: str, config: ShopConfig) -> str:
    address = " ".join((text or "").split())
    if len(address) < 5:
        raise InvalidAddress(reason="short")
    if len(address) > config.max_address_length:
        raise InvalidAddress(reason="long", max=config.max_address_length)
    return address


async def set_address(uow: UnitOfWork, customer_id: int, text: str, config: ShopConfig) -> CheckoutDraft:
    """A typed address: checked, used for this order and kept in the address book."""
    address = clean_address(text, config)
    await uow.begin_write()
    draft = await current_draft(uow, customer_id)
    saved = await uow.customers.address_by_text(customer_id, address)
    if saved is None:
        uow.customers.add_address(Address(customer_id=customer_id, text=address))
    else:
        saved.last_used_at = utcnow()
    draft.address_text = address
    await uow.commit()
    return draft


def location_address(latitude: float, longitude: float) -> str:
    """A location shared at the address step, as an address a courier can open on a map."""
    lat, lon = f"{latitude:.5f}", f"{longitude:.5f}"
    return f"📍 {lat},{lon} — https://www.openstreetmap.org/?mlat={lat}&mlon={lon}#map=18/{lat}/{lon}"


async def use_saved_address(uow: UnitOfWork, customer_id: int, address_id: int) -> CheckoutDraft:
    await uow.begin_write()
    draft = await current_draft(uow, customer_id)
    saved = await uow.customers.address(customer_id, address_id)
    if saved is None:
        raise InvalidAddress(reason="unknown")
    saved.last_used_at = utcnow()
    draft.address_text = saved.text
    await uow.commit()
    return draft


def clean_phone(text: str) -> str:
    """Digits with an optional leading +; spaces, dashes, dots and brackets are allowed in between."""
    raw = (text or "").strip()
    phone = re.sub(r"[\s\-().]", "", raw)
    if not _PHONE.match(phone):
        raise InvalidPhone()
    return phone


async def set_phone(
    uow: UnitOfWork,
    customer_id: int,
    text: str,
    *,
    contact_user_id: int | None = None,
    telegram_id: int | None = None,
) -> CheckoutDraft:
    """A typed phone, or a shared contact that must be the customer's own."""
    if contact_user_id is not None and contact_user_id != telegram_id:
        raise NotYourContact()
    phone = clean_phone(text if contact_user_id is None or text.startswith("+") else f"+{text}")
    draft = await _answer(uow, customer_id, phone=phone)
    await uow.customers.set_phone(customer_id, phone)  # offered again at the next checkout
    await uow.commit()
    return draft


async def set_notes(
    uow: UnitOfWork, customer_id: int, notes: str | None, config: ShopConfig
) -> CheckoutDraft:
    cleaned = (notes or "").strip() or None
    if cleaned and len(cleaned) > config.max_notes_length:
        raise InvalidNotes(max=config.max_notes_length)
    return await _update(uow, customer_id, notes=cleaned)


async def set_payment_method(
    uow: UnitOfWork, customer_id: int, method: str, config: ShopConfig
) -> CheckoutDraft:
    if method not in config.checkout_methods:
        raise PaymentMethodUnavailable(method=method)
    return await _update(uow, customer_id, payment_method=method)


async def use_points(uow: UnitOfWork, customer_id: int, use: bool) -> CheckoutDraft:
    """The summary's loyalty toggle: pay part of the order with points, or not."""
    return await _update(uow, customer_id, use_points=use)


def missing_step(draft: CheckoutDraft) -> str | None:
    if draft.fulfilment not in FULFILMENTS:
        return "fulfilment"
    if draft.fulfilment == "delivery" and not draft.address_text:
        return "address"
    if not draft.phone:
        return "phone"
    if not draft.payment_method:
        return "payment"
    return None


async def summary(
    uow: UnitOfWork, customer_id: int, config: ShopConfig, draft: CheckoutDraft | None = None
) -> Summary:
    """The checkout's last step; ``draft``: as this update has just written it (else it is read)."""
    draft = draft or await current_draft(uow, customer_id)
    cart = await view_cart(uow, customer_id)
    if not cart.lines:
        raise EmptyCart(changes=cart.changes)  # what went (sold out meanwhile) is told
    return await _priced(uow, draft, cart, config)


async def _priced(uow: UnitOfWork, draft: CheckoutDraft, cart: CartView, config: ShopConfig) -> Summary:
    """The draft's summary for ``cart``: its delivery fee and the points it may use."""
    fee = config.delivery_fee_minor if draft.fulfilment == "delivery" else 0
    balance = await uow.loyalty.balance(draft.customer_id)
    available = loyalty.redeemable(balance, cart.total_minor + fee, config)
    used = available if draft.use_points else 0
    return Summary(draft, cart, fee, available, used, used * config.point_value_minor)


async def place_order(
    uow: UnitOfWork,
    customer: Customer,
    token: str,
    config: ShopConfig,
    summary_message_id: int | None = None,
    seen_total_minor: int | None = None,
) -> Placed:
    """Turn the draft into an order, reserving stock; idempotent per draft token. ``customer``: as this
    update read them (their names go into the staff's alert).

    Only as the customer saw it: if a price or what is for sale changed since the summary was shown
    (the cart is brought up to date, and ``CheckoutChanged`` lists what changed), or its total
    (``seen_total_minor``) would not be the total now, nothing is placed. Stock that ran out meanwhile
    is ``OutOfStock``, the cart kept as it was.

    The customer's confirmation (and the invoice, for paying inside Telegram) is queued with the order,
    replacing the summary (``summary_message_id``) they pressed "Place order" on: it reaches them however
    the reply to the press fares (a crash, Telegram away)."""
    customer_id = customer.id
    await uow.begin_write()
    draft = await uow.carts.draft(customer_id, lock=True)  # a second device waits here for the first
    if draft is None or draft.token != token:
        # The draft goes in the transaction that creates its order: placed already, or expired.
        if (existing := await uow.orders.by_token(token)) is not None:
            return _own(existing, customer_id)  # pressed twice, or another device placed it first
        raise CheckoutExpired()
    step = missing_step(draft)
    if step:
        raise CheckoutIncomplete(step=step)
    if draft.payment_method not in config.checkout_methods:
        raise PaymentMethodUnavailable(method=draft.payment_method)
    rows = await uow.carts.lines(customer_id)
    if any(not r.active or r.price_seen_minor != r.price_minor for r in rows):
        changed = await view_cart(uow, customer_id)  # the cart as it can be bought now, kept
        await uow.commit()
        raise CheckoutChanged(changes=changed.changes)
    now = await _priced(uow, draft, CartView([row_line(r) for r in rows]), config)
    if seen_total_minor is not None and now.total_minor != seen_total_minor:
        raise CheckoutChanged(changes=[])  # points that expired meanwhile, a price changed and back
    cart = await uow.carts.cart(customer_id)
    if cart is None or not cart.items:
        raise EmptyCart()

    short = [
        (i.product_id, short_of(i.product, i.quantity, 0))
        for i in cart.items
        if not await uow.catalog.reserve_stock(i.product_id, i.quantity)
    ]
    if short:
        await uow.rollback()  # gives back what the other lines reserved
        for product_id, item in short:
            product = await uow.catalog.product(product_id)
            item["available"] = product.stock if product and product.active else 0
        raise OutOfStock(items=[item for _, item in short])

    lines = [
        OrderItem(
            product_id=i.product_id,
            sku=i.product.sku,
            name=i.product.name,
            translations=names_only(i.product.translations),
            unit_price_minor=i.product.price_minor,
            quantity=i.quantity,
        )
        for i in cart.items
    ]
    subtotal = sum(line.unit_price_minor * line.quantity for line in lines)
    fee = config.delivery_fee_minor if draft.fulfilment == "delivery" else 0
    order = Order(
        customer_id=customer_id,
        status=OrderStatus.pending_payment.value,
        fulfilment=draft.fulfilment,
        address_text=draft.address_text if draft.fulfilment == "delivery" else None,
        phone=draft.phone,
        notes=draft.notes,
        payment_method=draft.payment_method,
        currency=config.currency,
        subtotal_minor=subtotal,
        delivery_fee_minor=fee,
        total_minor=subtotal + fee,
        reference=_reference(),
        checkout_token=token,
        items=lines,
        events=[
            OrderEvent(
                from_status=None,
                to_status=OrderStatus.pending_payment.value,
                actor=f"customer:{customer_id}",
                reason="placed",
            )
        ],
    )
    uow.orders.add(order)
    cart.items.clear()
    await uow.session.delete(draft)
    try:
        await uow.session.flush()  # the order's number, for the ledger and the staff alert
        about_order(order.id)
        if draft.use_points:
            await loyalty.redeem_for_order(uow, order, order.total_minor, config)
        await _confirm(uow, customer, order, config, summary_message_id)
        await notify_staff(
            uow,
            config,
            kind="new_order",
            template="staff.new_order",
            key=f"order:{order.id}:new",
            about_customer_id=customer.id,
            number=order.id,
            total_minor=order.total_minor,
            reference=order.reference,
            fulfilment=order.fulfilment,
            address=order.address_text,
            phone=order.phone,
            notes=order.notes,
            payment_method=order.payment_method,
            customer=customer.first_name,
            username=customer.username,
            items=[
                {"name": i.name, "quantity": i.quantity, "line_total_minor": i.unit_price_minor * i.quantity}
                for i in order.items
            ],
        )
        await uow.commit()
    except IntegrityError:
        # Another device placed this very checkout a moment ago (PostgreSQL lets both get this far:
        # the unique checkout token stops the second at its INSERT).
        await uow.rollback()
        existing = await uow.orders.by_token(token)
        if existing is None:
            raise
        return _own(existing, customer_id)
    return Placed(order, True)


async def _confirm(
    uow: UnitOfWork, customer: Customer, order: Order, config: ShopConfig, summary_message_id: int | None
) -> None:
    """The confirmation in place of the summary, then the invoice when the order is paid inside Telegram."""
    about = {
        "number": order.id,
        "total_minor": order.total_minor,
        "reference": order.reference,
        "payment_method": order.payment_method,
    }
    await notify_customer(
        uow,
        customer,
        config,
        kind="order_placed",
        template="checkout.placed",
        key=f"order:{order.id}:placed",
        edit_message_id=summary_message_id,
        order=about,
    )
    if order.payment_method in TELEGRAM_METHODS:
        invoice = invoice_for(order, config)
        await notify_customer(
            uow,
            customer,
            config,
            kind="invoice",
            template="checkout.invoice_title",
            key=f"order:{order.id}:invoice",
            number=order.id,
            total_minor=order.total_minor,
            item_count=sum(item.quantity for item in order.items),
            invoice={"payload": invoice.payload, "currency": invoice.currency, "amount": invoice.amount},
        )


def _own(order: Order, customer_id: int) -> Placed:
    if order.customer_id != customer_id:
        raise OrderNotFound(number=order.id)
    return Placed(order, False)


def _reference() -> str:
    return "".join(secrets.choice(REFERENCE_ALPHABET) for _ in range(8))
