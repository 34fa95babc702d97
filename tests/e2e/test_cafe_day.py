"""A café's day, lived by its people: a real ``orderbot run`` against the sandbox, driven only through the
sandbox's HTTP API by the labels a person reads and presses.

The owner and an employee run the shop; four customers (two in English, two in Russian) browse, search,
order for pickup and delivery, pay by transfer with a receipt and in cash at the counter or the door, and
one cancels. The bot restarts mid-day. Next morning (the clock moved) the staff get the digest and the
owner reads the report. Each person's own words are checked, then the database."""

from __future__ import annotations

import asyncio
import re
import signal
import sqlite3
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from sandbox import SandboxServer
from sandbox.client import SandboxClient, SimUser, message_text
from tests.conftest import PYTHON, TOKEN, python_env
from tests.handlers.conftest import button_labels

pytestmark = [pytest.mark.process, pytest.mark.timeout(420)]

CAFE = """sku,name,category,price,stock,brand,description,photo,featured,active,\
name_ru,description_ru,category_ru
ESP,Espresso,Coffee,2.50,50,Roastery,A short & strong shot,,yes,yes,Эспрессо,Короткий и крепкий,Кофе
FLAT,Flat white,Coffee,3.80,50,Roastery,Double ristretto with silky milk,,no,yes,Флэт уайт,,Кофе
CAPP,Cappuccino,Coffee,3.60,50,Roastery,Espresso <and> foam,,no,yes,Капучино,Эспрессо <и> пена,Кофе
CRO,Croissant,Bakery,2.20,6,Oven,"Butter, flour, 27 layers",,yes,yes,Круассан,,Выпечка
BUN,Cinnamon bun,Bakery,3.10,8,Oven,Swedish style,,no,yes,Булочка с корицей,По-шведски,Выпечка
TART,Lemon tart,Bakery,3.80,2,Oven,Sharp curd,,no,yes,,,Выпечка
"""
DIGEST_AT = time(8, 0)


def shop_zone(now: datetime) -> str:
    """A time zone where it is day now, well past the digest's hour and before midnight, so the whole
    day in this test falls on one shop date and the next morning is tomorrow's."""
    for zone in ("Europe/Berlin", "Asia/Tokyo", "America/New_York"):
        if 10 <= now.astimezone(ZoneInfo(zone)).hour < 22:
            return zone
    raise AssertionError("one of the three is always in daytime")


