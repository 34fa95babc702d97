"""``orderbot`` as a process: catalog import/export from the CLI, and `orderbot run` serving a customer."""

from __future__ import annotations

import asyncio
import os
import socket
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import text

from sandbox import SandboxServer
from sandbox.client import SandboxClient
from storage.db import create_engine, create_session_factory
from storage.uow import UnitOfWork
from tests.conftest import PYTHON, TOKEN, python_env
from tests.handlers.conftest import CATALOG, button_labels

pytestmark = pytest.mark.process


def orderbot(*args: str) -> list[str]:
    return [PYTHON, "-m", "bot.cli", *args]


def environment(tmp_path: Path, sandbox_url: str = "http://127.0.0.1:9") -> dict[str, str]:
    return python_env(
        BOT_TOKEN=TOKEN,
        TELEGRAM_API_URL=sandbox_url,
        MEDIA_DIR=str(tmp_path),
        DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'shop.db'}",
        CURRENCY="USD",
        SHOP_NAME="Process Shop",
        BANK_DETAILS="IBAN GB00 PROC 0000",
        DELIVERY_FEE="1.50",
        THROTTLE_BURST="40",
    )  # simulated customers tap faster than people


def catalog_files(folder: Path) -> None:
    """The test catalog as a CSV file, and the photo it names (MEDIA_DIR is the same folder)."""
    (folder / "catalog.csv").write_text(CATALOG)
    Image.new("RGB", (64, 48), (40, 160, 90)).save(folder / "tea.png")


async def run(args: list[str], env: dict[str, str], cwd: Path) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        *args, env=env, cwd=cwd, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await process.communicate()
    return process.returncode or 0, out.decode(), err.decode()


async def test_catalog_import_and_export_from_the_command_line(tmp_path: Path) -> None:
    env = environment(tmp_path)
    catalog_files(tmp_path)
    code, out, err = await run(orderbot("catalog", "import", "catalog.csv"), env, tmp_path)
    assert code == 0, err
    assert "9 created, 0 updated" in out
    code, out, err = await run(orderbot("catalog", "export", "out.csv"), env, tmp_path)
    assert code == 0 and "9 products written" in out
    assert (
        "TEA-1,Green tea,Tea,4.50,10,Leafy,Sencha <fresh> & green,tea.png,yes,yes"
        in (tmp_path / "out.csv").read_text()
    )
    (tmp_path / "bad.csv").write_text("sku,name,price,stock\nX-1,Broken,12.50,1000000000000000000000\n")
    code, out, err = await run(orderbot("catalog", "import", "bad.csv"), env, tmp_path)
    assert (code, err) == (
        1,
        "Row 2, stock: “1000000000000000000000” is not a stock quantity: use a whole number from 0 to "
        "1000000.\nnothing was imported\n",
    )
    (tmp_path / "latin1.csv").write_bytes("sku,name,price\nX-1,Café,1\n".encode("latin-1"))
    (tmp_path / "columns.csv").write_text("sku,title,cost\nX-1,Tea,1\n")
    for name, expected in [
        ("latin1.csv", "latin1.csv is not UTF-8 text (save it as CSV UTF-8); nothing was imported\n"),
        ("columns.csv", "The file lacks the columns name, price.\n"),
    ]:
        code, out, err = await run(orderbot("catalog", "import", name), env, tmp_path)
        assert (code, err) == (1, expected)  # one line, no traceback


