"""Composition root: settings, bot and dispatcher factories, CLI."""

from handlers.lean_types import import_aiogram

import_aiogram()  # first: aiogram's types are then built when first used (handlers/lean_types.py)
