"""Loyalty points: a ledger of every change with the balance after it, tiers by lifetime points.

Earned when an order becomes paid, redeemed at checkout (capped), given back and taken back when an
order is cancelled, expires or is refunded, adjusted by staff, expired oldest first. The balance is
always the sum of the ledger's points and never negative.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_FLOOR

from storage.models import Customer, LoyaltyEntry, Order, utcnow
from storage.uow import UnitOfWork

from .config import ShopConfig, Tier
from .errors import DomainError
from .money import to_major
from .notifications import notify_customer

KINDS = ("earned", "redeemed", "expired", "adjusted", "reversed")
NOTICE_AHEAD = timedelta(days=7)
MAX_ADJUST = 1_000_000


class InvalidPoints(DomainError):
    code = "invalid_points"


class NotEnoughPoints(DomainError):
    code = "not_enough_points"


# --- pure rules -------------------------------------------------------------------------------------
def tier_for(lifetime: int, config: ShopConfig) -> Tier:
    reached = [tier for tier in config.tiers if lifetime >= tier.threshold]
    return max(reached, key=lambda tier: tier.threshold) if reached else config.tiers[0]


def next_tier(lifetime: int, config: ShopConfig) -> Tier | None:
    above = [tier for tier in config.tiers if tier.threshold > lifetime]
    return min(above, key=lambda tier: tier.threshold) if above else None


def points_for(total_minor: int, currency: str, tier: Tier, config: ShopConfig) -> int:
    """Points for a paid total: whole points only, rounded down."""
    raw = to_major(total_minor, currency) * config.points_per_unit * tier.multiplier
    return max(0, int(raw.to_integral_value(rounding=ROUND_FLOOR)))


def redeemable(balance: int, total_minor: int, config: ShopConfig) -> int:
    """How many points may pay for an order: no more than held, nor than the capped share of the total."""
    if not config.loyalty_enabled or config.point_value_minor <= 0:
        return 0
    cap_minor = total_minor * config.max_redeem_percent // 100
    return max(0, min(balance, cap_minor // config.point_value_minor))


@dataclass
class Lot:
    earned_at: datetime
    remaining: int


def open_lots(entries: list[LoyaltyEntry]) -> list[Lot]:
    """Credits not yet used up, oldest first: every debit uses the oldest points first (FIFO)."""
    lots: list[Lot] = []
    for entry in entries:
        if entry.points > 0:
            lots.append(Lot(entry.created_at, entry.points))
            continue
        debit = -entry.points
        for lot in lots:
            take = min(lot.remaining, debit)
            lot.remaining -= take
            debit -= take
            if not debit:
                break
        lots = [lot for lot in lots if lot.remaining]
    return lots


def expiring_by(lots: list[Lot], moment: datetime, config: ShopConfig) -> int:
    """Points (of these lots) that have expired by ``moment``."""
    return sum(lot.remaining for lot in lots if lot.earned_at + config.points_expire_after <= moment)


# --- the ledger -------------------------------------------------------------------------------------
async def _write(
    uow: UnitOfWork,
    customer_id: int,
    kind: str,
    points: int,
    *,
    order_id: int | None = None,
    reason: str | None = None,
    actor: str = "system",
    at: datetime | None = None,
) -> LoyaltyEntry:
    """One ledger entry after the current balance. The caller holds the customer and commits."""
    assert kind in KINDS and points != 0
    balance = await uow.loyalty.balance(customer_id)
    if balance + points < 0:
        raise NotEnoughPoints(balance=balance, wanted=-points)
    entry = LoyaltyEntry(
        customer_id=customer_id,
        kind=kind,
        points=points,
        balance_after=balance + points,
        order_id=order_id,
        reason=reason,
        actor=actor,
        created_at=at or utcnow(),
    )
    uow.loyalty.add(entry)
    await uow.session.flush()
    return entry


async def lifetime(uow: UnitOfWork, customer_id: int) -> int:
    return (await uow.loyalty.lifetime([customer_id])).get(customer_id, 0)


async def earn_for_order(uow: UnitOfWork, order: Order, config: ShopConfig) -> int:
    """Points for an order that became paid, once per order; tells the customer (and of a new tier)."""
    if not config.loyalty_enabled:
        return 0
    await uow.loyalty.hold(order.customer_id)
    if any(e.kind == "earned" for e in await uow.loyalty.for_order(order.id)):
        return 0
    before = await lifetime(uow, order.customer_id)
    tier = tier_for(before, config)
    points = points_for(order.total_minor, order.currency, tier, config)
    if points <= 0:
        return 0
    entry = await _write(
        uow, order.customer_id, "earned", points, order_id=order.id, reason=f"order #{order.id}"
    )
    customer = await uow.customers.get(order.customer_id)
    assert customer is not None
    await notify_customer(
        uow,
        customer,
        config,
        kind="loyalty",
        template="notify.points_earned",
        key=f"order:{order.id}:points:earned",
        urgent=False,
        number=order.id,
        points=points,
        balance=entry.balance_after,
    )
    new_tier = tier_for(before + points, config)
    if new_tier.threshold > tier.threshold:
        await notify_customer(
            uow,
            customer,
            config,
            kind="loyalty",
            template="notify.tier_up",
            key=f"customer:{customer.id}:tier:{new_tier.name}",
            urgent=False,
            tier=new_tier.name,
            multiplier=str(new_tier.multiplier),
        )
    return points


async def redeem_for_order(uow: UnitOfWork, order: Order, wanted: int, config: ShopConfig) -> int:
    """Use up to ``wanted`` points on a new order (flushed, not yet committed): lowers its total."""
    await uow.loyalty.hold(order.customer_id)
    balance = await uow.loyalty.balance(order.customer_id)
    points = min(wanted, redeemable(balance, order.subtotal_minor + order.delivery_fee_minor, config))
    if points <= 0:
        return 0
    await _write(uow, order.customer_id, "redeemed", -points, order_id=order.id, reason=f"order #{order.id}")
    order.points_used = points
    order.discount_minor = points * config.point_value_minor
    order.total_minor = order.subtotal_minor + order.delivery_fee_minor - order.discount_minor
    return points


async def reverse_for_order(uow: UnitOfWork, order: Order, why: str) -> None:
    """The order was cancelled, expired or refunded: points used come back, points earned go (once)."""
    entries = await uow.loyalty.for_order(order.id)
    if not entries or any(e.kind == "reversed" for e in entries):
        return
    await uow.loyalty.hold(order.customer_id)
    used = -sum(e.points for e in entries if e.kind == "redeemed")
    earned = sum(e.points for e in entries if e.kind == "earned")
    if used:
        await _write(
            uow, order.customer_id, "reversed", used, order_id=order.id, reason=f"{why}: points back"
        )
    if earned:
        # Points earned on this order may have been spent meanwhile: take back what is left, never below 0.
        take = min(earned, await uow.loyalty.balance(order.customer_id))
        if take:
            await _write(
                uow, order.customer_id, "reversed", -take, order_id=order.id, reason=f"{why}: earned"
            )


async def adjust(
    uow: UnitOfWork, customer: Customer, points: int, reason: str, actor_id: int, config: ShopConfig
) -> LoyaltyEntry:
    """Staff's ``/points ID +N reason``; never below zero; the customer is told."""
    if points == 0 or abs(points) > MAX_ADJUST:
        raise InvalidPoints(max=MAX_ADJUST)
    await uow.begin_write()
    await uow.loyalty.hold(customer.id)
    entry = await _write(
        uow, customer.id, "adjusted", points, reason=reason.strip()[:200] or None, actor=f"staff:{actor_id}"
    )
    await notify_customer(
        uow,
        customer,
        config,
        kind="loyalty",
        template="notify.points_adjusted",
        key=f"loyalty:{entry.id}:adjusted",
        urgent=False,
        points=points,
        balance=entry.balance_after,
        reason=entry.reason or "",
    )
    await uow.commit()
    return entry