class Bot:
    """``orderbot run`` as a process: started, stopped with SIGTERM as a service manager would, started
    again, optionally with its clock moved (``tests/e2e/moved_clock.py``)."""

    def __init__(self, env: dict[str, str], folder: Path) -> None:
        self.env, self.folder = env, folder
        self.process: asyncio.subprocess.Process | None = None
        self.runs = 0

    async def start(self, clock: datetime | None = None) -> None:
        self.runs += 1
        log = (self.folder / f"bot{self.runs}.log").open("wb")
        command = ["-m", "tests.e2e.moved_clock", clock.isoformat()] if clock else ["-m", "bot.cli"]
        self.process = await asyncio.create_subprocess_exec(
            PYTHON, *command, "run", env=self.env, cwd=self.folder, stdout=log, stderr=log
        )
        log.close()

    async def stop(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(self.process.wait(), 30) == 0
        self.process = None

    def logs(self) -> str:
        return "\n".join((self.folder / f"bot{i}.log").read_text() for i in range(1, self.runs + 1))


def said(messages: list[dict]) -> list[str]:
    return [m.get("text") or m.get("caption") or "" for m in messages]


async def number_in(user: SimUser, text: str) -> int:
    placed = (await user.wait_for(text=text, timeout=20))["text"]
    return int(re.search(r"[#№](\d+)", placed)[1])  # type: ignore[index]


async def add_from_category(user: SimUser, menu: str, category: str, product: str, add: str) -> str:
    """Catalog → category → product → add: what the pop-up said."""
    await user.press_reply(menu)
    await user.wait_for(lambda m: any(label.startswith(category) for label in button_labels(m)))
    await user.press(next(b for b in button_labels(await user.last()) if b.startswith(category)))
    await user.wait_for(lambda m: any(label.startswith(product) for label in button_labels(m)))
    await user.press(next(b for b in button_labels(await user.last()) if b.startswith(product)))
    await user.wait_for(lambda m: add in button_labels(m))
    return str((await user.press(add, wait=10))["text"])


async def check_out(user: SimUser, words: dict[str, str], *, address: str | None, method: str) -> int:
    """Cart → placed order, answering each question the way a person does; the order's number."""
    await user.press_reply(words["cart"])
    await user.wait_for(text=words["your cart"])
    await user.press(words["checkout"])
    await user.wait_for(text=words["how get"])
    if address:
        await user.press(words["delivery"])
        await user.wait_for(text=words["where"])
        await user.send(address)
    else:
        await user.press(words["pickup"])
    await user.wait_for(text=words["phone?"])
    await user.press_reply(words["share phone"])
    await user.wait_for(text=words["notes?"])
    await user.press(words["no notes"])
    await user.wait_for(text=words["how pay"])
    await user.press(method)
    await user.wait_for(text=words["right?"])
    await user.press(words["place"])
    return await number_in(user, words["placed"])


EN = {
    "catalog": "🛍 Catalog",
    "cart": "🛒 Cart",
    "your cart": "Your cart",
    "checkout": "✅ Checkout",
    "how get": "How would you like",
    "delivery": "🚚 Delivery",
    "pickup": "🏪 Pickup",
    "where": "Where should we deliver",
    "phone?": "What phone number",
    "share phone": "📱 Share my phone number",
    "notes?": "Anything we should know",
    "no notes": "No notes →",
    "how pay": "How will you pay",
    "right?": "Is everything right",
    "place": "✅ Place order",
    "placed": "is placed",
}
RU = {
    "catalog": "🛍 Каталог",
    "cart": "🛒 Корзина",
    "your cart": "Ваша корзина",
    "checkout": "✅ Оформить",
    "how get": "Как вы хотите получить заказ",
    "delivery": "🚚 Доставка",
    "pickup": "🏪 Самовывоз",
    "where": "Куда доставить",
    "phone?": "По какому номеру",
    "share phone": "📱 Поделиться номером",
    "notes?": "Что нам нужно знать",
    "no notes": "Без комментария →",
    "how pay": "Как будете платить",
    "right?": "Всё верно",
    "place": "✅ Оформить заказ",
    "placed": "оформлен!",
}


async def test_a_cafe_day(sandbox: SandboxServer, tmp_path: Path) -> None:
    zone = ZoneInfo(shop_zone(datetime.now(UTC)))
    async with SandboxClient(sandbox.url, bot_id=int(TOKEN.split(":")[0])) as client:
        olga = await client.create_user("Olga", username="olga_owns")
        eddie = await client.create_user("Eddie", username="eddie_works")
        env = python_env(
            BOT_TOKEN=TOKEN,
            TELEGRAM_API_URL=sandbox.url,
            DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'cafe.db'}",
            MEDIA_DIR=str(tmp_path),
            SHOP_NAME="Corner Café",
            CURRENCY="EUR",
            TIMEZONE=str(zone),
            DIGEST_TIME=DIGEST_AT.strftime("%H:%M"),
            ADMIN_IDS=str(olga.id),
            PAYMENT_METHODS="transfer,cash",
            BANK_DETAILS="IBAN DE00 CAFE 0000 0000",
            PICKUP_ADDRESS="12 Market Street",
            DELIVERY_FEE="2.00",
            THROTTLE_BURST="40",
        )
        (tmp_path / "cafe.csv").write_text(CAFE)
        importing = await asyncio.create_subprocess_exec(
            PYTHON, "-m", "bot.cli", "catalog", "import", "cafe.csv", env=env, cwd=tmp_path
        )
        assert await importing.wait() == 0
        bot = Bot(env, tmp_path)
        await bot.start()
        try:
            await a_day_and_the_next_morning(client, bot, olga, eddie, zone)
        except BaseException:
            print(bot.logs()[-6000:])  # what the bot said, beside the failure
            raise
        finally:
            if bot.process is not None:
                await bot.stop()
        assert "Traceback" not in bot.logs(), bot.logs()[-6000:]
        the_books_at_the_end(tmp_path / "cafe.db")


