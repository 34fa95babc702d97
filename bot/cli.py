"""The ``orderbot`` command."""

from __future__ import annotations

from typing import Annotated

import typer

app = typer.Typer(
    help="orderbot: a Telegram ordering bot for small shops, with a local Telegram sandbox.",
    no_args_is_help=True,
    add_completion=False,
)

Port = Annotated[int, typer.Option(help="Port for the Bot API and the web chat.")]
Host = Annotated[str, typer.Option(help="Address to listen on.")]
Tokens = Annotated[
    list[str] | None, typer.Option("--token", help="A bot token known before the bot connects.")
]
DEMO_TOKEN = "123456:sandbox-demo-token"


@app.command()
def sandbox(
    port: Port = 8081,
    host: Host = "127.0.0.1",
    token: Tokens = None,
) -> None:
    """Run the local Telegram Bot API emulator and its web chat, nothing else."""
    from sandbox import run

    run(host, port, token or [])


@app.command()
def demo(port: Port = 8081, host: Host = "127.0.0.1") -> None:
    """Try orderbot without a Telegram token: the sandbox and its web chat on this machine.

    The shop bot joins the demo with the customer-journey work; today this serves the sandbox.
    """
    from sandbox import run

    run(host, port, [DEMO_TOKEN])


if __name__ == "__main__":
    app()
