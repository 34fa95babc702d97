"""Telegram's limits on what a bot sends, and the ways a rendered message is made to fit them.

Telegram counts a text or caption after parsing its HTML: tags count nothing, ``&amp;`` counts one, and
every character counts in UTF-16 code units (an emoji outside the basic plane counts two). So does
everything here. Rendered HTML is cut or split only between tokens (never inside a tag or an entity),
and every piece closes the tags it leaves open and opens them again where the next piece goes on.

- ``clip``: a field's plain text (a name, a note) cut to a width, for templates (the ``clip`` filter).
- ``pages``: a view split into pages that each fit, at line ends, for lists that can grow.
- ``cut``: a message cut to fit, the last line of defence where nothing else made it fit.
- ``list_page``: a page of a list shown with a button each (a keyboard holds at most 100 buttons).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from html import unescape
from typing import Generic, TypeVar

T = TypeVar("T")

TEXT_LIMIT = 4096  # a message's text
CAPTION_LIMIT = 1024  # a photo's or a file's caption
ALERT_LIMIT = 200  # the text of a callback query's answer
ELLIPSIS = "…"

# A tag, an entity, a run of text; a stray "<" or "&" (never in rendered HTML) counts as text.
_TOKEN = re.compile(r"<[^<>]*>|&#?\w+;|[^<&]+|[<&]")
_TAG = re.compile(r"<[^<>]*>")


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def visible_length(html: str) -> int:
    """What Telegram counts of ``html`` against its limits."""
    return utf16_len(_visible(html))


def _visible(html: str) -> str:
    """The text Telegram shows for ``html``."""
    return unescape(_TAG.sub("", html))


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


@dataclass(frozen=True)
class TextPage:
    text: str
    page: int  # from 0, within the pages there are
    pages: int


def page_of(html: str, page: int, limit: int = TEXT_LIMIT) -> TextPage:
    """Page ``page`` of ``html`` split by ``pages`` (the last one for a page past the end)."""
    split = pages(html, limit)
    page = min(max(page, 0), len(split) - 1)
    return TextPage(split[page], page, len(split))


@dataclass(frozen=True)
class ListPage(Generic[T]):
    items: list[T]
    page: int  # from 0, within the pages there are
    pages: int
    total: int  # items on every page


def list_page(items: Sequence[T], page: int, size: int) -> ListPage[T]:
    """Page ``page`` of ``items``, ``size`` a page (the last one for a page past the end)."""
    pages = max(1, -(-len(items) // size))
    page = min(max(page, 0), pages - 1)
    return ListPage(list(items[page * size : (page + 1) * size]), page, pages, len(items))


def pages(html: str, limit: int = TEXT_LIMIT) -> list[str]:
    """``html`` in pages that each fit, broken at line ends outside any tag; a short paragraph that would
    end a page goes over to the next with what follows it, and a line too long for a page is broken
    inside. The pages after the first begin with the first's first line and "(2/3)", so a page read
    alone still says what it is a page of."""
    if fits(html, limit):
        return [html]
    lines = _lines(html)
    title = lines[0] if visible_length(lines[0]) <= limit // 8 else ""
    digits = 2
    while True:  # room for the title, " (12/34)" and a line end on the pages after the first
        rest = limit - (visible_length(title) + 2 * digits + 5 if title else 0)
        texts = _packed(lines, limit, rest)
        if len(texts) < 10**digits:
            break
        digits += 1
    if title:
        texts[1:] = [f"{title} ({n}/{len(texts)})\n{text}" for n, text in enumerate(texts[1:], 2)]
    return texts or [html]


# A line of a view (or a part of one too long for a page), its width, and whether it shows nothing.
_Piece = tuple[str, int, bool]


def _packed(lines: list[str], first: int, rest: int) -> list[str]:
    """``lines`` in pages of at most ``first`` (the first page) and ``rest`` (the others)."""
    pieces: list[_Piece] = []
    for line in lines:
        piece = _piece(line)
        pieces += [piece] if piece[1] <= rest else [_piece(body + end) for body, end in _split(line, rest)]
    split: list[list[_Piece]] = [[]]
    width = -1  # of the page so far: its lines and the line ends between them
    for piece in pieces:
        if split[-1] and width + 1 + piece[1] > (first if len(split) == 1 else rest):
            split.append(_last_paragraph(split[-1], piece, rest))
            width = _width(split[-1])
        split[-1].append(piece)
        width += 1 + piece[1]
    return [
        "\n".join(text for text, _, _ in page).strip("\n") for page in split if not all(p[2] for p in page)
    ]


def _piece(html: str) -> _Piece:
    shown = _visible(html)
    return html, utf16_len(shown), not shown.strip()


def _width(lines: list[_Piece]) -> int:
    return sum(width for _, width, _ in lines) + len(lines) - 1


def _last_paragraph(page: list[_Piece], then: _Piece, room: int) -> list[_Piece]:
    """The last paragraph of a full page, taken off it to begin the next page with ``then`` (a total
    stays with the question asked about it), when it is a short part of a page; else nothing."""
    last_filled = max((i for i, (_, _, blank) in enumerate(page) if not blank), default=0)
    starts = [i for i in range(1, last_filled) if page[i][2]]
    if not starts:
        return []
    tail = page[starts[-1] + 1 :]
    if _width(tail) + 1 + then[1] > room // 2:
        return []
    del page[starts[-1] :]
    return tail


def _lines(html: str) -> list[str]:
    """``html`` split at its line ends that are outside every tag (a ``<pre>`` block stays whole)."""
    lines, line, depth = [], [], 0
    for token in _TOKEN.findall(html):
        if _is_tag(token):
            depth += -1 if token[1] == "/" else 1
            line.append(token)
        elif depth or "\n" not in token:
            line.append(token)
        else:
            first, *others = token.split("\n")
            line.append(first)
            for other in others:
                lines.append("".join(line))
                line = [other]
    lines.append("".join(line))
    return lines


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
