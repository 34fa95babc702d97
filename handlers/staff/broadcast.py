"""Staff: /broadcast — compose (text or photo), preview, choose the audience, confirm; then progress."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.filters import Command
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message
from aiogram.utils.text_decorations import html_decoration

from shop import broadcast
from shop.config import ShopConfig
from shop.errors import DomainError
from storage.models import utcnow
from storage.uow import UnitOfWork

from ..answers import Answer, explain, show
from ..render import Renderer, Texts
from ..states import Broadcasting
from . import keyboards
from .access import IsStaff
from .callbacks import BroadcastCb

# The formatting staff may give a broadcast in their app. A custom emoji is left out (it stays the plain
# emoji): only bots with a username bought on Fragment may send those.
KEPT_FORMATTING = {
    "bold",
    "italic",
    "underline",
    "strikethrough",
    "spoiler",
    "code",
    "pre",
    "text_link",
    "blockquote",
    "expandable_blockquote",
}

router = Router(name="staff_broadcast")
router.message.filter(IsStaff())
router.callback_query.filter(IsStaff())


@router.message(Command("broadcast"))
async def broadcast_command(message: Message, t: Texts, state: FSMContext) -> None:
    await state.set_state(Broadcasting.compose)
    await state.set_data({})
    await message.answer(t("staff.broadcast_ask"))


@router.message(Broadcasting.compose, F.photo | F.text, Answer())  # a command or a menu tap is not the news
async def composed(
    message: Message, t: Texts, state: FSMContext, renderer: Renderer, lang: str, config: ShopConfig
) -> None:
    photo = message.photo[-1].file_id if message.photo else None
    try:
        text = broadcast.check_message(message.caption if photo else message.text, photo)
    except DomainError as error:
        await explain(message, t, error)
        return
    html = as_html(message)
    await state.update_data(text=text, html=html, photo=photo)
    await state.set_state(Broadcasting.audience)
    preview = renderer.render("notify.broadcast", lang, html=html)
    if photo:
        await message.answer_photo(photo, caption=preview)
    else:
        await message.answer(preview)
    await message.answer(
        t("staff.broadcast_preview"), reply_markup=keyboards.audiences(t, broadcast.audiences(config))
    )


@router.callback_query(BroadcastCb.filter())
async def broadcast_button(
    callback: CallbackQuery,
    callback_data: BroadcastCb,
    t: Texts,
    state: FSMContext,
    uow: UnitOfWork,
    config: ShopConfig,
) -> None:
    data = await state.get_data()
    message = callback.message
    try:
        if "text" not in data or not isinstance(message, Message):
            raise broadcast.BroadcastGone()
        if callback_data.action == "x":
            await state.clear()
            await callback.answer()
            await show(callback, t("staff.broadcast_cancelled"))
        elif callback_data.action == "b":
            await state.set_state(Broadcasting.audience)
            await callback.answer()
            await show(
                callback, t("staff.broadcast_preview"), keyboards.audiences(t, broadcast.audiences(config))
            )
        elif callback_data.action == "a":
            members = await broadcast.recipients(uow, callback_data.value, config, utcnow())
            if not members:
                raise broadcast.NoRecipients()
            await state.update_data(audience=callback_data.value)
            await state.set_state(Broadcasting.confirm)
            await callback.answer()
            text = t("staff.broadcast_confirm", audience=callback_data.value, count=len(members))
            await show(callback, text, keyboards.broadcast_confirm(t))
        elif "audience" in data:  # send
            item = await broadcast.start(
                uow,
                text=data["text"],
                html=data.get("html"),
                photo=data.get("photo"),
                audience=data["audience"],
                staff_id=callback.from_user.id,
                chat_id=message.chat.id,
                message_id=message.message_id,
                config=config,
            )
            await state.clear()
            await callback.answer()
            progress = broadcast.Progress(item.recipients, 0, 0, 0)
            await show(callback, t("staff.broadcast_progress", number=item.id, p=progress))
        else:
            raise broadcast.BroadcastGone()
    except DomainError as error:
        await explain(callback, t, error)


def as_html(message: Message) -> str:
    """The message as HTML with the formatting staff gave it (bold, links, quotes...); text that is only
    text comes out escaped. aiogram escapes every piece of text between the tags."""
    text = message.text if message.text is not None else message.caption or ""
    entities = [e for e in (message.entities or message.caption_entities or []) if e.type in KEPT_FORMATTING]
    return html_decoration.unparse(text, entities).strip()
