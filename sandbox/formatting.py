"""Telegram's HTML parse mode: text + entities out, or the error Telegram would give.

Modelled on tdlib's ``parse_html``: only Telegram's tags, attributes quoted or bare, the four named
entities plus numeric ones. Stricter than Telegram in one place on purpose: a raw ``&`` that does not
start an entity is an error, because a bot that sends one has forgotten to escape user text.
Entity offsets and lengths are in UTF-16 code units, as in the Bot API.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

NAMED_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"', "apos": "'", "nbsp": "\u00a0"}

SIMPLE_TAGS = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
    "code": "code",
    "pre": "pre",
    "blockquote": "blockquote",
}
ALL_TAGS = set(SIMPLE_TAGS) | {"a", "span", "tg-emoji", "tg-time"}

_TAG_NAME = re.compile(r"[a-zA-Z][a-zA-Z0-9-]*")
_ATTR = re.compile(r"\s*([a-zA-Z-]+)(?:\s*=\s*(\"[^\"]*\"|'[^']*'|[^\s>\"']+))?")
_ENTITY = re.compile(r"&(#x[0-9a-fA-F]{1,6}|#[0-9]{1,7}|[a-zA-Z]+);")


class EntityParseError(ValueError):
    """The text is not valid Telegram HTML; ``str(error)`` is the detail after "can't parse entities: "."""


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


@dataclass
class _Open:
    tag: str
    offset: int
    attrs: dict[str, str]
    byte_offset: int


@dataclass
class Parsed:
    text: str
    entities: list[dict[str, Any]] = field(default_factory=list)


def parse_html(source: str) -> Parsed:
    """Parse ``source`` the way Telegram does for ``parse_mode=HTML``."""
    out: list[str] = []
    pos16 = 0
    stack: list[_Open] = []
    entities: list[dict[str, Any]] = []
    i = 0
    n = len(source)
    while i < n:
        ch = source[i]
        if ch == "&":
            m = _ENTITY.match(source, i)
            decoded = _decode_entity(m.group(1)) if m else None
            if decoded is None:
                raise EntityParseError(
                    f"Character '&' at byte offset {_byte_offset(source, i)} "
                    "is not the start of an HTML entity; escape it as &amp;"
                )
            out.append(decoded)
            pos16 += utf16_len(decoded)
            i = m.end()  # type: ignore[union-attr]
            continue
        if ch == "<":
            if i + 1 < n and source[i + 1] == "/":
                i = _close_tag(source, i, stack, entities, pos16)
            else:
                i = _open_tag(source, i, stack, pos16)
            continue
        out.append(ch)
        pos16 += utf16_len(ch)
        i += 1
    if stack:
        raise EntityParseError(f'Can\'t find end tag corresponding to start tag "{stack[-1].tag}"')
    entities.sort(key=lambda e: (e["offset"], -e["length"]))
    return _strip(Parsed("".join(out), entities))


def plain(source: str) -> Parsed:
    """Text sent without parse_mode: taken literally."""
    return _strip(Parsed(source, []))


def _decode_entity(body: str) -> str | None:
    if body.startswith("#x"):
        code = int(body[2:], 16)
    elif body.startswith("#"):
        code = int(body[1:])
    else:
        return NAMED_ENTITIES.get(body)
    if code == 0 or code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
        return None
    return chr(code)


def _byte_offset(source: str, index: int) -> int:
    return len(source[:index].encode("utf-8"))


def _open_tag(source: str, i: int, stack: list[_Open], pos16: int) -> int:
    start = i
    m = _TAG_NAME.match(source, i + 1)
    if not m:
        raise EntityParseError(f'Unsupported start tag "" at byte offset {_byte_offset(source, start)}')
    tag = m.group(0).lower()
    if tag not in ALL_TAGS:
        raise EntityParseError(f'Unsupported start tag "{tag}" at byte offset {_byte_offset(source, start)}')
    i = m.end()
    attrs: dict[str, str] = {}
    while True:
        if i >= len(source):
            raise EntityParseError(f"Unclosed start tag at byte offset {_byte_offset(source, start)}")
        if source[i] == ">":
            i += 1
            break
        am = _ATTR.match(source, i)
        if not am or am.end() == i:
            raise EntityParseError(f"Unclosed start tag at byte offset {_byte_offset(source, start)}")
        value = am.group(2) or ""
        if value[:1] in {'"', "'"}:
            value = value[1:-1]
        attrs[am.group(1).lower()] = _unescape_attr(value)
        i = am.end()
        while i < len(source) and source[i].isspace():
            i += 1
    if tag == "span" and attrs.get("class") != "tg-spoiler":
        raise EntityParseError(
            f'Tag "span" must have class "tg-spoiler" at byte offset {_byte_offset(source, start)}'
        )
    if tag == "tg-emoji" and not attrs.get("emoji-id", "").isdigit():
        raise EntityParseError("Custom emoji identifier must be specified")
    stack.append(_Open(tag, pos16, attrs, _byte_offset(source, start)))
    return i


def _close_tag(source: str, i: int, stack: list[_Open], entities: list[dict[str, Any]], pos16: int) -> int:
    start = i
    end = source.find(">", i)
    if end == -1:
        raise EntityParseError(f"Unclosed end tag at byte offset {_byte_offset(source, start)}")
    tag = source[i + 2 : end].strip().lower()
    if not stack:
        raise EntityParseError(f"Unexpected end tag at byte offset {_byte_offset(source, start)}")
    top = stack.pop()
    if top.tag != tag:
        raise EntityParseError(
            f"Unmatched end tag at byte offset {_byte_offset(source, start)}, "
            f'expected "</{top.tag}>", found "</{tag}>"'
        )
    length = pos16 - top.offset
    entity = _entity_for(top, length, stack, entities)
    if entity is not None and length > 0:
        entities.append(entity)
    return end + 1


def _entity_for(
    top: _Open, length: int, stack: list[_Open], entities: list[dict[str, Any]]
) -> dict[str, Any] | None:
    base: dict[str, Any] = {"offset": top.offset, "length": length}
    tag, attrs = top.tag, top.attrs
    if tag == "a":
        href = attrs.get("href", "")
        if not href:
            return None
        return {"type": "text_link", **base, "url": href}
    if tag == "span":
        return {"type": "spoiler", **base}
    if tag == "tg-emoji":
        return {"type": "custom_emoji", **base, "custom_emoji_id": attrs["emoji-id"]}
    if tag == "tg-time":
        unix = attrs.get("unix", "")
        if not unix.isdigit():
            return None
        extra = {"date_time_format": attrs["format"]} if "format" in attrs else {}
        return {"type": "date_time", **base, "unix_time": int(unix), **extra}
    if tag == "blockquote":
        kind = "expandable_blockquote" if "expandable" in attrs else "blockquote"
        return {"type": kind, **base}
    if tag == "code" and stack and stack[-1].tag == "pre":
        language = attrs.get("class", "")
        if language.startswith("language-"):
            # <pre><code class="language-x"> is one pre entity with a language.
            stack[-1].attrs["language"] = language[len("language-") :]
            return None
    if tag == "pre":
        extra = {"language": attrs["language"]} if attrs.get("language") else {}
        return {"type": "pre", **base, **extra}
    return {"type": SIMPLE_TAGS[tag], **base}


def _unescape_attr(value: str) -> str:
    return _ENTITY.sub(lambda m: _decode_entity(m.group(1)) or m.group(0), value)


def _strip(parsed: Parsed) -> Parsed:
    """Telegram trims leading and trailing white space; entities are clipped to what is left."""
    text = parsed.text
    stripped_left = text.lstrip()
    left16 = utf16_len(text) - utf16_len(stripped_left)
    result = stripped_left.rstrip()
    total16 = utf16_len(result)
    entities = []
    for e in parsed.entities:
        start = max(e["offset"] - left16, 0)
        end = min(e["offset"] + e["length"] - left16, total16)
        if end > start:
            entities.append({**e, "offset": start, "length": end - start})
    return Parsed(result, entities)


def parse(text: str, parse_mode: str | None) -> Parsed:
    """Parse text for a given parse_mode (HTML, or none). MarkdownV2 is not emulated."""
    mode = (parse_mode or "").lower()
    if mode == "html":
        return parse_html(text)
    if mode in {"markdown", "markdownv2"}:
        raise EntityParseError("The sandbox emulates only parse_mode HTML")
    if mode:
        raise EntityParseError(f"Unsupported parse_mode {parse_mode!r}")
    return plain(text)
