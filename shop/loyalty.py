"""Loyalty points: an account per customer and a ledger of every change with the balance after it.

Earned when an order becomes paid, redeemed at checkout (capped), adjusted by owners, expired soonest
first. When an order is cancelled, expires or is refunded, the points it used come back with the expiry
they had, and the points it earned are taken back, all of them but those that expired, even if already
spent: the balance then goes below zero and the next points make it up. The ledger never makes points,
and the balance is always the sum of its entries (docs/decisions.md).
"""

from __future__ import annotations

from bisect import insort
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_FLOOR

from storage.models import Customer, LoyaltyAccount, LoyaltyEntry, Order, utcnow
from storage.uow import UnitOfWork

from .config import ShopConfig, Tier
from .errors import DomainError
from .money import to_major
from .notifications import notify_customer
from .staff import role_of

KINDS = ("earned", "redeemed", "expired", "adjusted", "reversed")
NOTICE_AHEAD = timedelta(days=7)
MAX_ADJUST = 10_000  # points one adjustment may add or remove: a typo's extra zeros are refused
NEVER = timedelta(days=36500)


class InvalidPoints(DomainError):
    code = "invalid_points"


class NotEnoughPoints(DomainError):
    code = "not_enough_points"


class OwnersAdjustPoints(DomainError):
    code = "owners_adjust_points"


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
    """Points of one credit still held (or, ``owed``, points taken back that were no longer there)."""

    points: int
    expires_at: datetime
    order_id: int | None = None  # the order that earned them; None for an adjustment
    owed: bool = False  # made up by the next points to come in

    def part(self, points: int) -> Lot:
        return Lot(points, self.expires_at, self.order_id, self.owed)


def _take(lots: list[Lot], points: int) -> list[Lot]:
    """Up to ``points`` from the front of ``lots`` (what is left stays there): the parts taken."""
    taken: list[Lot] = []
    for lot in lots:
        if not points:
            break
        part = lot.part(min(lot.points, points))
        lot.points -= part.points
        points -= part.points
        taken.append(part)
    lots[:] = [lot for lot in lots if lot.points]
    return taken