async def a_day_and_the_next_morning(
    client: SandboxClient, bot: Bot, olga: SimUser, eddie: SimUser, zone: ZoneInfo
) -> None:
    # Morning: the owner opens the chat and takes Eddie on; both hear it, by name.
    for person in (olga, eddie):
        await person.send("/start")
        await person.wait_for(text="Welcome to Corner Café", timeout=30)
    await olga.wait_for(text="You run this shop.")  # and what waits for her
    await olga.send(f"/staff add {eddie.id}")
    await olga.wait_for(text=f"Eddie (@eddie_works) · {eddie.id} is now staff.")
    await eddie.wait_for(text="You are now on the team of Corner Café")

    # Ann (English) browses to a flat white, finds the croissants with the Search button, and orders
    # them for pickup, paying by bank transfer.
    ann = await client.create_user("Ann", username="ann_eats")
    await ann.send("/start")
    await ann.wait_for(text="Welcome to Corner Café")
    added = await add_from_category(ann, EN["catalog"], "Coffee", "Flat white", "🛒 Add 1 to cart")
    assert added.startswith("✅ Added 1 × Flat white."), added
    await ann.press_reply(EN["catalog"])
    await ann.wait_for(lambda m: "🔎 Search" in button_labels(m))
    await ann.press("🔎 Search")
    await ann.wait_for(text="What are you looking for?")
    await ann.send("croissant")
    found = await ann.wait_for(text="Results for “croissant”")
    assert "1 product" in found["text"]
    await ann.press(next(b for b in button_labels(found) if b.startswith("Croissant")))
    await ann.wait_for(lambda m: "🛒 Add 1 to cart" in button_labels(m))
    await ann.press("🛒 Add 1 to cart", wait=10)
    ann_order = await check_out(ann, EN, address=None, method="🏦 Bank transfer")
    asked = said(await ann.bot_messages())
    assert any("2 items · €6.00" in t and "🏪 Pickup from: 12 Market Street\n🚚" in t for t in asked), asked
    alert = await olga.wait_for(text=f"New order #{ann_order}")
    assert "Ann @ann_eats" in alert["text"] and "Flat white × 1" in alert["text"]
    assert "👨‍🍳 Start preparing" not in button_labels(alert)  # a transfer is paid first
    await ann.send_photo("my transfer")
    await ann.wait_for(text=f"Your receipt is attached to order #{ann_order}")
    await olga.wait_for(text=f"Receipt for order #{ann_order}")

    # Boris (Russian) orders a cappuccino delivered, to pay in cash at the door.
    boris = await client.create_user("Борис", language_code="ru")
    await boris.send("/start")
    await boris.wait_for(text="Добро пожаловать в Corner Café")
    await add_from_category(boris, RU["catalog"], "Кофе", "Капучино", "🛒 В корзину: 1")
    card = said(await boris.bot_messages())[-1]
    assert card.startswith("Капучино · Roastery\nЭспрессо <и> пена"), card  # the menu in Russian
    boris_order = await check_out(boris, RU, address="ул. Ленина, 5, кв. 12", method="💵 Наличными")
    placed = (await boris.wait_for(text=f"Заказ №{boris_order} оформлен!"))["text"]
    assert "Итого: 5,60\xa0€" in placed and "Оплатите наличными при получении заказа." in placed
    assert "Код платежа" not in placed  # a reference is for a transfer's description, not for cash
    alert = await olga.wait_for(text=f"New order #{boris_order}")
    assert button_labels(alert)[0] == "👨‍🍳 Start preparing"  # cash at the door: made first, paid after

    # A deploy at noon: the bot is stopped and started again. Nothing is lost or said twice.
    await bot.stop()
    await bot.start()

    # Olga checks her bank, then records Ann's transfer with the guided step: one tap.
    await olga.send(f"/order {ann_order}")
    view = await olga.wait_for(text=f"Order #{ann_order} · awaiting payment", timeout=30)
    assert "📸 Receipt" in view["text"]
    await olga.press("💰 Record payment", message_id=view["message_id"])
    ask = await olga.wait_for(text="still due")
    transfer = next(b for b in button_labels(ask) if b.startswith("Bank transfer"))
    assert transfer == "Bank transfer · €6.00"
    await olga.press(transfer, message_id=ask["message_id"])
    await olga.wait_for(text="The order is paid; the customer is told.")
    await ann.wait_for(text=f"We received your payment of €6.00. Order #{ann_order} is paid", timeout=20)

    # Clara (English) orders a bun to pay at the counter; Dmitri (Russian) orders a tart and cancels.
    clara = await client.create_user("Clara")
    await clara.send("/start")
    await clara.wait_for(text="Welcome to Corner Café")
    await add_from_category(clara, EN["catalog"], "Bakery", "Cinnamon bun", "🛒 Add 1 to cart")
    clara_order = await check_out(clara, EN, address=None, method="💵 Cash")
    assert any("1 item · €3.10" in t for t in said(await clara.bot_messages()))  # one item, not "1 items"
    dmitri = await client.create_user("Дмитрий", language_code="ru")
    await dmitri.send("/start")
    await dmitri.wait_for(text="Добро пожаловать в Corner Café")
    await add_from_category(dmitri, RU["catalog"], "Выпечка", "Lemon tart", "🛒 В корзину: 1")  # untranslated
    assert any("Осталось 2 штуки" in t for t in said(await dmitri.bot_messages()))
    dmitri_order = await check_out(dmitri, RU, address=None, method="🏦 Банковский перевод")
    await dmitri.press_reply("📦 Мои заказы")
    listing = await dmitri.wait_for(text="Ваши заказы")
    await dmitri.press(next(b for b in button_labels(listing) if f"{dmitri_order}" in b))
    await dmitri.wait_for(lambda m: "✖ Отменить заказ" in button_labels(m))
    await dmitri.press("✖ Отменить заказ")
    sure = await dmitri.wait_for(text=f"Отменить заказ №{dmitri_order}?")
    await dmitri.press("Да, отменить", message_id=sure["message_id"])
    await dmitri.wait_for(text=f"Заказ №{dmitri_order} · отменён")
    await olga.wait_for(text=f"The customer cancelled order #{dmitri_order}; its stock is back.")

    # Eddie at the counter: Clara's bun is made, she shows her code, pays cash, takes it.
    for status, now in (("preparing", "being prepared"), ("ready", "ready for pickup")):
        await eddie.send(f"/status {clara_order} {status}")
        await eddie.wait_for(text=f"Order #{clara_order} is now {now}")
    code = await pickup_code(clara, zone)
    assert "💵 To pay when you collect it: €3.10" in said(await clara.bot_messages())[-1]  # what to bring
    await eddie.send(f"/pickup {code}")
    ask = await eddie.wait_for(text="€3.10 (Cash) is still to collect")
    await eddie.press("💵 Received €3.10 (Cash), hand it over", message_id=ask["message_id"])
    done = await eddie.wait_for(text=f"Order #{clara_order} is now completed")
    assert "Pickup code" not in done["text"]  # it was used
    assert (
        "The €3.10 you took is payment #" in done["text"] and "waits for an owner's /verify" in done["text"]
    )
    await clara.wait_for(text="Thank you! We hope you enjoy it.", timeout=20)
    # The cash Eddie took waits for Olga, who verifies it; Eddie hears.
    await verify_what_waits(olga, amount="€3.10", number=clara_order)
    await eddie.wait_for(text=f"you recorded for order #{clara_order} was verified", timeout=20)
    await clara.wait_for(text=f"We received your payment of €3.10 for order #{clara_order}. Thank you!")

    # Olga starts Boris's cappuccino from her alert; it goes out with the courier (Eddie), who takes the
    # cash at the door.
    await olga.press("👨‍🍳 Start preparing", message_id=alert["message_id"])
    await olga.wait_for(text=f"Order #{boris_order} is now being prepared")
    now = next(m for m in await olga.bot_messages() if m["message_id"] == alert["message_id"])
    assert now["text"].startswith(f"📦 Order #{boris_order} · being prepared")  # the alert, as it is now
    assert "👨‍🍳 Start preparing" not in button_labels(now)
    await eddie.send(f"/status {boris_order} out_for_delivery")
    await eddie.wait_for(text=f"Order #{boris_order} is now out for delivery")
    on_its_way = await boris.wait_for(text="в пути", timeout=20)
    assert "💵 Оплата при получении: 5,60\xa0€" in on_its_way["text"]
    await eddie.send(f"/status {boris_order} completed")
    ask = await eddie.wait_for(text="€5.60 (Cash) is still to collect")
    await eddie.press("💵 Received €5.60 (Cash), hand it over", message_id=ask["message_id"])
    await eddie.wait_for(text=f"Order #{boris_order} is now completed")
    await verify_what_waits(olga, amount="€5.60", number=boris_order)
    await boris.wait_for(text=f"Мы получили ваш платёж на 5,60\xa0€ за заказ №{boris_order}", timeout=20)

    # Ann collects hers from Olga.
    for status in ("preparing", "ready"):
        await olga.send(f"/status {ann_order} {status}")
        await olga.wait_for(text=f"Order #{ann_order} is now")
    await olga.send(f"/pickup {await pickup_code(ann, zone)}")
    await olga.wait_for(text=f"Order #{ann_order} is now completed")
    await ann.wait_for(text="Thank you! We hope you enjoy it.", timeout=20)

    # Eddie's /start shows him what waits: nothing, the day's work is done.
    await eddie.send("/start")
    desk = await eddie.wait_for(text="You are on the shop's team.")
    assert "0 orders need action: /queue" in desk["text"]
    assert "0 payments wait for an owner's check" in desk["text"]  # he does not verify them himself

    # The day's figures: three orders bought by three new customers; the cancelled one is not counted.
    await olga.send("/report today")
    report = message_text(await olga.wait_for(text="📊 Today", timeout=20))
    for line in ("Revenue: €14.70 · 3 orders · average €4.90", "Cash: €8.70", "Bank transfer: €6.00"):
        assert line in report, report
    assert "Customers: 3 new, 0 returning" in report and "Lemon tart" not in report

    # Each customer heard each step once, in order, in their own language.
    assert headlines(await ann.bot_messages()) == [
        f"🎉 Order #{ann_order} is placed!",
        f"📸 Thank you! Your receipt is attached to order #{ann_order}. The shop will check it and confirm.",
        f"✅ We received your payment of €6.00. Order #{ann_order} is paid and will be prepared.",
        f"📦 Order #{ann_order}: being prepared",
        f"📦 Order #{ann_order}: ready for pickup",
        f"📦 Order #{ann_order}: completed",
    ]
    assert headlines(await boris.bot_messages()) == [
        f"🎉 Заказ №{boris_order} оформлен!",
        f"📦 Заказ №{boris_order}: готовится",
        f"📦 Заказ №{boris_order}: в пути",
        f"📦 Заказ №{boris_order}: выполнен",
        f"✅ Мы получили ваш платёж на 5,60\xa0€ за заказ №{boris_order}. Спасибо!",
    ]
    assert headlines(await clara.bot_messages()) == [
        f"🎉 Order #{clara_order} is placed!",
        f"📦 Order #{clara_order}: being prepared",
        f"📦 Order #{clara_order}: ready for pickup",
        f"📦 Order #{clara_order}: completed",
        f"✅ We received your payment of €3.10 for order #{clara_order}. Thank you!",
    ]
    assert headlines(await dmitri.bot_messages()) == [
        f"🎉 Заказ №{dmitri_order} оформлен!",
        f"📦 Заказ №{dmitri_order} · отменён",  # the order's card, as it was cancelled
    ]
    alerts = [t for t in said(await olga.bot_messages()) if t.startswith("🆕 New order")]
    numbers = sorted(int(re.search(r"#(\d+)", alert)[1]) for alert in alerts)  # type: ignore[index]
    assert numbers == sorted({ann_order, clara_order, dmitri_order})  # once each, across the restart;
    # Boris's became the order's view when Olga started it

    # Night. The bot is stopped, and started again next morning a minute after the digest's hour.
    await bot.stop()
    today = datetime.now(zone).date()
    await bot.start(clock=datetime.combine(today + timedelta(days=1), DIGEST_AT, zone) + timedelta(minutes=1))
    digest = (await olga.wait_for(text="Good morning!", timeout=30))["text"]
    assert f"Yesterday, {today.isoformat()}:\nRevenue: €14.70 · 3 orders" in digest, digest
    assert "Payments to verify: 0" in digest and "Orders waiting for action: 0" in digest, digest
    assert "Croissant (CRO): 5" in digest and "Lemon tart (TART): 2" in digest, digest  # low stock
    assert not [t for t in said(await eddie.bot_messages()) if "Good morning" in t]  # owners' digest
    await olga.send("/report week")
    week = message_text(await olga.wait_for(text="📊", timeout=20))
    assert "Revenue: €14.70 · 3 orders" in week, week


