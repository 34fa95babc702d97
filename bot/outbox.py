"""Delivering the outbox: rows written in the same transaction as the change they announce.

The sender runs right after each update and on the scheduler's clock, within Telegram's limits:
overall and per chat, counted from Telegram's answers (``pacing.Pace``). A chat's messages go one after
another, in the order they were queued ("order completed" before "points earned"), whichever worker
sends them: a worker claims a chat's rows only while no other worker holds any of them and none waits
on a refusal (``OutboxRepository.due``); chats go side by side. A refused message (429, a network error,
a 5xx) goes back to the table for as long as Telegram asks or the backoff says, and the chat's later
messages wait behind it, so the order holds and no round waits on a refusal. A row is marked sent only
after Telegram accepted it (at least once: a crash between the two can send a row twice, never zero
times; a row that edits a message, as the order confirmation does, shows once however often it goes).

Telegram unreachable, a timeout, a 5xx: retried with a backoff that doubles up to a minute
(``retry_cap``), for as long as the message still matters (``give_up_after``,
NOTIFY_GIVE_UP_AFTER_HOURS: 24 hours by default), then failed. Only what Telegram refuses for good fails
at once: 400 (failed) and 403 (the person blocked the bot: unreachable).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import groupby
from operator import attrgetter
from typing import Any

from aiogram import Bot
from aiogram.exceptions import (
    TelegramAPIError,
    TelegramBadRequest,
    TelegramForbiddenError,
    TelegramRetryAfter,
)
from aiogram.types import BufferedInputFile, InlineKeyboardMarkup, LabeledPrice
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from handlers.render import Renderer
from handlers.staff import keyboards as staff_keyboards
from shop.orders import starts_unpaid
from storage.models import OutboxMessage, utcnow
from storage.uow import UnitOfWork

from .metrics import Metrics
from .pacing import Pace
from .telegram_session import retry_429

log = logging.getLogger("orderbot.outbox")
GONE = ("message to edit not found", "message can't be edited")  # an edit that must be a new message


@dataclass(frozen=True)
class SendLimits:
    """Telegram's limits, which the sender keeps so it never meets a 429 in normal running."""

    per_second: float = 30.0
    chat_per_second: float = 1.0
    chat_burst: int = 3
    group_per_minute: float = 20.0
    # Paced from Telegram's answers (bot/pacing.py), which network jitter cannot tip over, and a little
    # below the published figures, as Telegram does not publish exactly how it counts.
    margin: float = 0.97


