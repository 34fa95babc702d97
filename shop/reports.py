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
class Report:
    period: str
    start: date
    end: date  # inclusive, in the shop's time zone
    revenue_minor: int = 0  # verified payments received in the period
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

    per_day: dict[date, int] = defaultdict(int)
    for payment in await uow.payments.verified_since(since):
        moment = payment.decided_at or payment.created_at
        report.revenue_minor += payment.amount_minor
        report.by_method[payment.method] = report.by_method.get(payment.method, 0) + payment.amount_minor
        per_day[moment.astimezone(zone).date()] += payment.amount_minor
    report.revenue_by_day = [
        (start + timedelta(days=i), per_day[start + timedelta(days=i)]) for i in range(PERIODS[period])
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
    report.repeat_customers = len(buyers & earlier) + sum(
        1 for c in buyers - earlier if sum(o.customer_id == c for o in bought) > 1
    )
    report.new_customers = len(buyers) - report.repeat_customers
    return report
