"""``orderbot demo``: the sandbox, the shop bot against it, and the demo catalog, in one process."""

from __future__ import annotations

import logging
from pathlib import Path

from sandbox import SandboxServer
from storage.db import create_session_factory
from storage.uow import UnitOfWork

from .app import set_commands
from .demo import DEMO_EMPLOYEE, DEMO_OWNER, DEMO_SHOP, add_demo_staff, load_demo_catalog
from .runner import StartupError, poll, prepare
from .settings import Settings

log = logging.getLogger("orderbot")


def demo_settings(settings: Settings, sandbox: SandboxServer) -> Settings:
    """The demo's shop: its sandbox for Telegram, its owner among ADMIN_IDS, and a name, bank details and a
    pickup address where none were set. The owner and the employee are people of the sandbox, with their
    chats open (so the shop's alerts reach them)."""
    bot = sandbox.world.bot(settings.bot_token.get_secret_value())
    for person in (DEMO_OWNER, DEMO_EMPLOYEE):
        if person.telegram_id not in sandbox.world.users:
            sandbox.world.add_user(person.first_name, person.username, "en", user_id=person.telegram_id)
        chat = sandbox.world.chat_log(bot, person.telegram_id)
        assert chat is not None
        chat.started = True
    update: dict[str, object] = {
        "telegram_api_url": sandbox.url,
        "admin_ids": sorted({*settings.admin_ids, DEMO_OWNER.telegram_id}),
    }
    defaults = Settings.model_fields
    for name, value in DEMO_SHOP.items():
        if getattr(settings, name) == defaults[name].default:
            update[name] = value
    return settings.model_copy(update=update)


async def run_demo(settings: Settings, host: str, port: int) -> None:
    token = settings.bot_token.get_secret_value()
    sandbox = SandboxServer(host, port, tokens=[token])
    try:
        await sandbox.start()
    except OSError as error:
        raise StartupError(
            f"cannot listen on {host}:{port} ({error.strerror or error}): is a demo running already? "
            f"Stop it, or choose another port: make demo PORT={port + 1}"
        ) from error
    try:
        settings = demo_settings(settings, sandbox)
        parts = await prepare(settings)
        bot, dp = parts.bot, parts.dp
        try:
            async with UnitOfWork(create_session_factory(parts.engine)) as uow:
                if await load_demo_catalog(uow, Path(settings.media_dir), settings.currency):
                    log.info("demo catalog loaded")
                await add_demo_staff(uow)
                # The sandbox's ids start again at 100000001: a new web-chat user must not be an old one.
                sandbox.world.skip_user_ids(await uow.customers.highest_telegram_id())
            await set_commands(bot, dp["renderer"])
            print(
                f"\n  orderbot demo is running. Open the web chat:  {sandbox.url}/\n"
                "  Create a customer, say /start and shop. Click “Olga (owner)” or “Eddie (employee)”\n"
                "  in the list for the shop's side: new orders, /queue, /staffhelp. Ctrl+C stops it.\n",
                flush=True,
            )
            await poll(bot, dp, settings, timeout=10)
        finally:
            await parts.close()
    finally:
        await sandbox.stop()
