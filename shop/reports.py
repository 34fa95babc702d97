"""Reports for staff: revenue, orders, payment methods, top products, new and repeat customers."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from storage.uow import UnitOfWork

from .crm import PURCHASED
from .errors import DomainError

PERIODS = {"today": 1, "week": 7, "month": 30}


class UnknownPeriod(DomainError):
    code = "unknown_period"


@dataclass
class MoneyIn:
    """Verified payments of a period, sorted so that a report, the digest and a customer's card agree:
    ``revenue_minor`` is what was paid on orders bought, up to each order's total (a customer's card
    counts the same totals as spent); the rest is kept apart."""

    revenue_minor: int = 0
    overpaid_minor: int = 0  # paid beyond an order's total: to give back, or agree on with the customer
    to_return_minor: int = 0  # paid on orders cancelled, expired or refunded
    partial_minor: int = 0  # paid on orders not yet paid in full
    by_method: dict[str, int] = field(default_factory=dict)  # of the revenue
    by_day: dict[date, int] = field(default_factory=dict)  # of the revenue, in the shop's days


async def money_in(
    uow: UnitOfWork, since: datetime, zone: ZoneInfo, until: datetime | None = None
) -> MoneyIn:
    """The verified payments decided from ``since`` (up to ``until``), sorted (``MoneyIn``). An order's
    payments count towards its total in the order they were decided, earlier ones (before ``since``) first."""
    money = MoneyIn()
    by_day: dict[date, int] = defaultdict(int)
    paid_so_far: dict[int, int] = {}
    for payment in await uow.payments.verified_since(since):
        moment = payment.decided_at or payment.created_at
        if until is not None and moment >= until:
            continue
        order = payment.order
        if order.status not in PURCHASED:
            if order.status == "pending_payment":
                money.partial_minor += payment.amount_minor
            else:
                money.to_return_minor += payment.amount_minor
            continue
        if order.id not in paid_so_far:
            earlier = [
                p
                for p in await uow.payments.for_order(order.id)
                if p.status == "verified" and (p.decided_at or p.created_at) < since
            ]
            paid_so_far[order.id] = sum(p.amount_minor for p in earlier)
        counted = max(0, min(payment.amount_minor, order.total_minor - paid_so_far[order.id]))
        paid_so_far[order.id] += payment.amount_minor
        money.revenue_minor += counted
        money.overpaid_minor += payment.amount_minor - counted
        money.by_method[payment.method] = money.by_method.get(payment.method, 0) + counted
        by_day[moment.astimezone(zone).date()] += counted
    money.by_day = dict(by_day)
    return money


@dataclass
class Report:
    period: str
    start: date
    end: date  # inclusive, in the shop's time zone
    revenue_minor: int = 0  # verified payments received in the period on orders bought, up to their totals
    overpaid_minor: int = 0
    to_return_minor: int = 0
    partial_minor: int = 0
    orders: int = 0  # orders placed in the period that were bought (not cancelled, expired or unpaid)
    by_method: dict[str, int] = field(default_factory=dict)
    top_products: list[tuple[str, int]] = field(default_factory=list)
    new_customers: int = 0
    repeat_customers: int = 0
    revenue_by_day: list[tuple[date, int]] = field(default_factory=list)

    @property
    def average_minor(self) -> int:
        return self.revenue_minor // self.orders if self.orders else 0


async def build_report(uow: UnitOfWork, period: str, timezone: str, now: datetime) -> Report:
    """The last ``period`` ("today", "week" = 7 days, "month" = 30 days) up to now, in the shop's days."""
    period = (period or "today").strip().lower()
    if period not in PERIODS:
        raise UnknownPeriod(period=period, allowed=list(PERIODS))
    zone = ZoneInfo(timezone)
    end = now.astimezone(zone).date()
    start = end - timedelta(days=PERIODS[period] - 1)
    since = datetime.combine(start, time.min, zone)
    report = Report(period, start, end)

    money = await money_in(uow, since, zone)
    report.revenue_minor, report.by_method = money.revenue_minor, money.by_method
    report.overpaid_minor, report.to_return_minor = money.overpaid_minor, money.to_return_minor
    report.partial_minor = money.partial_minor
    report.revenue_by_day = [
        (start + timedelta(days=i), money.by_day.get(start + timedelta(days=i), 0))
        for i in range(PERIODS[period])
    ]

    bought = [o for o in await uow.orders.placed_since(since) if o.status in PURCHASED]
    report.orders = len(bought)
    sold: Counter[str] = Counter()
    for order in bought:
        for item in order.items:
            sold[item.name] += item.quantity
    report.top_products = sold.most_common(5)
    buyers = {o.customer_id for o in bought}
    earlier = await uow.orders.customers_who_bought_before(since, sorted(PURCHASED))
    # New or returning by a customer's first purchase: before the period, returning; in it, new (however
    # many orders they placed since), as their card's "first purchase" says.
    report.repeat_customers = len(buyers & earlier)
    report.new_customers = len(buyers - earlier)
    return report