def the_books_at_the_end(database: Path) -> None:
    with sqlite3.connect(database) as db:
        orders = db.execute(
            "select id, status, fulfilment, payment_method, total_minor, paid_at is not null from orders"
        ).fetchall()
        assert orders == [
            (1, "completed", "pickup", "transfer", 600, 1),
            (2, "completed", "delivery", "cash", 560, 1),
            (3, "completed", "pickup", "cash", 310, 1),
            (4, "cancelled", "pickup", "transfer", 380, 0),
        ]
        payments = db.execute("select order_id, amount_minor, method, status from payments order by id")
        assert payments.fetchall() == [
            (1, 600, "transfer", "verified"),
            (3, 310, "cash", "verified"),
            (2, 560, "cash", "verified"),
        ]
        stock = dict(db.execute("select sku, stock from products").fetchall())
        assert stock == {"ESP": 50, "FLAT": 49, "CAPP": 49, "CRO": 5, "BUN": 7, "TART": 2}
        assert db.execute("select count(*) from outbox where status != 'sent'").fetchone() == (0,)
        assert db.execute("select count(*) from update_inbox").fetchone() == (0,)  # every update handled


def headlines(messages: list[dict]) -> list[str]:
    """The first line of each message that tells a customer where their order is."""
    firsts = [text.split("\n", 1)[0] for text in said(messages)]
    return [line for line in firsts if line[:1] in ("🎉", "📸", "✅", "📦") and ("#" in line or "№" in line)]


async def pickup_code(user: SimUser, zone: ZoneInfo) -> str:
    """The code in the customer's "ready for pickup" message, which also says where."""
    ready = message_text(await user.wait_for(text="ready for pickup", timeout=20))
    assert "🏪 Pickup from: 12 Market Street" in ready, ready
    return re.search(r"collect it: (\w+)", ready)[1]  # type: ignore[index]


async def verify_what_waits(owner: SimUser, amount: str, number: int) -> None:
    """The owner presses Verify on the payment an employee recorded for this order."""
    waits = await owner.wait_for(
        text=f"of {amount} (Cash) for order #{number}, recorded by Eddie", timeout=20
    )
    verify = next(b for b in button_labels(waits) if b.startswith("✅ Verify"))
    await owner.press(verify, message_id=waits["message_id"])
    verified = await owner.wait_for(text=f"for order #{number} — verified")
    assert "The order is paid; the customer is told." in verified["text"]
    assert "given back" not in verified["text"]
