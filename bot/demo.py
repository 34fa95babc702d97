"""The demo shop: a catalog with generated photos, loaded through the same CSV import owners use."""

from __future__ import annotations

import csv
import io
import random
from dataclasses import dataclass
from pathlib import Path

from shop.catalog import CSV_COLUMNS, import_products_csv
from storage.models import Staff
from storage.uow import UnitOfWork


@dataclass(frozen=True)
class DemoProduct:
    name: str
    name_ru: str
    brand: str
    price: str
    description: str
    description_ru: str
    sold_out: bool = False  # one is, so that a sold-out product can be seen


# A café's menu, in English and Russian. Coffee is longer than a page of products (``page_size``, 6).
CATALOG: dict[tuple[str, str], list[DemoProduct]] = {
    ("Coffee", "Кофе"): [
        DemoProduct(
            "Espresso",
            "Эспрессо",
            "Corner Roastery",
            "2.50",
            "A short, strong shot of our house blend.",
            "Короткий крепкий шот нашего домашнего бленда.",
        ),
        DemoProduct("Doppio", "Доппио", "Corner Roastery", "3.00", "A double espresso.", "Двойной эспрессо."),
        DemoProduct(
            "Americano",
            "Американо",
            "Corner Roastery",
            "2.90",
            "Espresso topped up with hot water.",
            "Эспрессо, долитый горячей водой.",
        ),
        DemoProduct(
            "Cappuccino",
            "Капучино",
            "Corner Roastery",
            "3.60",
            "Espresso, steamed milk and a thick foam.",
            "Эспрессо, горячее молоко и густая пенка.",
        ),
        DemoProduct(
            "Flat white",
            "Флэт уайт",
            "Corner Roastery",
            "3.80",
            "Double ristretto with silky milk.",
            "Двойной ристретто с бархатистым молоком.",
        ),
        DemoProduct(
            "Latte",
            "Латте",
            "Corner Roastery",
            "3.70",
            "Espresso with plenty of steamed milk.",
            "Эспрессо и много горячего молока.",
        ),
        DemoProduct(
            "Raf",
            "Раф",
            "Corner Roastery",
            "4.20",
            "Espresso whipped with cream and vanilla sugar.",
            "Эспрессо, взбитый со сливками и ванильным сахаром.",
        ),
        DemoProduct(
            "Mocha",
            "Мокко",
            "Corner Roastery",
            "4.10",
            "Espresso, dark chocolate and milk.",
            "Эспрессо, тёмный шоколад и молоко.",
        ),
        DemoProduct(
            "Cortado",
            "Кортадо",
            "Corner Roastery",
            "3.20",
            "Espresso cut with a little warm milk.",
            "Эспрессо с каплей тёплого молока.",
        ),
        DemoProduct(
            "Filter coffee",
            "Фильтр-кофе",
            "Nordic Beans",
            "3.40",
            "Today's single origin, brewed by hand.",
            "Моносорт дня, заваренный вручную.",
        ),
        DemoProduct(
            "Cold brew",
            "Колд брю",
            "Nordic Beans",
            "4.20",
            "Steeped for 18 hours, served on ice.",
            "Настаивается 18 часов, подаётся со льдом.",
        ),
        DemoProduct(
            "Iced latte",
            "Айс-латте",
            "Corner Roastery",
            "4.00",
            "Espresso and cold milk over ice.",
            "Эспрессо и холодное молоко со льдом.",
        ),
    ],
    ("Tea", "Чай"): [
        DemoProduct(
            "Green sencha",
            "Зелёный сенча",
            "Leafy",
            "2.90",
            "Japanese green tea from Shizuoka.",
            "Японский зелёный чай из Сидзуоки.",
        ),
        DemoProduct(
            "Earl Grey", "Эрл Грей", "Leafy", "2.70", "Black tea with bergamot.", "Чёрный чай с бергамотом."
        ),
        DemoProduct(
            "Chai latte",
            "Чай-латте",
            "Leafy",
            "3.70",
            "Spiced black tea with steamed milk.",
            "Пряный чёрный чай с горячим молоком.",
        ),
        DemoProduct(
            "Mint tea",
            "Мятный чай",
            "Leafy",
            "2.50",
            "Fresh mint leaves and hot water, that's all.",
            "Свежая мята и кипяток, больше ничего.",
        ),
        DemoProduct(
            "Matcha latte",
            "Матча-латте",
            "Tea Atelier",
            "4.50",
            "Ceremonial matcha whisked with milk.",
            "Церемониальная матча, взбитая с молоком.",
        ),
        DemoProduct(
            "Sea buckthorn tea",
            "Облепиховый чай",
            "Tea Atelier",
            "3.90",
            "Sea buckthorn, honey and ginger, in a pot for two.",
            "Облепиха, мёд и имбирь, чайник на двоих.",
        ),
    ],
    ("Bakery", "Выпечка"): [
        DemoProduct(
            "Croissant",
            "Круассан",
            "Corner Bakery",
            "2.20",
            "Butter, flour and 27 layers.",
            "Масло, мука и 27 слоёв.",
        ),
        DemoProduct(
            "Pain au chocolat",
            "Пен-о-шоколя",
            "Corner Bakery",
            "2.60",
            "Two bars of dark chocolate inside.",
            "Внутри две палочки тёмного шоколада.",
        ),
        DemoProduct(
            "Cinnamon bun",
            "Булочка с корицей",
            "Corner Bakery",
            "3.10",
            "Swedish style, with cardamom.",
            "По-шведски, с кардамоном.",
        ),
        DemoProduct(
            "Carrot cake",
            "Морковный торт",
            "Corner Bakery",
            "4.20",
            "With walnuts and cream cheese frosting.",
            "С грецкими орехами и сливочно-сырным кремом.",
        ),
        DemoProduct(
            "Banana bread",
            "Банановый хлеб",
            "Corner Bakery",
            "3.00",
            "With walnuts. Vegan.",
            "С грецкими орехами. Веганский.",
        ),
        DemoProduct(
            "Lemon tart",
            "Лимонный тарт",
            "Corner Bakery",
            "3.80",
            "Sharp lemon curd, crisp pastry.",
            "Кисловатый лимонный курд, хрустящее тесто.",
            sold_out=True,
        ),
    ],
    ("Breakfast", "Завтраки"): [
        DemoProduct(
            "Avocado toast",
            "Тост с авокадо",
            "Kitchen",
            "7.50",
            "Sourdough, chilli, lime and a poached egg.",
            "Хлеб на закваске, чили, лайм и яйцо пашот.",
        ),
        DemoProduct(
            "Syrniki",
            "Сырники",
            "Kitchen",
            "6.80",
            "Three cottage cheese pancakes with sour cream and jam.",
            "Три сырника со сметаной и вареньем.",
        ),
        DemoProduct(
            "Granola bowl",
            "Гранола",
            "Kitchen",
            "6.20",
            "Yoghurt, berries and honey.",
            "Йогурт, ягоды и мёд.",
        ),
        DemoProduct(
            "Porridge",
            "Овсяная каша",
            "Kitchen",
            "4.80",
            "Oats, milk and a cinnamon apple.",
            "Овсянка на молоке с яблоком и корицей.",
        ),
        DemoProduct(
            "Shakshuka",
            "Шакшука",
            "Kitchen",
            "9.40",
            "Eggs baked in a spiced tomato sauce.",
            "Яйца, запечённые в пряном томатном соусе.",
        ),
        DemoProduct(
            "Pancakes",
            "Панкейки",
            "Kitchen",
            "8.10",
            "Three fluffy pancakes with maple syrup.",
            "Три пышных панкейка с кленовым сиропом.",
        ),
    ],
    ("Drinks", "Напитки"): [
        DemoProduct(
            "Orange juice",
            "Апельсиновый фреш",
            "Press",
            "3.50",
            "Squeezed to order, 300 ml.",
            "Выжимаем при вас, 300 мл.",
        ),
        DemoProduct(
            "Lemonade",
            "Лимонад",
            "Press",
            "3.20",
            "Home-made, not too sweet.",
            "Домашний, не слишком сладкий.",
        ),
        DemoProduct(
            "Berry mors",
            "Ягодный морс",
            "Press",
            "3.00",
            "Cranberry and lingonberry, served cold.",
            "Клюква и брусника, подаётся холодным.",
        ),
        DemoProduct(
            "Hot chocolate",
            "Горячий шоколад",
            "Kitchen",
            "3.40",
            "Belgian chocolate and whipped cream.",
            "Бельгийский шоколад и взбитые сливки.",
        ),
        DemoProduct("Sparkling water", "Газированная вода", "Spring", "1.80", "500 ml.", "500 мл."),
    ],
}
COLOURS = [(231, 111, 81), (42, 157, 143), (233, 196, 106), (38, 70, 83), (244, 162, 97), (106, 76, 147)]


