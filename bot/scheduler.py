"""The clock (APScheduler 3, in-process): our tables hold what is due; jobs only look at them."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shop.config import ShopConfig
from shop.loyalty import expire_points, warn_expiring
from shop.reminders import daily_digest, expire_unpaid, remind_carts, remind_unpaid
from storage.models import utcnow
from storage.uow import UnitOfWork

from .broadcasts import BroadcastReporter
from .outbox import OutboxSender

log = logging.getLogger("orderbot.scheduler")
Job = Callable[[UnitOfWork, ShopConfig, datetime], Awaitable[int]]


def create_scheduler(
    sender: OutboxSender,
    session_factory: async_sessionmaker[AsyncSession],
    config: ShopConfig,
    reporter: BroadcastReporter | None = None,
) -> AsyncIOScheduler:
    scheduler = AsyncIOScheduler(
        timezone="UTC", job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 3600}
    )

    def shop_job(job: Job, name: str) -> Callable[[], Awaitable[None]]:
        async def run() -> None:
            try:
                async with UnitOfWork(session_factory) as uow:
                    done = await job(uow, config, utcnow())
                if done:
                    log.info("%s: %s", name, done)
                    sender.kick()
            except Exception:  # one failed tick must not stop the clock; the next tick tries again
                log.exception("scheduled job %s failed", name)

        return run

    async def forget_old_updates() -> None:
        async with UnitOfWork(session_factory) as uow:
            await uow.begin_write()
            await uow.updates.forget_before(utcnow() - timedelta(days=2))
            await uow.commit()

    scheduler.add_job(sender.flush_logged, "interval", seconds=1, id="outbox")
    scheduler.add_job(
        shop_job(remind_unpaid, "unpaid reminders"), "interval", minutes=1, id="unpaid_reminders"
    )
    scheduler.add_job(shop_job(expire_unpaid, "expired orders"), "interval", minutes=1, id="expire_unpaid")
    scheduler.add_job(shop_job(remind_carts, "cart reminders"), "interval", minutes=1, id="cart_reminders")
    scheduler.add_job(shop_job(daily_digest, "staff digest"), "interval", minutes=1, id="digest")
    scheduler.add_job(shop_job(expire_points, "points expired"), "interval", minutes=10, id="points_expiry")
    scheduler.add_job(shop_job(warn_expiring, "points notices"), "interval", minutes=10, id="points_notices")
    scheduler.add_job(forget_old_updates, "interval", hours=1, id="processed_updates")
    if reporter is not None:
        scheduler.add_job(reporter.report_logged, "interval", seconds=2, id="broadcast_progress")
    return scheduler
