"""``orderbot demo``: the sandbox, the shop bot against it, and the demo catalog, in one process."""

from __future__ import annotations

import logging
from pathlib import Path

from sandbox import SandboxServer
from storage.db import create_session_factory
from storage.uow import UnitOfWork

from .app import set_commands
from .demo import load_demo_catalog
from .runner import StartupError, poll, prepare
from .settings import Settings

log = logging.getLogger("orderbot")


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
        settings = settings.model_copy(update={"telegram_api_url": sandbox.url})
        parts = await prepare(settings)
        bot, dp = parts.bot, parts.dp
        try:
            async with UnitOfWork(create_session_factory(parts.engine)) as uow:
                if await load_demo_catalog(uow, Path(settings.media_dir), settings.currency):
                    log.info("demo catalog loaded")
            await set_commands(bot, dp["renderer"])
            print(
                f"\n  orderbot demo is running. Open the web chat:  {sandbox.url}/\n"
                "  Create a customer, say /start and shop. Ctrl+C stops it.\n",
                flush=True,
            )
            await poll(bot, dp, settings, timeout=10)
        finally:
            await parts.close()
    finally:
        await sandbox.stop()