def demo_csv() -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS)
    writer.writeheader()
    rng = random.Random(7)
    for (category, category_ru), products in CATALOG.items():
        for p, product in enumerate(products):
            sku = f"{category[:3].upper()}-{p + 1:02d}"
            stock = 0 if product.sold_out else rng.choice([3, 8, 12, 25, 40])
            writer.writerow(
                {
                    "sku": sku,
                    "name": product.name,
                    "category": category,
                    "price": product.price,
                    "stock": stock,
                    "brand": product.brand,
                    "description": product.description,
                    "photo": f"demo/{sku}.png",
                    "featured": "yes" if p == 0 else "no",
                    "active": "yes",
                    "name_ru": product.name_ru,
                    "description_ru": product.description_ru,
                    "category_ru": category_ru,
                }
            )
    return out.getvalue()


def draw_photos(media_dir: Path) -> None:
    """A coloured card per product with its name: real images for Telegram to show."""
    from PIL import Image, ImageDraw, ImageFont

    folder = media_dir / "demo"
    folder.mkdir(parents=True, exist_ok=True)
    for row in csv.DictReader(io.StringIO(demo_csv())):
        path = folder / f"{row['sku']}.png"
        if path.exists():
            continue
        colour = COLOURS[[category for category, _ in CATALOG].index(row["category"]) % len(COLOURS)]
        image = Image.new("RGB", (640, 480), colour)
        draw = ImageDraw.Draw(image)
        draw.ellipse((220, 90, 420, 290), fill=tuple(min(255, v + 50) for v in colour))
        font = ImageFont.load_default(size=44)
        small = ImageFont.load_default(size=26)
        draw.text((320, 360), row["name"], font=font, fill="white", anchor="mm")
        draw.text((320, 415), row["category"], font=small, fill="white", anchor="mm")
        image.save(path, format="PNG")


