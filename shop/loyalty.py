"""Loyalty points: an account per customer and a ledger of every change with the balance after it.

Earned when an order becomes paid, redeemed at checkout (capped), given back and taken back when an
order is cancelled, expires or is refunded, adjusted by staff, expired oldest first. The balance is
always the sum of the ledger's points and never negative.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_FLOOR

from storage.models import Customer, LoyaltyAccount, LoyaltyEntry, Order, utcnow
from storage.uow import UnitOfWork

from .config import ShopConfig, Tier
from .errors import DomainError
from .money import to_major
from .notifications import notify_customer

KINDS = ("earned", "redeemed", "expired", "adjusted", "reversed")
NOTICE_AHEAD = timedelta(days=7)
MAX_ADJUST = 1_000_000
NEVER = timedelta(days=36500)


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
    expires_at: datetime
    remaining: int


def open_lots(entries: list[LoyaltyEntry]) -> list[Lot]:
    """Credits not yet used up, soonest to expire first: every debit uses those first (FIFO)."""
    lots: list[Lot] = []
    for entry in entries:
        if entry.points > 0:
            lots.append(Lot(entry.expires_at or entry.created_at + NEVER, entry.points))
            lots.sort(key=lambda lot: lot.expires_at)
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


def expiring_by(lots: list[Lot], moment: datetime) -> int:
    """Points (of these lots) that have expired by ``moment``."""
    return sum(lot.remaining for lot in lots if lot.expires_at <= moment)


# --- the ledger -------------------------------------------------------------------------------------
async def _write(
    uow: UnitOfWork,
    account: LoyaltyAccount,
    kind: str,
    points: int,
    config: ShopConfig,
    *,
    lifetime: int = 0,
    order_id: int | None = None,
    reason: str | None = None,
    actor: str = "system",
    at: datetime | None = None,
) -> LoyaltyEntry:
    """One ledger entry and the account moved with it, in the caller's transaction (the caller commits).

    ``account`` is the one the caller holds (``uow.loyalty.account(..., lock=True)``), so two writes for
    one customer take turns.
    """
    assert kind in KINDS and points != 0
    if account.balance + points < 0:
        raise NotEnoughPoints(balance=account.balance, wanted=-points)
    moment = at or utcnow()
    account.balance += points
    account.lifetime = max(0, account.lifetime + lifetime)
    entry = LoyaltyEntry(
        customer_id=account.customer_id,
        kind=kind,
        points=points,
        balance_after=account.balance,
        order_id=order_id,
        reason=reason,
        actor=actor,
        created_at=moment,
        expires_at=moment + config.points_expire_after if points > 0 else None,
    )
    uow.loyalty.add(entry)
    await uow.session.flush()
    return entry


async def earn_for_order(uow: UnitOfWork, order: Order, config: ShopConfig) -> int:
    """Points for an order that became paid, once per order; tells the customer (and of a new tier)."""
    if not config.loyalty_enabled:
        return 0
    account = await uow.loyalty.account(order.customer_id, lock=True)
    if any(e.kind == "earned" for e in await uow.loyalty.for_order(order.id)):
        return 0
    tier = tier_for(account.lifetime, config)
    points = points_for(order.total_minor, order.currency, tier, config)
    if points <= 0:
        return 0
    reason = f"order #{order.id}"
    entry = await _write(
        uow, account, "earned", points, config, lifetime=points, order_id=order.id, reason=reason
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
    new_tier = tier_for(account.lifetime, config)
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
    account = await uow.loyalty.account(order.customer_id, lock=True)
    points = min(wanted, redeemable(account.balance, order.subtotal_minor + order.delivery_fee_minor, config))
    if points <= 0:
        return 0
    reason = f"order #{order.id}"
    await _write(uow, account, "redeemed", -points, config, order_id=order.id, reason=reason)
    order.points_used = points
    order.discount_minor = points * config.point_value_minor
    order.total_minor = order.subtotal_minor + order.delivery_fee_minor - order.discount_minor
    return points


async def reverse_for_order(uow: UnitOfWork, order: Order, why: str, config: ShopConfig) -> None:
    """The order was cancelled, expired or refunded: points used come back, points earned go (once)."""
    entries = await uow.loyalty.for_order(order.id)
    if not entries or any(e.kind == "reversed" for e in entries):
        return
    account = await uow.loyalty.account(order.customer_id, lock=True)
    used = -sum(e.points for e in entries if e.kind == "redeemed")
    earned = sum(e.points for e in entries if e.kind == "earned")
    if used:
        reason = f"{why}: points back"
        await _write(uow, account, "reversed", used, config, order_id=order.id, reason=reason)
    if earned:
        # Points earned on this order may have been spent meanwhile: take back what is left (never below
        # zero); the order stops counting toward the tier in full.
        take = min(earned, account.balance)
        if take:
            reason = f"{why}: earned"
            await _write(
                uow,
                account,
                "reversed",
                -take,
                config,
                lifetime=-earned,
                order_id=order.id,
                reason=reason,
            )
        else:
            account.lifetime = max(0, account.lifetime - earned)


async def adjust(
    uow: UnitOfWork, customer: Customer, points: int, reason: str, actor_id: int, config: ShopConfig
) -> LoyaltyEntry:
    """Staff's ``/points ID +N reason``; never below zero; the customer is told."""
    if points == 0 or abs(points) > MAX_ADJUST:
        raise InvalidPoints(max=MAX_ADJUST)
    await uow.begin_write()
    note = reason.strip()[:200] or None
    account = await uow.loyalty.account(customer.id, lock=True)
    entry = await _write(uow, account, "adjusted", points, config, reason=note, actor=f"staff:{actor_id}")
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
    account = await uow.loyalty.account(customer_id)
    entries = await uow.loyalty.entries(customer_id)
    soon = [lot for lot in open_lots(entries) if lot.expires_at <= now + timedelta(days=30)]
    return PointsView(
        balance=account.balance,
        lifetime=account.lifetime,
        tier=tier_for(account.lifetime, config),
        next_tier=next_tier(account.lifetime, config),
        entries=list(reversed(entries[-8:])),
        expiring=sum(lot.remaining for lot in soon),
        expiring_on=soon[0].expires_at if soon else None,
        value_minor=account.balance * config.point_value_minor,
    )


# --- scheduled --------------------------------------------------------------------------------------
async def expire_points(uow: UnitOfWork, config: ShopConfig, now: datetime) -> int:
    """Points past their expiry go, oldest first; running twice expires nothing twice."""
    if not config.loyalty_enabled:
        return 0
    await uow.begin_write()
    expired = 0
    for customer_id in await uow.loyalty.holders_expiring_by(now):
        account = await uow.loyalty.account(customer_id, lock=True)
        due = expiring_by(open_lots(await uow.loyalty.entries(customer_id)), now)
        if due:
            await _write(uow, account, "expired", -due, config, reason="expired", at=now)
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
    for customer_id in await uow.loyalty.holders_expiring_by(ahead):
        lots = open_lots(await uow.loyalty.entries(customer_id))
        points = expiring_by(lots, ahead)
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
            on=lots[0].expires_at.isoformat(),
        )
    await uow.commit()
    return queued
