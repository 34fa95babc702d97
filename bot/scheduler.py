"""The clock (APScheduler 3, in-process): our tables hold what is due; jobs only look at them.

With several workers every worker runs the clock, but each tick of a shop job runs on one of them: the
first to insert the (job, tick) row into ``job_ticks`` runs it, the others skip it. A worker that dies
mid-tick loses nothing: jobs are idempotent and the next tick picks up what is still due. The outbox
sender runs on every worker; rows are claimed, so none is sent twice by two workers.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shop.config import ShopConfig
from shop.loyalty import expire_points, warn_expiring
from shop.notifications import release_held
from shop.reminders import daily_digest, expire_unpaid, remind_carts, remind_unpaid
from storage.models import utcnow
from storage.uow import UnitOfWork

from .broadcasts import BroadcastReporter
from .outbox import OutboxSender

log = logging.getLogger("orderbot.scheduler")
Job = Callable[[UnitOfWork, ShopConfig, datetime], Awaitable[int]]
WORKER = f"{socket.gethostname()}:{os.getpid()}"
# How long a sent message stays in the outbox: a record for support, no longer (it holds what was said
# to whom). Its dedupe key goes with it; every key names a one-off event (an order's status, a day's
# digest, a week's points notice, a tier reached by lifetime points), so none comes back to be sent twice.
KEEP_SENT = timedelta(days=30)


class Clock:
    def __init__(
        self,
        sender: OutboxSender,
        session_factory: async_sessionmaker[AsyncSession],
        config: ShopConfig,
        reporter: BroadcastReporter | None = None,
    ) -> None:
        self.sender, self.session_factory, self.config = sender, session_factory, config
        self.scheduler = AsyncIOScheduler(
            timezone="UTC", job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 3600}
        )
        self.running: set[asyncio.Task[None]] = set()
        self._every(1, "outbox", sender.flush_logged, on_every_worker=True)
        for seconds, name, job in (
            (60, "unpaid_reminders", remind_unpaid),
            (60, "expire_unpaid", expire_unpaid),
            (60, "cart_reminders", remind_carts),
            (60, "digest", daily_digest),
            (60, "held_alerts", release_held),
            (600, "points_expiry", expire_points),
            (600, "points_notices", warn_expiring),
        ):
            self._every(seconds, name, self._shop_job(job, name))
        self._every(3600, "housekeeping", self._housekeeping)
        if reporter is not None:
            self._every(2, "broadcast_progress", reporter.report_logged)

    def start(self) -> None:
        self.scheduler.start()

    async def stop(self, timeout: float = 15.0) -> None:
        """No new ticks; the ones under way finish (a send half done would only be sent again).

        APScheduler's asyncio executor cancels the jobs still running when it shuts down, so the clock
        pauses first, waits for its ticks, and shuts down after (cancelling only what outlived
        ``timeout``)."""
        self.scheduler.pause()
        await asyncio.sleep(0)  # a tick the scheduler has just started registers itself in ``running``
        if self.running:
            await asyncio.wait(set(self.running), timeout=timeout)
        self.scheduler.shutdown(wait=False)

    def _every(
        self, seconds: int, name: str, work: Callable[[], Awaitable[None]], on_every_worker: bool = False
    ) -> None:
        async def tick() -> None:
            task = asyncio.current_task()
            assert task is not None
            self.running.add(task)
            try:
                if on_every_worker or await self._claim(name, seconds):
                    await work()
            except Exception:  # one failed tick must not stop the clock; the next tick tries again
                log.exception("scheduled job %s failed", name)
            finally:
                self.running.discard(task)

        # The first tick comes soon after start (a worker back from downtime catches up at once), then
        # every ``seconds``.
        first = datetime.now(UTC) + timedelta(seconds=min(seconds, 3))
        self.scheduler.add_job(tick, "interval", seconds=seconds, id=name, next_run_time=first)

    async def _claim(self, name: str, seconds: int) -> bool:
        """This worker runs this tick of the job if no other worker did."""
        tick = int(utcnow().timestamp() // seconds)
        async with UnitOfWork(self.session_factory) as uow:
            await uow.begin_write()
            mine = await uow.ticks.claim(name, tick, WORKER)
            await uow.commit()
        return mine

    def _shop_job(self, job: Job, name: str) -> Callable[[], Awaitable[None]]:
        async def run() -> None:
            async with UnitOfWork(self.session_factory) as uow:
                done = await job(uow, self.config, utcnow())
            if done:
                log.info("%s: %s", name, done)
                self.sender.kick()

        return run

    async def _housekeeping(self) -> None:
        """Forget processed update ids after two days, job ticks after one, and messages sent (or given
        up on) after ``KEEP_SENT``."""
        async with UnitOfWork(self.session_factory) as uow:
            await uow.begin_write()
            await uow.updates.forget_before(utcnow() - timedelta(days=2))
            await uow.ticks.forget_before(utcnow() - timedelta(days=1))
            await uow.outbox.forget_done_before(utcnow() - KEEP_SENT)
            await uow.commit()
