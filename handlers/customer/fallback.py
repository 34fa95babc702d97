"""Last in line: anything no other handler took, and errors nobody expected."""

from __future__ import annotations

import logging
import secrets

from aiogram import F, Router
from aiogram.types import CallbackQuery, ErrorEvent, Message

from ..render import Renderer, Texts

router = Router(name="fallback")
router.message.filter(F.chat.type == "private")  # customers talk to the shop in private
log = logging.getLogger("orderbot")


@router.message()
async def unknown_message(message: Message, t: Texts, role: str | None = None) -> None:
    """Not understood; staff who mistype a command are pointed to theirs."""
    await message.answer(t("start.unknown", staff=role is not None))


@router.callback_query()
async def unknown_button(callback: CallbackQuery, t: Texts) -> None:
    """Tampered or outdated callback data: a polite alert, never an exception."""
    await callback.answer(t("start.stale_button"), show_alert=True)


@router.errors()
async def unexpected_error(event: ErrorEvent, renderer: Renderer, update_attempt: int = 1) -> None:
    """Log the traceback under a short reference; tell the user we are sorry and give them that reference
    (once: an update tried again, ``update_attempt`` > 1, is only logged)."""
    reference = secrets.token_hex(4).upper()
    update = event.update
    log.exception("unhandled error %s in update %s", reference, update.update_id, exc_info=event.exception)
    if update_attempt > 1:
        return
    user = update.event.from_user if hasattr(update.event, "from_user") else None
    language = (user.language_code or "en")[:2] if user else "en"
    text = renderer.render(
        "start.unexpected_error", language if language in ("en", "ru") else "en", reference=reference
    )
    query = update.callback_query
    target = update.message or (query.message if query and isinstance(query.message, Message) else None)
    try:
        if target is not None:
            await target.answer(text)
        if query is not None:
            await query.answer()
    except Exception as error:  # the apology itself failed (Telegram down, query too old): the log has it
        log.warning("could not send the apology for %s: %s", reference, error)
