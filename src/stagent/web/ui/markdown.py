"""Markdown written by people or agents (a profile's instructions), rendered for a page safely.

CommonMark plus tables and strikethrough, with raw HTML off: a ``<script>`` in the text is shown
as text, never run, and links keep markdown-it's own check (no ``javascript:`` URLs). Headings
move down two levels (``#`` becomes ``<h3>``) so the text sits under the page's own headings.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

from markupsafe import Markup

if TYPE_CHECKING:
    from markdown_it import MarkdownIt

HEADING_SHIFT = 2


@cache
def _parser() -> MarkdownIt:
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark", {"html": False}).enable(["table", "strikethrough"])


def markdown(text: str | None) -> Markup:
    """``text`` as safe HTML (empty for None or blank text)."""
    if not text or not text.strip():
        return Markup("")
    parser = _parser()
    tokens = parser.parse(text)
    for token in tokens:
        if token.type in ("heading_open", "heading_close"):
            level = min(int(token.tag[1]) + HEADING_SHIFT, 6)
            token.tag = f"h{level}"
    return Markup(parser.renderer.render(tokens, parser.options, {}))
