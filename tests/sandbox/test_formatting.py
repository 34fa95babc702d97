"""Telegram's HTML parse mode as the sandbox applies it to every message a bot sends."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sandbox.formatting import EntityParseError, parse_html, utf16_len


def test_tags_become_entities_with_utf16_offsets() -> None:
    parsed = parse_html(
        '😀 <b>bold <i>both</i></b> &lt;ok&gt; &amp; <a href="https://x.io/?a=1&amp;b=2">link</a>'
    )
    assert parsed.text == "😀 bold both <ok> & link"
    bold, italic, link = parsed.entities
    # The emoji is two UTF-16 code units, so "bold" starts at 3, as Telegram counts.
    assert bold == {"type": "bold", "offset": 3, "length": 9}
    assert italic == {"type": "italic", "offset": 8, "length": 4}
    assert link == {"type": "text_link", "offset": 20, "length": 4, "url": "https://x.io/?a=1&b=2"}


@pytest.mark.parametrize(
    ("source", "kind"),
    [
        ("<strong>x</strong>", "bold"),
        ("<em>x</em>", "italic"),
        ("<ins>x</ins>", "underline"),
        ("<del>x</del>", "strikethrough"),
        ("<tg-spoiler>x</tg-spoiler>", "spoiler"),
        ('<span class="tg-spoiler">x</span>', "spoiler"),
        ("<code>x</code>", "code"),
        ("<blockquote>x</blockquote>", "blockquote"),
        ("<blockquote expandable>x</blockquote>", "expandable_blockquote"),
        ('<tg-emoji emoji-id="5368324170671202286">👍</tg-emoji>', "custom_emoji"),
    ],
)
def test_every_telegram_tag(source: str, kind: str) -> None:
    assert parse_html(source).entities[0]["type"] == kind


def test_pre_with_language() -> None:
    parsed = parse_html('<pre><code class="language-python">print(1)</code></pre>')
    assert parsed.entities == [{"type": "pre", "offset": 0, "length": 8, "language": "python"}]


def test_numeric_entities_and_whitespace_trim() -> None:
    parsed = parse_html("  &#60;&#x3E; <b>x </b>\n")
    assert parsed.text == "<> x"
    assert parsed.entities == [{"type": "bold", "offset": 3, "length": 1}]


@pytest.mark.parametrize(
    ("source", "fragment"),
    [
        ("1 < 2", 'Unsupported start tag ""'),
        ("Tom & Jerry", "Character '&'"),
        ("&copy; 2026", "Character '&'"),
        ("<div>x</div>", 'Unsupported start tag "div"'),
        ("<script>alert(1)</script>", 'Unsupported start tag "script"'),
        ("<b>x", 'Can\'t find end tag corresponding to start tag "b"'),
        ("<b>x</i>", 'Unmatched end tag at byte offset 4, expected "</b>", found "</i>"'),
        ("x</b>", "Unexpected end tag"),
        ("<b x</b>", "Unclosed start tag"),
        ("<span>x</span>", 'Tag "span" must have class "tg-spoiler"'),
    ],
)
def test_what_telegram_refuses(source: str, fragment: str) -> None:
    with pytest.raises(EntityParseError, match=None) as error:
        parse_html(source)
    assert fragment in str(error.value)


@given(st.text(max_size=200))
def test_escaped_user_text_always_parses_back_to_itself(text: str) -> None:
    """What every bot must do with user input: escape it, and Telegram shows it unchanged."""
    import html

    parsed = parse_html(html.escape(text, quote=False))
    assert parsed.text == text.strip()
    assert parsed.entities == []
    assert utf16_len(parsed.text) >= len(parsed.text)
