"""Domain errors. Each has a ``code`` the handlers turn into a friendly message (templates/errors.j2)."""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    code = "error"

    def __init__(self, **params: Any) -> None:
        super().__init__(f"{self.code}: {params}" if params else self.code)
        self.params = params


class InvalidAmount(DomainError):
    code = "invalid_amount"


class AmountTooLarge(DomainError):
    """params: text, max_minor, what = "price" | "payment" (shop.limits)."""

    code = "amount_too_large"


class InvalidQuantity(DomainError):
    code = "invalid_quantity"


class CartFull(DomainError):
    """params: max (different products in one cart)."""

    code = "cart_full"


class ProductUnavailable(DomainError):
    code = "product_unavailable"


class OutOfStock(DomainError):
    """params: items=[{"name", "wanted", "available"}]"""

    code = "out_of_stock"


class EmptyCart(DomainError):
    """params: changes (what left the cart just now: sold out meanwhile), if any."""

    code = "empty_cart"


class CheckoutExpired(DomainError):
    code = "checkout_expired"


class CheckoutChanged(DomainError):
    """A price, the stock or what is for sale changed since the customer saw the summary: nothing was
    placed; the summary as it stands now is shown for them to confirm again."""

    code = "checkout_changed"


class CheckoutIncomplete(DomainError):
    code = "checkout_incomplete"


class InvalidAddress(DomainError):
    code = "invalid_address"


class InvalidPhone(DomainError):
    code = "invalid_phone"


class NotYourContact(DomainError):
    code = "not_your_contact"


class InvalidNotes(DomainError):
    code = "invalid_notes"


class PaymentMethodUnavailable(DomainError):
    code = "payment_method_unavailable"


class OrderNotFound(DomainError):
    code = "order_not_found"


class IllegalTransition(DomainError):
    """params: number, current, wanted, allowed (list)"""

    code = "illegal_transition"


class CancelNotAllowed(DomainError):
    """params: reason = "paid" | "window" | "closed\""""

    code = "cancel_not_allowed"


class NoOrderAwaitingPayment(DomainError):
    code = "no_order_awaiting_payment"


class InvalidImport(DomainError):
    code = "invalid_import"
