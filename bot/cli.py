"""The ``orderbot`` command."""

from __future__ import annotations

import typer

app = typer.Typer(
    help="orderbot: a Telegram ordering bot for small shops, with a local Telegram sandbox.",
    no_args_is_help=True,
    add_completion=False,
)


@app.callback()
def main() -> None:
    """orderbot: a Telegram ordering bot for small shops, with a local Telegram sandbox."""


@app.command()
def sandbox(
    port: int = typer.Option(8081, help="Port for the Bot API and the web chat."),
    host: str = typer.Option("127.0.0.1", help="Address to listen on."),
    token: list[str] = typer.Option([], help="Bot token(s) known before the bot first connects."),
) -> None:
    """Run the local Telegram Bot API emulator and its web chat, nothing else."""
    from sandbox import run

    run(host, port, token)


@app.command()
def demo(
    port: int = typer.Option(8081, help="Port for the sandbox and its web chat."),
    host: str = typer.Option("127.0.0.1", help="Address to listen on."),
) -> None:
    """Try orderbot without a Telegram token: the sandbox and its web chat on this machine.

    The shop bot joins the demo once the customer journey lands; today this serves the sandbox.
    """
    from sandbox import run

    run(host, port, ["123456:sandbox-demo-token"])
