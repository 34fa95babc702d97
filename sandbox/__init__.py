"""A local Telegram Bot API that validates like Telegram, with simulated users and a web chat.

Point any Bot API client at it (aiogram: ``TelegramAPIServer.from_base(url)``). Imports nothing of
orderbot's own, so it can serve other bots too.
"""

from .server import SandboxServer, create_app, run

__all__ = ["SandboxServer", "create_app", "run"]
