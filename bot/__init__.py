"""Composition root: settings, bot and dispatcher factories, CLI."""