class OutboxSender:
    def __init__(
        self,
        bot: Bot,
        session_factory: async_sessionmaker[AsyncSession],
        renderer: Renderer,
        limits: SendLimits | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self.bot, self.session_factory, self.renderer = bot, session_factory, renderer
        self.metrics = metrics or Metrics()
        self.limits = limits or SendLimits()
        overall = self.limits.per_second * self.limits.margin
        self._global = Pace(max(1.0, overall), overall)  # a second's worth at once
        self._chats: dict[int, Pace] = {}
        self._lock = asyncio.Lock()
        # Sends under way, across the rounds that overlap: as many as one round had to itself before, so
        # overlapping rounds do not multiply the connections their records of what was sent take.
        self._sending = asyncio.Semaphore(32)
        self.timeout = 20  # seconds for one send; a timeout is retried like any network error
        self.backoff = 2.0  # seconds before the first retry after a network error or 5xx; doubles each time
        self.retry_cap = 60.0  # seconds: the longest wait between two tries while Telegram is away
        self.give_up_after = timedelta(hours=24)  # a message Telegram could not take for this long fails

    def _chat_pace(self, chat_id: int) -> Pace:
        pace = self._chats.get(chat_id)
        if pace is None:
            if len(self._chats) > 10_000:  # forget idle chats so memory stays flat
                self._chats = {k: v for k, v in self._chats.items() if not v.idle()}
            limits = self.limits
            if chat_id > 0:  # a private chat: its burst at once, then per second
                burst, per_second = limits.chat_burst, limits.chat_per_second
            else:  # a group: per minute
                burst, per_second = max(1, int(limits.group_per_minute)), limits.group_per_minute / 60
            pace = self._chats[chat_id] = Pace(burst, per_second * limits.margin)
        return pace

    async def flush(self, limit: int = 200) -> int:
        """Send what is due now, within the limits; returns how many were sent.

        Rounds overlap: one claims while others deliver, so a chat whose send is slow (up to
        ``timeout``) holds up only its own later messages; while its row is leased, no round claims
        that chat's next ones (``OutboxRepository.due``)."""
        own_429s = retry_429.set(False)  # a refused row goes back to the table (``_send``)
        try:
            async with self._lock:  # one claim at a time in this process
                due = await self._claim(min(limit, max(20, int(self.limits.per_second * 2))))
            chats = groupby(due, key=attrgetter("chat_id"))  # each chat's rows together (``_fair``)
            sent = await asyncio.gather(
                *(self._deliver_in_order(list(rows), self._sending) for _, rows in chats)
            )
            return sum(sent)
        finally:
            retry_429.reset(own_429s)

    async def _claim(self, limit: int) -> list[OutboxMessage]:
        """Take claimable rows for this worker: leased until they should long have been sent.

        A worker that dies holding rows loses nothing: when the lease passes they are claimable again.
        """
        async with UnitOfWork(self.session_factory) as uow:
            if not await uow.outbox.any_due(utcnow()):
                return []  # the usual case each second: a read, no writer's lock taken
            await uow.begin_write()
            rows = self._fair(await uow.outbox.due(utcnow(), limit))
            lease = self.timeout + 2 * len(rows) / self.limits.per_second + 5
            await uow.outbox.lease([row.id for row in rows], utcnow() + timedelta(seconds=lease))
            await uow.commit()
        return rows

    def _fair(self, rows: list[OutboxMessage]) -> list[OutboxMessage]:
        """At most a chat's burst per round, its oldest first: one busy chat must not hold up everyone
        else's messages. A chat's rows come together, in the order they were queued."""
        chats: dict[int, list[OutboxMessage]] = {}
        for row in rows:
            chats.setdefault(row.chat_id, []).append(row)
        return [
            row
            for chat, queued in chats.items()
            for row in sorted(queued, key=lambda r: r.id)[: self.limits.chat_burst if chat > 0 else 1]
        ]

    async def _deliver_in_order(self, rows: list[OutboxMessage], slots: asyncio.Semaphore) -> int:
        """A chat's rows one after another, as queued (sent side by side, a later one could arrive
        first); how many were sent. When one is refused for now, the rest wait in the table with it."""
        sent = 0
        for at, row in enumerate(rows):
            # The chat's turn first, then a sending slot: waiting for a busy chat must not hold a slot.
            async with self._chat_pace(row.chat_id), slots, self._global:
                outcome, again_at = await self._send(row)
            sent += outcome == "sent"
            if again_at is not None:
                # The refused row, waiting in the table, holds up the chat's later ones for every worker;
                # those this round claimed go back unsent, to follow it in their turn.
                await self._release([later.id for later in rows[at + 1 :]])
                break
        return sent

    async def _release(self, claimed: list[int]) -> None:
        if claimed:
            async with UnitOfWork(self.session_factory) as uow:
                await uow.begin_write()
                await uow.outbox.release(claimed)
                await uow.commit()

    async def _send(self, row: OutboxMessage) -> tuple[str, datetime | None]:
        """Send one row and record the outcome; with the time it is due again when it was refused for
        now."""
        try:
            await self._deliver(row)
        except TelegramRetryAfter as error:  # flood control: back to the table for as long as it asks
            self.metrics.rate_limited.inc()
            again_at = utcnow() + timedelta(seconds=error.retry_after)
            await self._update(row.id, due_at=again_at, last_error=str(error))
            return "refused", again_at
        except TelegramForbiddenError as error:  # blocked, or never started the bot: never retried
            await self._update(
                row.id, status="unreachable", last_error=error.message, unreachable=row.chat_id
            )
            return "unreachable", None
        except TelegramBadRequest as error:  # refused for good: sent again, it would be refused again
            await self._update(row.id, status="failed", last_error=error.message)
            return "failed", None
        except TelegramAPIError as error:  # Telegram away (network, timeout, 5xx, anything else): later
            attempts = row.attempts + 1
            now = utcnow()
            if now - row.created_at >= self.give_up_after:
                await self._update(row.id, attempts=attempts, last_error=str(error), status="failed")
                return "failed", None
            again_at = now + timedelta(seconds=min(self.backoff * 2 ** min(attempts - 1, 20), self.retry_cap))
            await self._update(row.id, attempts=attempts, last_error=str(error), due_at=again_at)
            return "retry", again_at
        except Exception as error:  # ours (a template that does not render): sending again would not help
            log.exception("outbox message %s cannot be sent", row.id)
            await self._update(row.id, status="failed", last_error=f"{type(error).__name__}: {error}")
            return "failed", None
        await self._update(row.id, status="sent", sent_at=utcnow(), attempts=row.attempts + 1)
        self.metrics.sent.inc()
        return "sent", None

    async def _deliver(self, row: OutboxMessage) -> None:
        """The Bot API call a row stands for: an invoice, a photo (the pickup code's QR, or a file id), an
        edit of a message the customer has (a confirmation in place of the question it answers), or a
        message."""
        if row.kind == "invoice":
            await self._invoice(row)
            return
        text = self.renderer.render(row.template, row.language, **row.context)
        markup = self._markup(row)
        if row.context.get("pickup_code"):
            await self.bot.send_photo(
                row.chat_id,
                BufferedInputFile(qr_png(row.context["pickup_code"]), "pickup.png"),
                caption=text,
                reply_markup=markup,
                request_timeout=self.timeout,
            )
        elif row.photo:
            await self.bot.send_photo(
                row.chat_id, row.photo, caption=text, reply_markup=markup, request_timeout=self.timeout
            )
        elif row.edit_message_id is not None and await self._edited(row, text, markup):
            return
        else:
            await self.bot.send_message(row.chat_id, text, reply_markup=markup, request_timeout=self.timeout)

    async def _edited(self, row: OutboxMessage, text: str, markup: InlineKeyboardMarkup | None) -> bool:
        """Edit the row's message to ``text``; False when that message is gone (then it is sent anew).
        Edited already (a second delivery after a crash): nothing changes, and it counts as sent."""
        try:
            await self.bot.edit_message_text(
                text,
                chat_id=row.chat_id,
                message_id=row.edit_message_id,
                reply_markup=markup,
                request_timeout=self.timeout,
            )
        except TelegramBadRequest as error:
            if "message is not modified" in error.message:
                return True
            if any(reason in error.message for reason in GONE):
                return False
            raise
        return True

    async def _invoice(self, row: OutboxMessage) -> None:
        """An invoice for an order paid inside Telegram (card through the provider, or Stars). Telegram
        takes one only for an amount within its limits for the currency (about US$1 to US$10 000, moving
        with exchange rates); outside them the customer hears so instead."""
        invoice, config, context = row.context["invoice"], self.renderer.config, row.context
        t = self.renderer.texts(row.language)
        try:
            await self.bot.send_invoice(
                row.chat_id,
                title=t.plain("checkout.invoice_title", number=context["number"])[:32],
                description=t.plain("checkout.invoice_description", item_count=context["item_count"])[:255],
                payload=invoice["payload"],
                currency=invoice["currency"],
                prices=[LabeledPrice(label=t.label("invoice_total"), amount=invoice["amount"])],
                provider_token=config.payment_provider_token if invoice["currency"] != "XTR" else None,
                request_timeout=self.timeout,
            )
        except TelegramBadRequest as error:
            if "AMOUNT" not in error.message.upper():  # CURRENCY_TOTAL_AMOUNT_INVALID
                raise
            refused = t(
                "checkout.invoice_refused", number=context["number"], total_minor=context["total_minor"]
            )
            await self.bot.send_message(row.chat_id, refused, request_timeout=self.timeout)

    def _markup(self, row: OutboxMessage) -> InlineKeyboardMarkup | None:
        if row.kind in {"new_order", "receipt", "payment_recorded"}:
            t = self.renderer.texts(row.language)
            method = str(row.context.get("payment_method", ""))
            prepare = row.kind == "new_order" and starts_unpaid(
                "pending_payment", method, self.renderer.config
            )
            return staff_keyboards.order_actions(
                t, int(row.context["number"]), row.context.get("payment_id"), prepare=prepare
            )
        return None

    async def _update(self, row_id: int, unreachable: int | None = None, **values: Any) -> None:
        async with UnitOfWork(self.session_factory) as uow:
            await uow.begin_write()
            row = await uow.outbox.get(row_id)
            if row is not None:
                row.leased_until = None  # its outcome is recorded: no longer on its way
                for key, value in values.items():
                    setattr(row, key, value)
            if unreachable is not None:
                customer = await uow.customers.by_telegram_id(unreachable)
                if customer is not None and customer.blocked_at is None:
                    customer.blocked_at = utcnow()
            await uow.commit()
        if values.get("status") in {"failed", "unreachable"}:
            self.metrics.failed.labels(reason=values["status"]).inc()
            log.warning("outbox message %s failed: %s", row_id, values.get("last_error"))

    # --- running -----------------------------------------------------------------------------------
    def kick(self) -> None:
        """Deliver soon, without holding up the caller (after an update is handled)."""
        asyncio.get_running_loop().create_task(self.flush_logged())

    async def flush_logged(self) -> None:
        try:
            await self.flush()
        except Exception:  # the loop tries again; an error here must not take the bot down
            log.exception("outbox delivery failed")


def qr_png(text: str) -> bytes:
    """A QR code of the pickup code (segno), for staff to scan at the counter."""
    import io

    import segno

    buffer = io.BytesIO()
    segno.make(text, error="m").save(buffer, kind="png", scale=8, border=2)
    return buffer.getvalue()
