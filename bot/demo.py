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

CATALOG: dict[str, list[tuple[str, str, str, str]]] = {
    # category: (name, brand, price, description)
    "Coffee": [
        ("Espresso", "Roastery", "2.50", "A short, strong shot."),
        ("Flat white", "Roastery", "3.80", "Double ristretto with silky milk."),
        ("Cappuccino", "Roastery", "3.60", "Espresso, milk and a thick foam."),
        ("Cold brew", "Roastery", "4.20", "Steeped for 18 hours, served on ice."),
        ("Beans 250 g", "Roastery", "12.00", "Whole beans from Ethiopia, medium roast."),
        ("Decaf latte", "Bean & Co", "3.90", "All of the taste, none of the buzz."),
    ],
    "Tea": [
        ("Green tea", "Leafy", "2.90", "Sencha from Shizuoka."),
        ("Earl Grey", "Leafy", "2.70", "Black tea with bergamot."),
        ("Chai latte", "Bean & Co", "3.70", "Spiced black tea with steamed milk."),
        ("Mint tea", "Leafy", "2.50", "Fresh mint leaves, hot water, that's all."),
        ("Matcha", "Leafy", "4.50", "Ceremonial grade, whisked to order."),
        ("Rooibos", "Leafy", "2.60", "Caffeine-free red bush tea."),
    ],
    "Bakery": [
        ("Croissant", "Oven", "2.20", "Butter, flour, 27 layers."),
        ("Pain au chocolat", "Oven", "2.60", "Two bars of dark chocolate inside."),
        ("Cinnamon bun", "Oven", "3.10", "Swedish style, cardamom too."),
        ("Sourdough loaf", "Oven", "5.50", "48-hour ferment, baked every morning."),
        ("Banana bread", "Oven", "3.00", "With walnuts. Vegan."),
        ("Lemon tart", "Oven", "3.80", "Sharp curd, crisp pastry."),
    ],
    "Breakfast": [
        ("Avocado toast", "Kitchen", "7.50", "Sourdough, chilli, lime, poached egg."),
        ("Granola bowl", "Kitchen", "6.20", "Yoghurt, berries, honey."),
        ("Full breakfast", "Kitchen", "11.90", "Eggs, beans, mushrooms, tomato, toast."),
        ("Porridge", "Kitchen", "4.80", "Oats, milk, cinnamon apple."),
        ("Shakshuka", "Kitchen", "9.40", "Eggs baked in spiced tomato sauce."),
        ("Pancakes", "Kitchen", "8.10", "Three fluffy pancakes, maple syrup."),
    ],
    "Drinks": [
        ("Orange juice", "Press", "3.50", "Squeezed this morning."),
        ("Lemonade", "Press", "3.20", "Home-made, not too sweet."),
        ("Sparkling water", "Spring", "1.80", "500 ml."),
        ("Kombucha", "Press", "4.10", "Ginger and lemon."),
        ("Hot chocolate", "Bean & Co", "3.40", "Belgian chocolate, whipped cream."),
        ("Iced tea", "Leafy", "3.00", "Peach, brewed cold."),
    ],
    "Gifts & <Specials>": [
        ("Gift card 25", "Shop", "25.00", "For someone who likes coffee & cake."),
        ("Mug", "Shop", "9.00", "Stoneware, 350 ml. Dishwasher safe."),
        ("Tote bag", "Shop", "7.50", "Organic cotton."),
    ],
}
COLOURS = [(231, 111, 81), (42, 157, 143), (233, 196, 106), (38, 70, 83), (244, 162, 97), (106, 76, 147)]


def demo_csv() -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS)
    writer.writeheader()
    rng = random.Random(7)
    for c, (category, products) in enumerate(CATALOG.items()):
        for p, (name, brand, price, description) in enumerate(products):
            sku = f"{category[:3].upper()}-{p + 1:02d}"
            stock = 0 if (c, p) == (2, 5) else rng.choice([3, 8, 12, 25, 40])  # one sold out, to see it
            writer.writerow(
                {
                    "sku": sku,
                    "name": name,
                    "category": category,
                    "price": price,
                    "stock": stock,
                    "brand": brand,
                    "description": description,
                    "photo": f"demo/{sku}.png",
                    "featured": "yes" if p == 0 else "no",
                    "active": "yes",
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
        colour = COLOURS[list(CATALOG).index(row["category"]) % len(COLOURS)]
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