async def test_a_backup_taken_while_the_bot_runs_holds_its_last_commits(tmp_path: Path) -> None:
    """``orderbot db backup``: the copy has what the running bot committed last, still in the WAL
    (a copy of orderbot.db alone would not); it never overwrites a file, and PostgreSQL is pg_dump's."""
    env = environment(tmp_path)
    catalog_files(tmp_path)
    assert (await run(orderbot("catalog", "import", "catalog.csv"), env, tmp_path))[0] == 0
    engine = create_engine(env["DATABASE_URL"])  # the running bot: its last commit is in the WAL
    async with UnitOfWork(create_session_factory(engine)) as uow:
        await uow.begin_write()
        await uow.session.execute(text("UPDATE products SET stock = 77 WHERE sku = 'TEA-1'"))
        await uow.commit()
    (tmp_path / "copied.db").write_bytes((tmp_path / "shop.db").read_bytes())
    code, out, err = await run(orderbot("db", "backup", "backup.db"), env, tmp_path)
    await engine.dispose()
    assert code == 0, err
    assert "backed up to backup.db" in out
    stock = "SELECT stock FROM products WHERE sku = 'TEA-1'"
    backup = sqlite3.connect(tmp_path / "backup.db")
    assert backup.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    assert backup.execute(stock).fetchone() == (77,)
    assert backup.execute("SELECT count(*) FROM products").fetchone() == (9,)
    backup.close()
    copied = sqlite3.connect(tmp_path / "copied.db")
    assert copied.execute(stock).fetchone() != (77,)  # what `cp orderbot.db` would have kept
    copied.close()
    code, out, err = await run(orderbot("db", "backup", "backup.db"), env, tmp_path)
    assert code == 1 and err.strip() == "no backup made: backup.db exists; give a new file name"
    postgres = {**env, "DATABASE_URL": "postgresql+asyncpg://shop@127.0.0.1:9/shop"}
    code, out, err = await run(orderbot("db", "backup", "other.db"), postgres, tmp_path)
    assert code == 1 and "use pg_dump" in err and not (tmp_path / "other.db").exists()


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("CURRENCY", "DOLLARS", "setting CURRENCY"),
        ("TIMEZONE", "Mars/Olympus", "setting TIMEZONE"),
        ("ADMIN_IDS", "12,abc", "setting ADMIN_IDS"),
        ("PAYMENT_METHODS", "cash,barter", "setting PAYMENT_METHODS"),
        ("DELIVERY_FEE", "-2", "setting DELIVERY_FEE"),
        ("BOT_TOKEN", "", "setting BOT_TOKEN"),
        ("BOT_TOKEN", "abc", "setting BOT_TOKEN: not a bot token"),
        ("ADMIN_IDS", "bob", "setting ADMIN_IDS: Telegram user ids are numbers"),
        ("DATABASE_URL", "notaurl", "setting DATABASE_URL: not a database URL"),
        ("DATABASE_URL", "mysql://x", "setting DATABASE_URL: mysql is not supported"),
        ("DATABASE_URL", "sqlite:///./plain.db", "use the async driver: sqlite+aiosqlite:///./plain.db"),
        ("DATABASE_URL", "sqlite+aiosqlite:///./nowhere/x.db", "nowhere does not exist"),
        ("DATABASE_URL", "postgresql+asyncpg://shop@127.0.0.1:9/shop", "setting DATABASE_URL: cannot open"),
        ("TELEGRAM_API_URL", "http://127.0.0.1:9", "cannot reach Telegram at http://127.0.0.1:9"),
    ],
)
async def test_a_bad_setting_stops_the_bot_with_one_clear_line(
    tmp_path: Path, name: str, value: str, expected: str
) -> None:
    env = {**environment(tmp_path), "ADMIN_IDS": "12345", name: value}
    code, out, err = await run(orderbot("run"), env, tmp_path)
    assert code == 2 and expected in err and "Traceback" not in err, err
    assert len([line for line in err.splitlines() if not line.startswith("{")]) == 1, err  # logs aside
    if "cannot" in expected:  # not a setting's form, but what it points at: --debug tells the whole story
        code, out, err = await run(orderbot("--debug", "run"), env, tmp_path)
        assert code != 0 and "Traceback" in err


async def test_a_shop_missing_what_customers_or_staff_need_is_warned_of_at_start(tmp_path: Path) -> None:
    env = {**environment(tmp_path), "BANK_DETAILS": "", "PAYMENT_METHODS": "transfer,cash"}
    code, out, err = await run(orderbot("run"), env, tmp_path)  # Telegram is unreachable: it stops
    assert "setting BANK_DETAILS: empty, and bank transfer is offered" in err
    assert "setting ADMIN_IDS: empty: no owner gets new-order alerts" in err
    env = {**env, "BANK_DETAILS": "IBAN X", "ADMIN_IDS": "12345"}
    code, out, err = await run(orderbot("run"), env, tmp_path)
    assert "setting BANK_DETAILS" not in err and "setting ADMIN_IDS" not in err


