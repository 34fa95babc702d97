"""Telegram's limits on what a bot sends, and the ways a rendered message is made to fit them.

Telegram counts a text or caption after parsing its HTML: tags count nothing, ``&amp;`` counts one, and
every character counts in UTF-16 code units (an emoji outside the basic plane counts two). So does
everything here. Rendered HTML is cut or split only between tokens (never inside a tag or an entity),
and every piece closes the tags it leaves open and opens them again where the next piece goes on.

- ``clip``: a field's plain text (a name, a note) cut to a width, for templates (the ``clip`` filter).
- ``cut``: a message cut to fit, the last line of defence where nothing else made it fit.
"""

from __future__ import annotations

import re
from html import unescape

TEXT_LIMIT = 4096  # a message's text
CAPTION_LIMIT = 1024  # a photo's or a file's caption
ALERT_LIMIT = 200  # the text of a callback query's answer
ELLIPSIS = "…"

# A tag, an entity, a run of text; a stray "<" or "&" (never in rendered HTML) counts as text.
_TOKEN = re.compile(r"<[^<>]*>|&#?\w+;|[^<&]+|[<&]")


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def visible_length(html: str) -> int:
    """What Telegram counts of ``html`` against its limits."""
    return utf16_len(_visible(html))


def _visible(html: str) -> str:
    """The text Telegram shows for ``html``."""
    return "".join(unescape(token) for token in _TOKEN.findall(html) if not _is_tag(token))


def _is_tag(token: str) -> bool:
    return token[0] == "<" and len(token) > 1


def fits(html: str, limit: int) -> bool:
    # Tags and entities only ever shrink when parsed: the source's own width is enough for nearly all.
    return len(html) * 2 <= limit or utf16_len(html) <= limit or visible_length(html) <= limit


def clip(text: str, limit: int) -> str:
    """Plain text at most ``limit`` wide, ending in "…" when cut (at a word's end when one is near)."""
    if utf16_len(text) <= limit:
        return text
    head, width = [], utf16_len(ELLIPSIS)
    for char in text:
        width += 1 if char < "\U00010000" else 2
        if width > limit:
            break
        head.append(char)
    kept = "".join(head)
    space = kept.rfind(" ")
    if space >= len(kept) * 0.8:
        kept = kept[:space]
    return kept.rstrip() + ELLIPSIS


def cut(html: str, limit: int) -> str:
    """``html`` if it fits, else as much as fits with "…" added, its open tags closed."""
    if fits(html, limit):
        return html
    body, closing = _split(html, limit - utf16_len(ELLIPSIS), first_only=True)[0]
    return body.rstrip() + ELLIPSIS + closing


def _split(html: str, limit: int, first_only: bool = False) -> list[tuple[str, str]]:
    """``html`` in pieces of at most ``limit``, each as (its text with the tags still open at its end
    opened again at its start, the closing tags it needs)."""
    pieces: list[tuple[str, str]] = []
    out: list[str] = []
    opened: list[str] = []  # the opening tags of the tags open here, outermost first
    width = 0

    def close() -> None:
        nonlocal out, width
        pieces.append(("".join(out), "".join(f"</{_name(tag)}>" for tag in reversed(opened))))
        out, width = list(opened), 0

    for token in _TOKEN.findall(html):
        if _is_tag(token):
            if token[1] == "/":
                if opened:
                    opened.pop()
            else:
                opened.append(token)
            out.append(token)
            continue
        token_width = utf16_len(unescape(token))
        if width + token_width <= limit:
            out.append(token)
            width += token_width
            continue
        for part in (token,) if token[0] == "&" else token:  # an entity whole, text a character at a time
            part_width = utf16_len(unescape(part))
            if width + part_width > limit:
                close()
                if first_only:
                    return pieces
            out.append(part)
            width += part_width
    close()
    return pieces


def _name(tag: str) -> str:
    return tag[1:-1].split(maxsplit=1)[0].lower()
