"""Composition root: settings, bot and dispatcher factories, CLI."""

import handlers  # noqa: F401  first: it imports aiogram with its types built on first use (lean_types.py)