async def test_the_command_line_help_reads_plainly(tmp_path: Path) -> None:
    """No placeholders like ``<bool>`` after a flag or ``{file}`` for an argument."""
    for args in ([], ["run"], ["demo"], ["catalog", "import"], ["catalog", "export"], ["db", "upgrade"]):
        code, out, err = await run(orderbot(*args, "--help"), environment(tmp_path), tmp_path)
        assert code == 0 and "Usage:" in out, err
        assert "<bool>" not in out and "{" not in out and "}" not in out, out


async def test_a_second_demo_on_a_busy_port_says_so_in_one_line(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        code, out, err = await run(orderbot("demo", "--port", str(port)), environment(tmp_path), tmp_path)
    assert code == 2 and f"make demo PORT={port + 1}" in err and "Traceback" not in err, err
    assert "Unclosed" not in err


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["bench", "nothing"], "unknown benchmark 'nothing'"),
        (["bench", "catalog", "--base", "."], "--base is for the steps benchmark"),
        (["bench", "steps", "--base", "."], "not a checkout of orderbot"),
    ],
)
async def test_a_wrong_benchmark_is_refused_with_one_clear_line(
    tmp_path: Path, args: list[str], expected: str
) -> None:
    code, out, err = await run(orderbot(*args), environment(tmp_path), tmp_path)
    assert code == 2 and expected in err and "Traceback" not in err and not out, err


@pytest.fixture
async def running_shop(sandbox: SandboxServer, tmp_path: Path) -> AsyncIterator[SandboxClient]:
    env = environment(tmp_path, sandbox.url)
    catalog_files(tmp_path)
    assert (await run(orderbot("catalog", "import", "catalog.csv"), env, tmp_path))[0] == 0
    log = (tmp_path / "bot.log").open("wb")
    process = await asyncio.create_subprocess_exec(
        *orderbot("run"), env=env, cwd=tmp_path, stdout=asyncio.subprocess.DEVNULL, stderr=log
    )
    async with SandboxClient(sandbox.url, bot_id=int(TOKEN.split(":")[0])) as client:
        try:
            yield client
        finally:
            process.terminate()
            await process.wait()
            log.close()
            stderr = (tmp_path / "bot.log").read_text()
            assert "Traceback" not in stderr, stderr[-4000:]


async def test_orderbot_run_serves_a_whole_purchase(running_shop: SandboxClient, tmp_path: Path) -> None:
    client = running_shop
    ann = await client.create_user("Ann")
    await ann.send("/start")
    await ann.wait_for(text="Welcome to Process Shop", timeout=20)
    await ann.press_reply("🛍 Catalog")
    await ann.wait_for(text="Pick a category")
    await ann.press("Tea (7)")
    await ann.wait_for(text="7 products")
    for label in ("Green tea · $4.50", "Mint tea · $2.50"):
        await ann.press(label)
        await ann.wait_for(lambda m: "🛒 Add 1 to cart" in button_labels(m))
        await ann.press("🛒 Add 1 to cart")
    await ann.press_reply("🛒 Cart")
    cart = await ann.wait_for(text="Your cart")
    assert "Total: $7.00" in cart["text"], cart["text"]
    await ann.press("✅ Checkout")
    try:
        await ann.wait_for(text="How would you like")
    except TimeoutError:
        print((tmp_path / "bot.log").read_text()[-3000:])  # what the bot process said
        raise
    await ann.press("🚚 Delivery")
    await ann.wait_for(text="Where should we deliver")
    await ann.send("10 Downing Street, London")
    await ann.wait_for(text="What phone number")
    await ann.press_reply("📱 Share my phone number")
    await ann.wait_for(text="Anything we should know")
    await ann.press("No notes →")
    await ann.wait_for(text="How will you pay")
    await ann.press("🏦 Bank transfer")
    summary = await ann.wait_for(text="Total: $8.50")
    assert "Delivery — $1.50" in summary["text"]
    await ann.press("✅ Place order")
    placed = await ann.wait_for(text="is placed")
    assert "IBAN GB00 PROC 0000" in placed["text"]
    await ann.send("/orders")
    history = await ann.wait_for(text="Your orders")
    assert button_labels(history)[0].endswith("$8.50 · awaiting payment")
    with sqlite3.connect(tmp_path / "shop.db") as db:
        rows = db.execute("select status, total_minor, address_text from orders").fetchall()
    assert rows == [("pending_payment", 850, "10 Downing Street, London")]
    stats = await client.stats()
    assert stats["errors"] == stats["rate_limited"], await client.calls()  # only flood control, retried
    assert os.path.exists(tmp_path / "shop.db")


