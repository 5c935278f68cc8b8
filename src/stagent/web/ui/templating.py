"""The one Jinja environment: autoescaping always on (agent output is untrusted text)."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup, escape
from starlette.templating import Jinja2Templates

from stagent.domain.events import LoggedEvent
from stagent.domain.tasks import TaskStatus
from stagent.ledger.money import shown_usd
from stagent.web.ui.markdown import markdown
from stagent.web.ui.surfaces import NAV_GROUPS, SURFACES, nav_items
from stagent.web.ui.times import ago
from stagent.web.ui.views import can_cancel, can_change, can_run, hold_cue

TEMPLATES_DIR = Path(__file__).resolve().parent.parent / "templates"

STATUS_LABELS: dict[str, str] = {s.value: s.value.capitalize() for s in TaskStatus}


def format_time(value: datetime | None) -> str:
    """A timestamp as ``YYYY-MM-DD HH:MM:SS UTC`` (empty for None)."""
    if value is None:
        return ""
    return value.strftime("%Y-%m-%d %H:%M:%S UTC")


_CODE_SPAN = re.compile(r"`([^`]+)`")
_CLI_TEXT = re.compile(r"`stagent\b|(^|\s)--[a-z]")
_SENTENCE_END = re.compile(r"(?<=[.?!;])\s+")


def page_text(value: str | None) -> Markup:
    """Message text for a page: `code` spans become <code>, the rest is escaped.

    Messages are written for every face; a sentence that only makes sense in a terminal (it
    names a ``stagent`` command or a ``--flag``) is left out of pages, which offer their own
    controls. The message's other sentences stay ("did you mean: reviewer?").
    """
    if not value:
        return Markup("")
    kept = [part for part in _SENTENCE_END.split(value) if not _CLI_TEXT.search(part)]
    return code_spans(" ".join(kept))


def code_spans(value: str | None) -> Markup:
    """Escaped text whose `code` spans become <code> (a log line shows no raw backticks)."""
    return Markup(_CODE_SPAN.sub(r"<code>\1</code>", str(escape(value or ""))))


_DATED = re.compile(r"(.+?)(-\d{8})")


def whole(value: str | None) -> Markup:
    """A model id (or a name) kept on one line: a narrow cell never breaks it at its hyphens
    (``claude-sonnet-4-`` / ``5``); a dated id may break once, before its date."""
    text = value or ""
    if not text:
        return Markup("")  # an empty cell stays :empty (a phone's stacked row leaves it out)
    dated = _DATED.fullmatch(text)
    parts = dated.groups() if dated else (text,)
    return Markup("<wbr>").join(Markup('<span class="whole">{}</span>').format(p) for p in parts)


PERMISSIONS = "/settings/permissions"


def log_text(event: LoggedEvent) -> Markup:
    """A log line's text for a page: `code_spans` of its summary, with what it names linked
    where a person can look at it (the schedule that started a task, the rule that decided a
    call). Ids stay in the payload; the words are the message's."""
    text, payload = event.summary, event.payload
    schedule, schedule_id = payload.get("schedule"), payload.get("schedule_id")
    if isinstance(schedule, str) and isinstance(schedule_id, str):
        return _linked(text, repr(schedule), f"/schedules/{quote(schedule_id)}", schedule)
    decided_by = payload.get("decided_by")
    if isinstance(decided_by, str) and re.match(r"(task |project )?rule `", decided_by):
        return _linked(text, decided_by, PERMISSIONS)
    rule = payload.get("rule")
    if payload.get("rule_id") and isinstance(rule, str):
        return _linked(text, f"`{rule}`", PERMISSIONS)
    return code_spans(text)


def _linked(text: str, piece: str, href: str, shown: str | None = None) -> Markup:
    """``text`` with its first ``piece`` a link to ``href`` (shown as ``shown``, else as the
    piece itself); the text as it is if the piece is not in it."""
    head, found, tail = text.partition(piece)
    if not found:
        return code_spans(text)
    link = Markup('<a href="{}">{}</a>').format(href, code_spans(shown or piece))
    return code_spans(head) + link + code_spans(tail)


def build_environment() -> Environment:
    """Create the Jinja environment shared by pages, fragments and SSE events."""
    env = Environment(
        loader=FileSystemLoader(TEMPLATES_DIR),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["when"] = format_time  # pyright: ignore[reportUnknownMemberType]
    env.filters["ago"] = ago  # pyright: ignore[reportUnknownMemberType]
    env.filters["usd"] = shown_usd  # pyright: ignore[reportUnknownMemberType]
    env.filters["page_text"] = page_text  # pyright: ignore[reportUnknownMemberType]
    env.filters["code_spans"] = code_spans  # pyright: ignore[reportUnknownMemberType]
    env.filters["log_text"] = log_text  # pyright: ignore[reportUnknownMemberType]
    env.filters["whole"] = whole  # pyright: ignore[reportUnknownMemberType]
    env.filters["markdown"] = markdown  # pyright: ignore[reportUnknownMemberType]
    env.globals.update(  # pyright: ignore[reportUnknownMemberType]
        nav_groups=NAV_GROUPS,
        nav_items=nav_items,
        surfaces=SURFACES,
        status_labels=STATUS_LABELS,
        can_run=can_run,
        can_cancel=can_cancel,
        can_change=can_change,
        hold_cue=hold_cue,
    )
    return env


ENV = build_environment()
templates = Jinja2Templates(env=ENV)


def render(name: str, **context: Any) -> str:
    """Render a template (usually a fragment) to a string outside a request."""
    return ENV.get_template(name).render(**context)


def render_error_html(body: dict[str, Any], *, fragment: bool) -> str:
    """An error as a whole page, or as a fragment for htmx requests."""
    if fragment:
        return render("fragments/error.html", err=body)
    return render("pages/error.html", err=body, active="", csrf_token="", title="Error")
