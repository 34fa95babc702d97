"""Every text in English and Russian: catalogs complete and current, and a conversation in Russian."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from handlers.render import Renderer
from shop.config import ShopConfig
from tests.conftest import ROOT
from tests.handlers.conftest import Shop, button_labels

PLACEHOLDER = re.compile(r"%\((\w+)\)s")


def messages(path: Path) -> dict[tuple[str | None, object], object]:
    """Each message by its context (pgettext's, or None) and id."""
    with path.open("rb") as po:
        return {(m.context, m.id): m.string for m in read_po(po) if m.id}


def test_template_catalog_is_current() -> None:
    method_map = [("templates/**.j2", "jinja2")]
    options = {"templates/**.j2": {"extensions": "jinja2.ext.i18n,jinja2.ext.do", "trimmed": "true"}}
    extracted = {
        (context, message) for _, _, message, _, context in extract_from_dir(str(ROOT), method_map, options)
    }
    assert extracted == set(messages(ROOT / "locales/messages.pot")), "run `make translations`"


def test_russian_is_complete_with_the_same_placeholders() -> None:
    russian = messages(ROOT / "locales/ru/LC_MESSAGES/messages.po")
    assert set(russian) == set(messages(ROOT / "locales/messages.pot"))
    for (_, msgid), msgstr in russian.items():
        ids = msgid if isinstance(msgid, tuple) else (msgid,)
        strs = msgstr if isinstance(msgstr, tuple) else (msgstr,)
        assert all(strs), f"untranslated: {msgid!r}"
        wanted = set(PLACEHOLDER.findall(ids[0])) | ({"num"} if isinstance(msgid, tuple) else set())
        for text in strs:
            assert set(PLACEHOLDER.findall(text)) <= wanted | {"num"}, (msgid, text)


async def test_a_russian_customer_is_answered_in_russian_and_can_switch(shop: Shop) -> None:
    ivan = await shop.customer("Иван", language="ru")
    await ivan.send("/start")
    greeting = await ivan.wait_for(text="Здравствуйте")
    assert greeting["text"].startswith("👋 Здравствуйте, Иван!")
    keyboard = await ivan.reply_keyboard()
    assert keyboard["keyboard"][0][0]["text"] == "🛍 Каталог"
    await ivan.press_reply("🛒 Корзина")
    await ivan.wait_for(text="Ваша корзина пуста")
    await ivan.send("/search tea")
    results = await ivan.wait_for(text="Результаты")
    assert "7 товаров" in results["text"]
    await ivan.send("/language")
    await ivan.wait_for(text="Выберите язык")
    await ivan.press("English")
    await ivan.wait_for(text="I will speak English")
    await ivan.wait_for(text="Anything else? The menu is below.")  # one short line, not the whole /help
    assert (await ivan.reply_keyboard())["keyboard"][0][0]["text"] == "🛍 Catalog"
    assert not [m for m in await ivan.bot_messages() if "How to order" in (m.get("text") or "")]
    await ivan.send("/catalog")
    categories = await ivan.wait_for(text="Pick a category")
    assert "⭐ Featured" in button_labels(categories)


async def test_prices_follow_the_language(shop: Shop) -> None:
    ivan = await shop.customer("Иван", language="ru")
    await ivan.send("/start p_1")
    card = await ivan.wait_for(lambda m: "photo" in m)
    assert "4,50\xa0$" in card["caption"]  # Russian number format for the shop's currency


async def test_staff_alerts_speak_each_owners_language(shop: Shop) -> None:
    from tests.handlers.test_staff import placed

    owner = shop.owner
    await owner.send("/language")
    await owner.wait_for(text="Choose your language")
    await owner.press("Русский")
    await owner.wait_for(text="Готово")
    _, number = await placed(shop)
    alert = await owner.wait_for(text=f"Новый заказ №{number}")
    assert "💰" in button_labels(alert)[0] and "Record payment" not in str(button_labels(alert))


def test_point_counts_read_right_in_russian_below_zero_too() -> None:
    """Plural forms chosen by the count's size: Python's % on -1 would pick the form of 9."""
    renderer = Renderer(ShopConfig(currency="USD"))
    for balance, words in [
        (-1, "-1 балл."),
        (-3, "-3 балла."),
        (-9, "-9 баллов."),
        (-21, "-21 балл."),
        (0, "0 баллов."),
    ]:
        text = renderer.render(
            "notify.points_reversed", "ru", number=7, back=0, taken=9, expired=0, balance=balance
        )
        assert f"На счету: {words}" in text, text
    text = renderer.render("notify.points_reversed", "ru", number=7, back=2, taken=1, expired=0, balance=-1)
    assert text.startswith(
        "⭐ 2 балла, потраченные на заказ №7, вернулись на счёт. 1 балл, начисленный за заказ №7"
    )
    assert "Новые баллы сначала покроют этот минус." in text


def test_every_count_a_customer_or_owner_reads_takes_its_plural_form() -> None:
    """ "Use 1 points", "Send it to 1 customers", "из 1 покупателей": counts go through plural forms."""
    renderer = Renderer(ShopConfig(currency="USD"))
    cases = [
        ("labels.use_points", {"points": 1}, "en", "Use 1 point"),
        ("labels.use_points", {"points": 2}, "en", "Use 2 points"),
        ("labels.use_points", {"points": 1}, "ru", "Списать 1 балл"),
        ("labels.use_points", {"points": 3}, "ru", "Списать 3 балла"),
        ("labels.use_points", {"points": 11}, "ru", "Списать 11 баллов"),
        ("labels.audience_name", {"audience": "recent-1"}, "en", "bought in the last 1 day"),
        ("labels.audience_name", {"audience": "recent-30"}, "ru", "покупали за последние 30 дней"),
        ("notify.points_expiring", {"points": 1, "on": datetime(2027, 1, 1, tzinfo=UTC)}, "en", "1 of your"),
        ("notify.points_earned", {"number": 4, "points": 1, "balance": 1}, "en", "You earned 1 point with"),
        ("staff.broadcast_confirm", {"audience": "all", "count": 1}, "ru", "Отправить 1 покупателю"),
    ]
    for template, context, language, expected in cases:
        text = renderer.render(template, language, **context)
        assert expected in text, (template, language, text)