async def test_staff_run_an_order_from_alert_to_completion(sandbox: SandboxServer, tmp_path: Path) -> None:
    """Transfer with a receipt; staff record, an owner verifies, the order moves on; each step is told."""
    async with SandboxClient(sandbox.url, bot_id=int(TOKEN.split(":")[0])) as client:
        owner = await client.create_user("Olga")
        clerk = await client.create_user("Carl", username="carl_clerk")
        env = {**environment(tmp_path, sandbox.url), "ADMIN_IDS": str(owner.id)}
        catalog_files(tmp_path)
        assert (await run(orderbot("catalog", "import", "catalog.csv"), env, tmp_path))[0] == 0
        log = (tmp_path / "bot.log").open("wb")
        process = await asyncio.create_subprocess_exec(
            *orderbot("run"), env=env, cwd=tmp_path, stdout=asyncio.subprocess.DEVNULL, stderr=log
        )
        try:
            for person in (owner, clerk):
                await person.send("/start")
                await person.wait_for(text="Welcome", timeout=20)
            await owner.send(f"/staff add {clerk.id}")
            await owner.wait_for(text="is now staff")

            ann = await client.create_user("Ann", username="ann_buys")
            await ann.send("/start p_3")
            await ann.wait_for(lambda m: "🛒 Add 1 to cart" in button_labels(m), timeout=20)
            await ann.press("🛒 Add 1 to cart")
            await ann.send("/checkout")
            await ann.wait_for(text="How would you like")
            await ann.press("🏪 Pickup")
            await ann.wait_for(text="What phone number")
            await ann.press_reply("📱 Share my phone number")
            await ann.wait_for(text="Anything we should know")
            await ann.press("No notes →")
            await ann.wait_for(text="How will you pay")
            await ann.press("🏦 Bank transfer")
            await ann.wait_for(text="Is everything right")
            await ann.press("✅ Place order")
            placed = await ann.wait_for(text="is placed")
            number = int(placed["text"].split("#", 1)[1].split(" ", 1)[0])
            await owner.wait_for(text=f"New order #{number}")
            await ann.send_photo("transfer done")
            await owner.wait_for(lambda m: "photo" in m and f"order #{number}" in m.get("caption", ""))

            await clerk.send(f"/pay {number} 2.50 transfer BANK-REF-1")
            recorded = await clerk.wait_for(text="waiting for verification")
            payment_id = int(recorded["text"].split("#", 1)[1].split(":", 1)[0])
            await owner.wait_for(text=f"/verify {payment_id}")
            await owner.send(f"/verify {payment_id}")
            await owner.wait_for(text="The order is paid")
            await ann.wait_for(text="We received your payment of $2.50")
            for status, told in (("preparing", "being prepared"), ("ready", "ready for pickup")):
                await clerk.send(f"/status {number} {status}")
                await clerk.wait_for(text=f"Order #{number} is now")
                await ann.wait_for(text=told)
            code = (await clerk.bot_messages())[-1]["text"].rsplit("Pickup code: ", 1)[1].strip()
            await clerk.send(f"/pickup {code}")
            await clerk.wait_for(text="is now completed")
            await ann.wait_for(text="Thank you! We hope you enjoy it.")

            await owner.send("/payments")
            listing = await owner.wait_for(text="Recent payments")
            assert (
                f"👤 Ann @ann_buys · {ann.phone_number}" in listing["text"]
                and "BANK-REF-1" in listing["text"]
            )
            told = [m.get("text") or m.get("caption") or "" for m in await ann.bot_messages()]
            assert (
                sum(t.startswith("📦 Order #") for t in told) == 3
            )  # preparing, ready, completed: once each
            with sqlite3.connect(tmp_path / "shop.db") as db:
                assert db.execute("select status from orders").fetchall() == [("completed",)]
                assert db.execute("select count(*) from outbox where status != 'sent'").fetchone() == (0,)
        finally:
            process.terminate()
            await process.wait()
            log.close()
            stderr = (tmp_path / "bot.log").read_text()
            assert "Traceback" not in stderr, stderr[-4000:]
