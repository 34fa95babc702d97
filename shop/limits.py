"""How big a price, a cart and a payment may be: the one set of bounds the catalog, the cart, checkout,
payments and the CSV import all use, so that every total the shop can build fits where it goes.

An order's total is at most ``MAX_LINES`` lines of ``MAX_QUANTITY`` at ``MAX_PRICE_MINOR``, plus a
delivery fee of at most ``MAX_PRICE_MINOR``: ``MAX_TOTAL_MINOR``, below 2**52, so it fits a signed
64-bit integer (the database's BIGINT) with room to add up many of them, and an invoice's amount (the
Bot API promises integers of up to 52 bits). Telegram's own per-currency invoice limits (about
US$1 to US$10 000) move with exchange rates; Telegram refuses an invoice outside them, and the customer
is told so (``bot.outbox.OutboxSender._invoice``).
"""

from __future__ import annotations

from .errors import AmountTooLarge, InvalidQuantity
from .money import parse_amount

MAX_PRICE_MINOR = 10**11  # a product's price or the delivery fee: 1 000 000 000.00 in cents
MAX_QUANTITY = 99  # of one product in a cart, and so in an order
MAX_LINES = 100  # different products in one cart, and so in an order
MAX_TOTAL_MINOR = MAX_LINES * MAX_QUANTITY * MAX_PRICE_MINOR + MAX_PRICE_MINOR  # also the largest payment
assert MAX_TOTAL_MINOR < 2**52 < 2**63


def parse_price(text: str, currency: str) -> int:
    """A price typed by staff or read from a CSV file: an amount, at most ``MAX_PRICE_MINOR``."""
    return _at_most(parse_amount(text, currency), MAX_PRICE_MINOR, text, "price")


def parse_payment(text: str, currency: str) -> int:
    """A payment's amount: no more than any order can cost (a longer number is a typo)."""
    return _at_most(parse_amount(text, currency), MAX_TOTAL_MINOR, text, "payment")


def _at_most(amount: int, most: int, text: str, what: str) -> int:
    if amount > most:
        raise AmountTooLarge(text=text, max_minor=most, what=what)
    return amount


def check_quantity(quantity: int) -> None:
    """One line's quantity: 1 to ``MAX_QUANTITY``."""
    if not 1 <= quantity <= MAX_QUANTITY:
        raise InvalidQuantity(max=MAX_QUANTITY)