class Holdings:
    """A customer's points as their ledger leaves them, replayed oldest first: every rule is worked out
    from the ledger alone, the same way each time.

    - ``lots``: the points held, soonest to expire first. A debit takes from the front (FIFO); taking
      back an order's points takes that order's own first.
    - ``used``: per order, the parts its redemption took; if it is reversed they come back as they were.
    - ``cover``: per order taken back, what stood in for its points that were already spent: other
      points, or points owed while there were none. Should the spent points come back (the order they
      paid for cancelled), they return the cover instead of counting twice.
    - ``expired``: per earning order, its points that expired; taking the order back leaves those alone.
    """

    def __init__(self, entries: Iterable[LoyaltyEntry] = ()) -> None:
        self.lots: list[Lot] = []
        self.used: dict[int, list[Lot]] = {}
        self.cover: dict[int | None, list[Lot]] = {}
        self.expired: Counter[int | None] = Counter()
        for entry in entries:
            self.apply(entry)

    @property
    def owed(self) -> int:
        return sum(part.points for parts in self.cover.values() for part in parts if part.owed)

    @property
    def next_expiry(self) -> datetime | None:
        return self.lots[0].expires_at if self.lots else None

    def due(self, moment: datetime) -> int:
        """Points held that have expired by ``moment``."""
        return sum(lot.points for lot in self.lots if lot.expires_at <= moment)

    def used_by(self, order_id: int) -> list[tuple[datetime, int]]:
        """The points an order's redemption took, by the expiry they had (soonest first)."""
        by_expiry: dict[datetime, int] = {}
        for part in self.used.get(order_id, []):
            by_expiry[part.expires_at] = by_expiry.get(part.expires_at, 0) + part.points
        return sorted(by_expiry.items())

    def apply(self, entry: LoyaltyEntry) -> None:
        expires_at = entry.expires_at or entry.created_at + NEVER
        if entry.points > 0 and entry.kind == "reversed" and entry.order_id is not None:
            # Points an order used, back: each part keeps the order that earned it.
            back = _take(self.used.get(entry.order_id, []), entry.points)
            rest = entry.points - sum(part.points for part in back)
            for part in [*back, Lot(rest, expires_at)] if rest else back:
                self._credit(Lot(part.points, expires_at, part.order_id))
        elif entry.points > 0:
            self._credit(Lot(entry.points, expires_at, entry.order_id if entry.kind == "earned" else None))
        elif entry.kind == "reversed":  # an order's earned points taken back
            taken = self._debit(-entry.points, first=entry.order_id)
            cover = [part for part in taken if entry.order_id is None or part.order_id != entry.order_id]
            short = -entry.points - sum(part.points for part in taken)
            owed = [Lot(short, entry.created_at, owed=True)] if short else []
            self.cover.setdefault(entry.order_id, []).extend([*cover, *owed])
        else:
            taken = self._debit(-entry.points)
            if entry.kind == "redeemed" and entry.order_id is not None:
                self.used.setdefault(entry.order_id, []).extend(taken)
            if entry.kind == "expired":
                for part in taken:
                    self.expired[part.order_id] += part.points

    def _debit(self, points: int, first: int | None = None) -> list[Lot]:
        """Take up to ``points`` held, soonest to expire first (order ``first``'s own before any)."""
        if first is None:
            return _take(self.lots, points)
        own = [lot for lot in self.lots if lot.order_id == first]
        taken = _take(own, points)
        self.lots = [lot for lot in self.lots if lot.points]
        return taken + _take(self.lots, points - sum(part.points for part in taken))

    def _credit(self, lot: Lot) -> None:
        """Points coming in: an order's taken back return its cover; others make up what is owed first."""
        if lot.order_id is not None and lot.order_id in self.cover:
            for part in _take(self.cover[lot.order_id], lot.points):
                lot.points -= part.points
                if not part.owed:
                    self._credit(part)
            if not lot.points:
                return
            lot.order_id = None  # more than was covered (not expected): plain points
        for parts in self.cover.values():
            rebuilt: list[Lot] = []
            for part in parts:
                if part.owed and lot.points:
                    paid = lot.part(min(part.points, lot.points))  # now it stands in for them
                    lot.points -= paid.points
                    part.points -= paid.points
                    rebuilt.append(paid)
                rebuilt.append(part)
            parts[:] = [part for part in rebuilt if part.points]
        if lot.points:
            insort(self.lots, lot, key=lambda held: held.expires_at)


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
    expires_at: datetime | None = None,
    holdings: Holdings | None = None,
) -> LoyaltyEntry:
    """One ledger entry and the account moved with it, in the caller's transaction (the caller commits).

    ``account`` is the one the caller holds (``uow.loyalty.account(..., lock=True)``), so two writes for
    one customer take turns. Only taking back an order's points may leave the balance below zero.
    ``holdings``, if given, follows the entry.
    """
    assert kind in KINDS and points != 0
    if points < 0 and kind != "reversed" and account.balance + points < 0:
        raise NotEnoughPoints(balance=account.balance, wanted=-points)
    moment = at or utcnow()
    if points > 0:
        expires_at = expires_at or moment + config.points_expire_after
        # The soonest expiry held, or earlier (the expiry job finds the customer by it and settles it).
        account.next_expiry = min(account.next_expiry or expires_at, expires_at)
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
        expires_at=expires_at if points > 0 else None,
    )
    uow.loyalty.add(entry)
    await uow.session.flush()
    if holdings is not None:
        holdings.apply(entry)
    return entry


async def _holdings(uow: UnitOfWork, customer_id: int) -> Holdings:
    return Holdings(await uow.loyalty.entries(customer_id))


