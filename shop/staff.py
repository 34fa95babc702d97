"""Who runs the shop: owners (from settings) and the staff they add."""

from __future__ import annotations

from dataclasses import dataclass

from storage.models import Staff, utcnow
from storage.uow import UnitOfWork

from .config import ShopConfig
from .errors import DomainError
from .notifications import notify_person


class OwnersOnly(DomainError):
    code = "owners_only"


class CannotRemoveOwner(DomainError):
    code = "cannot_remove_owner"


async def role_of(uow: UnitOfWork, telegram_id: int, config: ShopConfig) -> str | None:
    """ "owner", "staff", or None for everyone else."""
    if telegram_id in config.admin_ids:
        return "owner"
    member = await uow.staff.by_telegram_id(telegram_id)
    return member.role if member else None


async def add_staff(uow: UnitOfWork, actor_id: int, telegram_id: int, config: ShopConfig) -> bool:
    """Owners add staff; False when that person already is staff."""
    if await role_of(uow, actor_id, config) != "owner":
        raise OwnersOnly()
    await uow.begin_write()
    if telegram_id in config.admin_ids or await uow.staff.by_telegram_id(telegram_id):
        return False
    uow.staff.add(Staff(telegram_id=telegram_id, role="staff", added_by=actor_id))
    await notify_person(
        uow,
        config,
        telegram_id,
        kind="staff_added",
        template="staff.you_were_added",
        key=f"staff:{telegram_id}:added:{utcnow().isoformat()}",
        shop=config.name,
    )
    await uow.commit()
    return True


async def remove_staff(uow: UnitOfWork, actor_id: int, telegram_id: int, config: ShopConfig) -> bool:
    if await role_of(uow, actor_id, config) != "owner":
        raise OwnersOnly()
    if telegram_id in config.admin_ids:
        raise CannotRemoveOwner()
    await uow.begin_write()
    removed = await uow.staff.remove(telegram_id)
    await uow.commit()
    return removed


@dataclass
class Desk:
    """What waits for the shop's people, shown when one of them says /start."""

    waiting: int  # orders that need action (``orders.queue``)
    to_verify: int  # payments recorded by employees, for an owner to verify


async def desk(uow: UnitOfWork) -> Desk:
    _, total = await uow.orders.needing_action(0, 0)
    return Desk(total, await uow.payments.pending_count())
