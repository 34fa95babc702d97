"""Cutting and paging rendered HTML to Telegram's limits, checked with the sandbox's own parser."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from markupsafe import escape

from handlers.limits import clip, cut, page_of, pages, visible_length
from sandbox.formatting import parse_html, utf16_len


def accepted(html: str, limit: int) -> str:
    """The text Telegram shows for ``html``, after checking it parses and fits as Telegram checks."""
    text = parse_html(html).text
    assert utf16_len(text) <= limit, (utf16_len(text), limit)
    return text


def test_a_cut_counts_what_telegram_counts_and_never_splits_markup() -> None:
    html = "<b>Tea &amp; Co</b> 😀😀 <i>" + "x" * 20 + "</i>"
    assert visible_length(html) == len("Tea & Co ") + 4 + 1 + 20
    assert cut(html, 100) == html
    short = cut(html, 12)
    assert short == "<b>Tea &amp; Co</b> 😀…"  # the emoji counts two, the entity one
    assert accepted(short, 12) == "Tea & Co 😀…"
    assert cut("<b>" + "&amp;" * 10 + "</b>", 5) == "<b>&amp;&amp;&amp;&amp;…</b>"


def test_a_caption_is_measured_by_what_it_shows_not_by_its_html() -> None:
    """Bold words and a link: more than 1024 characters of HTML, fewer to show: nothing to cut."""
    words = [f"<b>word{i}</b>" if i % 3 == 0 else f"word{i}" for i in range(60)]
    html = " ".join(words) + ' <a href="https://example.com/?a=1&amp;b=2">' + "y" * 500 + "</a>"
    assert len(html) > 1024 and visible_length(html) <= 1024
    assert cut(html, 1024) == html
    assert accepted(cut(html, 500), 500).endswith("…")


def test_clip_cuts_plain_text_at_a_word_near_the_end() -> None:
    assert clip("short", 10) == "short"
    assert clip("tea with lemon and honey", 20) == "tea with lemon and…"
    assert clip("a fairly long product name", 20) == "a fairly long produ…"  # no word's end near
    assert clip("😀" * 10, 7) == "😀😀😀…"
    assert utf16_len(clip("x" * 500, 60)) == 60


def test_a_short_last_paragraph_goes_over_with_what_follows_it() -> None:
    html = "<b>Order</b>\n" + "a" * 40 + "\n" + "b" * 40 + "\n\nTotal: 5\n\nPlace it? " + "c" * 10
    first, second = pages(html, 100)
    assert first == "<b>Order</b>\n" + "a" * 40 + "\n" + "b" * 40
    assert second == "<b>Order</b> (2/2)\nTotal: 5\n\nPlace it? " + "c" * 10


def test_pages_break_at_line_ends_and_repeat_the_title() -> None:
    lines = ["<b>Customer Ann</b>"] + [f"• note {i}: " + "n" * 90 for i in range(100)]
    html = "\n".join(lines)
    split = pages(html, 1000)
    assert len(split) > 1
    shown = [accepted(page, 1000) for page in split]
    assert shown[0].startswith("Customer Ann\n• note 0:")
    assert shown[1].startswith(f"Customer Ann (2/{len(split)})\n• note ")
    notes = [line for text in shown for line in text.splitlines() if line.startswith("• note")]
    assert notes == [parse_html(line).text for line in lines[1:]]  # every line once, in order, whole
    assert page_of(html, 99, 1000).page == len(split) - 1
    assert page_of("<b>short</b>", 3).pages == 1


def test_a_pre_block_is_one_line_and_a_line_too_long_is_broken_inside() -> None:
    html = "Title\n<pre>a\nb\nc</pre>\n<i>" + "z" * 2500 + "</i>"
    split = pages(html, 1000)
    shown = [accepted(page, 1000) for page in split]
    assert "a\nb\nc" in shown[0]
    assert "".join(text.split("\n", 1)[1] for text in shown).count("z") == 2500  # after each title line
    assert all(page.count("<i>") == page.count("</i>") for page in split)


_pieces = st.one_of(
    st.text(alphabet=st.sampled_from("ab \n😀я"), min_size=1, max_size=30).map(lambda s: str(escape(s))),
    st.sampled_from(["&amp;", "&lt;", "&#128512;", "&quot;"]),
)


@st.composite
def _html(draw: st.DrawFn, depth: int = 0) -> str:
    parts = []
    for _ in range(draw(st.integers(1, 6))):
        if depth < 3 and draw(st.booleans()):
            tag = draw(st.sampled_from(["b", "i", "code", "pre", "u", "blockquote"]))
            parts.append(f"<{tag}>{draw(_html(depth + 1))}</{tag}>")
        elif depth < 3 and draw(st.integers(0, 5)) == 0:
            parts.append(f'<a href="https://x.io/?a=1&amp;b=2">{draw(_html(depth + 1))}</a>')
        else:
            parts.append(draw(_pieces))
    return "".join(parts)


@given(st.lists(_html(), min_size=1, max_size=8).map("\n".join), st.integers(20, 300))
def test_any_html_cut_or_paged_is_accepted(html: str, limit: int) -> None:
    text = parse_html(html).text
    cut_text = accepted(cut(html, limit), limit)
    if utf16_len(text) <= limit:
        assert cut_text == text
    else:
        assert cut_text.endswith("…")
    for page in pages(html, limit):
        accepted(page, limit)
