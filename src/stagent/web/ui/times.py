"""Times as a person reads them on a page: "5 min ago", with the full UTC stamp as a tooltip.

The server renders the relative text (so a page reads right without scripts); ``app.js``
refreshes every ``time[data-ago]`` from its ``datetime`` while the page stays open, with the
same rules (`ago_text`), and shows dates older than a week in the browser's own zone.
"""

from __future__ import annotations

from datetime import UTC, datetime

from markupsafe import Markup, escape

MINUTE = 60
HOUR = 60 * MINUTE
DAY = 24 * HOUR


def full_stamp(value: datetime) -> str:
    """``YYYY-MM-DD HH:MM:SS UTC``."""
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def ago_text(value: datetime, now: datetime) -> str:
    """How long before ``now`` ``value`` was, in a few characters ("3 h ago", "Dec 3")."""
    seconds = (now - value).total_seconds()
    if seconds < MINUTE:
        return "just now"
    if seconds < HOUR:
        return f"{int(seconds // MINUTE)} min ago"
    if seconds < DAY:
        return f"{int(seconds // HOUR)} h ago"
    days = int(seconds // DAY)
    if days == 1:
        return "yesterday"
    if days < 7:
        return f"{days} days ago"
    stamp = value.astimezone(UTC)
    if stamp.year == now.astimezone(UTC).year:
        return f"{stamp.strftime('%b')} {stamp.day}"
    return stamp.strftime("%Y-%m-%d")


def ago(value: datetime | None, now: datetime | None = None) -> Markup:
    """A ``<time>`` element: relative text, the full UTC stamp in its tooltip (empty for None)."""
    if value is None:
        return Markup("")
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    text = ago_text(value, now or datetime.now(UTC))
    stamp = full_stamp(value)
    return Markup(
        f'<time class="ago" datetime="{escape(value.isoformat())}" title="{escape(stamp)}" '
        f"data-ago>{escape(text)}</time>"
    )