# --- what a customer sees ---------------------------------------------------------------------------
@dataclass
class PointsView:
    balance: int
    lifetime: int
    tier: Tier
    next_tier: Tier | None
    entries: list[LoyaltyEntry]
    expiring: int  # points that expire within the next 30 days
    expiring_on: datetime | None  # when the first of them expires
    value_minor: int  # what the balance is worth at checkout

    @property
    def to_next(self) -> int:
        return self.next_tier.threshold - self.lifetime if self.next_tier else 0


async def points_view(uow: UnitOfWork, customer_id: int, config: ShopConfig, now: datetime) -> PointsView:
    entries = await uow.loyalty.entries(customer_id)
    total = await lifetime(uow, customer_id)
    lots = open_lots(entries)
    horizon = now + timedelta(days=30)
    soon = [lot for lot in lots if lot.earned_at + config.points_expire_after <= horizon]
    balance = entries[-1].balance_after if entries else 0
    return PointsView(
        balance=balance,
        lifetime=total,
        tier=tier_for(total, config),
        next_tier=next_tier(total, config),
        entries=list(reversed(entries[-8:])),
        expiring=sum(lot.remaining for lot in soon),
        expiring_on=soon[0].earned_at + config.points_expire_after if soon else None,
        value_minor=balance * config.point_value_minor,
    )


# --- scheduled --------------------------------------------------------------------------------------
async def expire_points(uow: UnitOfWork, config: ShopConfig, now: datetime) -> int:
    """Points older than the expiry age go, oldest first; running twice expires nothing twice."""
    if not config.loyalty_enabled:
        return 0
    await uow.begin_write()
    expired = 0
    for customer_id in await uow.loyalty.holders_with_credits_before(now - config.points_expire_after):
        await uow.loyalty.hold(customer_id)
        due = expiring_by(open_lots(await uow.loyalty.entries(customer_id)), now, config)
        if due:
            await _write(uow, customer_id, "expired", -due, reason="expired", at=now)
            expired += due
    await uow.commit()
    return expired


async def warn_expiring(uow: UnitOfWork, config: ShopConfig, now: datetime) -> int:
    """A notice seven days before points expire: at most one a week per customer."""
    if not config.loyalty_enabled:
        return 0
    await uow.begin_write()
    queued = 0
    ahead = now + NOTICE_AHEAD
    for customer_id in await uow.loyalty.holders_with_credits_before(ahead - config.points_expire_after):
        lots = open_lots(await uow.loyalty.entries(customer_id))
        points = expiring_by(lots, ahead, config)
        customer = await uow.customers.get(customer_id)
        if not points or customer is None:
            continue
        year, week, _ = now.isocalendar()
        queued += await notify_customer(
            uow,
            customer,
            config,
            kind="loyalty",
            template="notify.points_expiring",
            key=f"customer:{customer_id}:points:expiring:{year}-{week}",
            urgent=False,
            points=points,
            on=(lots[0].earned_at + config.points_expire_after).isoformat(),
        )
    await uow.commit()
    return queued
