"""Catalog text in the customer's language: the one place that picks a translation.

A product, a category and an order's line carry their text in the catalog's own language (``name``,
``description``) and, optionally, ``translations``: ``{"ru": {"name": "…", "description": "…"}}``.
Templates (the ``localized`` filter) and keyboards (``Texts.localized``) show every catalog name through
``localized``; staff views show the catalog's own text. Adding a language to ``shop.config.LANGUAGES``
adds its columns to the catalog file (``name_xx``, ``description_xx``, ``category_xx``); the schema stays.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from storage.models import Translations

from .config import LANGUAGES

CATALOG_LANGUAGE = "en"  # the language of a product's own name and description
TRANSLATED = tuple(language for language in LANGUAGES if language != CATALOG_LANGUAGE)


def localized(item: Any, field: str, language: str) -> str:
    """``item``'s ``field`` in ``language`` when it has that translation, else its own text. ``item`` is
    an object or a dict (a line of an error's params) with ``field`` and, maybe, ``translations``."""
    if isinstance(item, Mapping):
        own, translations = item[field], item.get("translations")
    else:
        own, translations = getattr(item, field), getattr(item, "translations", None)
    return str((translations or {}).get(language, {}).get(field) or own or "")


def names_only(translations: Translations | None) -> Translations | None:
    """The translated names alone: what an order's line or a cart's change keeps of a product's."""
    names = {
        language: {"name": texts["name"]}
        for language, texts in (translations or {}).items()
        if texts.get("name")
    }
    return names or None


def changed(
    translations: Translations | None, texts: Mapping[tuple[str, str], str | None]
) -> Translations | None:
    """``translations`` with these (language, field) texts set, a None or empty text taking one away;
    None when none is left."""
    result = {language: dict(fields) for language, fields in (translations or {}).items()}
    for (language, field), text in texts.items():
        if text:
            result.setdefault(language, {})[field] = text
        else:
            result.get(language, {}).pop(field, None)
    return {language: fields for language, fields in result.items() if fields} or None


def translated_texts(translations: Translations | None) -> Iterator[str]:
    """Every translated text, for the search index (a customer searches in their own language)."""
    for fields in (translations or {}).values():
        yield from fields.values()


@dataclass(frozen=True)
class Named:
    """A catalog name with its translations, where a list of names is shown (an order put back in the
    cart: what was added and what was not)."""

    name: str
    translations: Translations | None = None