async def _expire_due(
    uow: UnitOfWork, account: LoyaltyAccount, holdings: Holdings, config: ShopConfig, now: datetime
) -> int:
    """Points held past their expiry go; the account learns when the next ones expire."""
    due = holdings.due(now)
    if due:
        await _write(uow, account, "expired", -due, config, reason="expired", at=now, holdings=holdings)
    account.next_expiry = holdings.next_expiry
    return due


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
    """The order was cancelled, expired or refunded (once): the points it used come back with the expiry
    they had, and the points it earned go, all but those that expired, even if spent meanwhile (the
    balance goes below zero). The customer is told what changed."""
    entries = await uow.loyalty.for_order(order.id)
    if not entries or any(e.kind == "reversed" for e in entries):
        return
    account = await uow.loyalty.account(order.customer_id, lock=True)
    holdings = await _holdings(uow, order.customer_id)
    now = utcnow()
    back = 0
    for expires_at, points in holdings.used_by(order.id):
        reason = f"{why}: points back"
        await _write(
            uow,
            account,
            "reversed",
            points,
            config,
            order_id=order.id,
            reason=reason,
            at=now,
            expires_at=expires_at,
            holdings=holdings,
        )
        back += points
    earned = sum(e.points for e in entries if e.kind == "earned")
    taken = earned - holdings.expired[order.id]
    if taken > 0:
        reason = f"{why}: earned"
        await _write(
            uow,
            account,
            "reversed",
            -taken,
            config,
            lifetime=-earned,
            order_id=order.id,
            reason=reason,
            at=now,
            holdings=holdings,
        )
    else:  # they all expired: nothing left to take, but the order stops counting toward the tier
        account.lifetime = max(0, account.lifetime - earned)
    gone = await _expire_due(uow, account, holdings, config, now)  # points back already past expiry
    customer = await uow.customers.get(order.customer_id)
    if customer is not None and (back or taken > 0):
        await notify_customer(
            uow,
            customer,
            config,
            kind="loyalty",
            template="notify.points_reversed",
            key=f"order:{order.id}:points:reversed",
            urgent=False,
            number=order.id,
            back=back,
            taken=max(taken, 0),
            expired=gone,
            balance=account.balance,
        )


async def adjust(
    uow: UnitOfWork, customer: Customer, points: int, reason: str, actor_id: int, config: ShopConfig
) -> LoyaltyEntry:
    """An owner's ``/points ID +N reason`` (never below zero), recorded as theirs; the customer is told."""
    if await role_of(uow, actor_id, config) != "owner":
        raise OwnersAdjustPoints()
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
    balance: int  # below zero when points taken back had been spent
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
    soon = [lot for lot in Holdings(entries).lots if lot.expires_at <= now + timedelta(days=30)]
    return PointsView(
        balance=account.balance,
        lifetime=account.lifetime,
        tier=tier_for(account.lifetime, config),
        next_tier=next_tier(account.lifetime, config),
        entries=list(reversed(entries[-8:])),
        expiring=sum(lot.points for lot in soon),
        expiring_on=soon[0].expires_at if soon else None,
        value_minor=max(0, account.balance) * config.point_value_minor,
    )


# --- scheduled --------------------------------------------------------------------------------------
async def expire_points(uow: UnitOfWork, config: ShopConfig, now: datetime) -> int:
    """Points past their expiry go, soonest first; running twice expires nothing twice."""
    if not config.loyalty_enabled:
        return 0
    await uow.begin_write()
    expired = 0
    for customer_id in await uow.loyalty.holders_expiring_by(now):
        account = await uow.loyalty.account(customer_id, lock=True)
        expired += await _expire_due(uow, account, await _holdings(uow, customer_id), config, now)
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
        account = await uow.loyalty.account(customer_id, lock=True)
        holdings = await _holdings(uow, customer_id)
        account.next_expiry = holdings.next_expiry  # settled: a customer who used them is not asked again
        points = holdings.due(ahead)
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
            on=holdings.lots[0].expires_at.isoformat(),
        )
    await uow.commit()
    return queued
