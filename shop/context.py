"""What the current piece of work is about, for log lines: set where an order is known (contextvars)."""

from __future__ import annotations

from contextvars import ContextVar

current_order: ContextVar[int | None] = ContextVar("current_order", default=None)


def about_order(number: int) -> None:
    """Log lines from here on (in this update or job) name this order."""
    current_order.set(number)