@dataclass(frozen=True)
class DemoPerson:
    telegram_id: int
    first_name: str
    username: str


# The demo's staff, with ids of their own (customers of the web chat get 100000001 and up): switch to
# them in the web chat's list to see the shop's side.
DEMO_OWNER = DemoPerson(7_000_001, "Olga (owner)", "demo_owner")
DEMO_EMPLOYEE = DemoPerson(7_000_002, "Eddie (employee)", "demo_employee")
DEMO_SHOP = {  # settings a demo gets unless they were set: a shop that looks like one
    "shop_name": "Corner Café",
    "bank_details": "Demo Bank · IBAN GB00 DEMO 0000 1234 5678 · Corner Café Ltd",
    "pickup_address": "12 Market Street, at the counter",
    "shop_about": "Open every day 8:00–20:00. Breakfast until noon, pastries from the oven all day.",
}


async def add_demo_staff(uow: UnitOfWork) -> None:
    """The demo's employee on the team (the owner is one by ADMIN_IDS); nothing if already there."""
    if await uow.staff.by_telegram_id(DEMO_EMPLOYEE.telegram_id) is None:
        await uow.begin_write()
        uow.staff.add(
            Staff(telegram_id=DEMO_EMPLOYEE.telegram_id, role="staff", added_by=DEMO_OWNER.telegram_id)
        )
        await uow.commit()


async def load_demo_catalog(uow: UnitOfWork, media_dir: Path, currency: str) -> bool:
    """Load the demo catalog into an empty shop; a shop with products is left alone."""
    if await uow.catalog.product_count() > 0:
        return False
    draw_photos(media_dir)
    result = await import_products_csv(uow, demo_csv(), currency, media_dir)
    if result.errors:
        raise RuntimeError(f"demo catalog did not load: {result.errors}")
    return True
