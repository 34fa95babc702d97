"""Every user-visible text comes from templates/: Jinja2 (autoescape) + gettext catalogs from locales/.

A message is a macro in an area file: ``t("cart.view", cart=...)`` renders macro ``view`` of
``templates/cart.j2``. Button labels are macros of ``templates/labels.j2``: ``t.label("catalog")``.
"""

from __future__ import annotations

import io
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import format_datetime
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup

from shop.config import LANGUAGES, ShopConfig
from shop.money import format_money
from shop.translations import localized

from .limits import TextPage, clip, cut, page_of

ROOT = Path(__file__).resolve().parent.parent
TEMPLATES = ROOT / "templates"
LOCALES = ROOT / "locales"
MAX_KEPT_LABELS = 4096  # labels kept (a few hundred kB); all forgotten when full
# Values a kept label may depend on: compared by value. (An object is hashed by identity, and another
# with other contents may get the same id once the first is gone.)
_PLAIN = frozenset({str, int, bool, float, type(None)})


def load_translations(language: str, locales: Path = LOCALES) -> NullTranslations:
    """Compile ``locales/<lang>/LC_MESSAGES/messages.po`` in memory (no .mo files to build or commit)."""
    po_path = locales / language / "LC_MESSAGES" / "messages.po"
    if not po_path.exists():
        return NullTranslations()
    with po_path.open("rb") as po_file:
        catalog = read_po(po_file, locale=language)
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return Translations(buffer)


class Renderer:
    def __init__(self, config: ShopConfig, templates: Path = TEMPLATES, locales: Path = LOCALES) -> None:
        self.config = config
        self.zone = ZoneInfo(config.timezone)
        self._envs: dict[str, Environment] = {}
        self._labels: dict[tuple[Any, ...], str] = {}  # see label
        for language in LANGUAGES:
            env = Environment(
                loader=FileSystemLoader(templates),
                autoescape=True,
                trim_blocks=True,
                lstrip_blocks=True,
                undefined=StrictUndefined,
                extensions=["jinja2.ext.i18n", "jinja2.ext.do"],
            )
            env.install_gettext_translations(load_translations(language, locales), newstyle=True)  # type: ignore[attr-defined]
            env.filters["money"] = lambda minor, lang=language: format_money(minor, config.currency, lang)
            env.filters["when"] = lambda moment, lang=language: self.when(moment, lang)
            env.filters["clip"] = _clip
            # a catalog name or description in the customer's language: {{ product|localized("name") }}
            env.filters["localized"] = lambda item, field, lang=language: localized(item, field, lang)
            env.globals["shop"] = config
            env.globals["lang"] = language
            self._envs[language] = env

    def when(self, moment: datetime | str, language: str) -> str:
        if isinstance(moment, str):  # from an outbox row's JSON context
            moment = datetime.fromisoformat(moment)
        return format_datetime(moment.astimezone(self.zone), "d MMM y, HH:mm", locale=language)

    @lru_cache(maxsize=256)  # noqa: B019 - one renderer per process, the cache lives as long
    def _macro(self, language: str, name: str) -> Any:
        area, _, macro = name.partition(".")
        module = self._envs[language].get_template(f"{area}.j2").module
        if not hasattr(module, macro):
            raise LookupError(f"templates/{area}.j2 has no macro {macro!r}")
        return getattr(module, macro)

    def render(self, template: str, language: str, /, **context: Any) -> str:
        text = str(self._macro(language if language in self._envs else "en", template)(**context))
        return "\n".join(line.rstrip() for line in text.strip().splitlines())

    def label(self, key: str, language: str, /, **context: Any) -> str:
        """A button label. One of plain values ("Cart"; a product's name, price and whether it is sold
        out) is rendered once and kept: a shop shows the same few hundred over and over, and a product's
        took ~25 µs (the macro, its price formatted), eight on a page of products."""
        parts: list[Any] = [key, language]
        for name, value in context.items():
            kind = type(value)  # True and 1 are equal, but not the same label's value
            if kind not in _PLAIN:
                return self._label(key, language, context)
            parts += (name, kind, value)
        kept = tuple(parts)
        label = self._labels.get(kept)
        if label is None:
            if len(self._labels) >= MAX_KEPT_LABELS:
                self._labels.clear()
            label = self._labels[kept] = self._label(key, language, context)
        return label

    def _label(self, key: str, language: str, context: dict[str, Any]) -> str:
        return self.plain(f"labels.{key}", language, **context)

    def plain(self, template: str, language: str, /, **context: Any) -> str:
        """A text Telegram shows as it is, not as HTML (a button, an invoice's title): "Tea & Co", not
        "Tea &amp; Co"."""
        return str(Markup(self.render(template, language, **context)).unescape())

    def texts(self, language: str) -> Texts:
        return Texts(self, language)


def _clip(value: Any, limit: int) -> str:
    """The ``clip`` filter: a long field cut to ``limit`` as Telegram counts, ``{{ p.brand|clip(60) }}``."""
    if isinstance(value, Markup):  # rendered already (a macro's output): cut between its tags
        return Markup(cut(str(value), limit))
    return clip(str(value), limit)


class Texts:
    """The renderer bound to one customer's language; handlers get it as ``t``."""

    def __init__(self, renderer: Renderer, language: str) -> None:
        self.renderer = renderer
        self.language = language

    def __call__(self, template: str, /, **context: Any) -> str:
        return self.renderer.render(template, self.language, **context)

    def page(self, template: str, page: int, /, **context: Any) -> TextPage:
        """Page ``page`` of a view whose lists can make it longer than a message (``limits.pages``)."""
        return page_of(self(template, **context), page)

    def label(self, key: str, /, **context: Any) -> str:
        """A button label: plain text (Telegram shows labels without HTML)."""
        return self.renderer.label(key, self.language, **context)

    def plain(self, template: str, /, **context: Any) -> str:
        return self.renderer.plain(template, self.language, **context)

    def localized(self, item: Any, field: str) -> str:
        """A catalog name or description in this customer's language (``shop.translations.localized``)."""
        return localized(item, field, self.language)

    def money(self, minor: int) -> str:
        return format_money(minor, self.renderer.config.currency, self.language)
