"""Plain-English schedules ("every weekday at 9am") turned into 5-field cron expressions.

This is a small grammar of phrases, not a cron parser: the cron it produces is evaluated by
`cronsim` and shown back to the person for confirmation.
"""

from __future__ import annotations

import re

from stagent.domain.errors import ValidationError

EXAMPLES = (
    "every 15 minutes",
    "every 2 hours",
    "every day at 9am",
    "every weekday at 9:30am",
    "every weekend at 10am",
    "every monday and thursday at 18:00",
    "every month on the 1st at 8am",
)

_DAYS = {
    "sunday": 0,
    "monday": 1,
    "tuesday": 2,
    "wednesday": 3,
    "thursday": 4,
    "friday": 5,
    "saturday": 6,
}
_ALIASES = {
    "sun": "sunday",
    "mon": "monday",
    "tue": "tuesday",
    "tues": "tuesday",
    "wed": "wednesday",
    "thu": "thursday",
    "thur": "thursday",
    "thurs": "thursday",
    "fri": "friday",
    "sat": "saturday",
}
_TIME = re.compile(r"^(\d{1,2})(?::(\d{2}))?\s*(am|pm)?$")


def phrase_to_cron(text: str) -> str:
    """The cron expression for a phrase such as ``every weekday at 9am`` (``0 9 * * 1-5``).

    Raises `ValidationError` listing the phrases it understands.
    """
    phrase = " ".join(text.lower().replace(",", " , ").split())
    phrase = phrase.removeprefix("every ").strip()
    if phrase in ("hourly", "daily", "weekly", "monthly"):
        phrase = {"hourly": "hour", "daily": "day", "weekly": "monday", "monthly": "month"}[phrase]
    body, _, at = phrase.partition(" at ")
    body = body.strip()
    cron = _repeating(body, at) or _calendar(body, at)
    if cron is None:
        raise _unknown(text)
    return cron


def _repeating(body: str, at: str) -> str | None:
    match = re.fullmatch(r"(\d+)?\s*(minute|min|hour|hr)s?", body)
    if match is None:
        return None
    if at:
        raise ValidationError(f"schedule: {body!r} repeats by itself; drop 'at {at}'")
    count = int(match.group(1) or 1)
    if match.group(2) in ("minute", "min"):
        if count < 1 or 60 % count:
            raise ValidationError(
                f"schedule: every {count} minutes does not divide an hour evenly",
                hint=f"use an interval instead (--every {count}m)",
            )
        return "* * * * *" if count == 1 else f"*/{count} * * * *"
    if count < 1 or 24 % count:
        raise ValidationError(
            f"schedule: every {count} hours does not divide a day evenly",
            hint=f"use an interval instead (--every {count}h)",
        )
    return "0 * * * *" if count == 1 else f"0 */{count} * * *"


def _calendar(body: str, at: str) -> str | None:
    minute, hour = _time_of_day(at) if at else (0, 9)
    day_of_month = "*"
    if body in ("day", "days"):
        days = "*"
    elif body in ("weekday", "weekdays", "work day", "workday", "business day"):
        days = "1-5"
    elif body in ("weekend", "weekends", "weekend day"):
        days = "0,6"
    elif match := re.fullmatch(r"month(?: on the (\d{1,2})(?:st|nd|rd|th)?)?", body):
        days = "*"
        day_of_month = match.group(1) or "1"
        if not 1 <= int(day_of_month) <= 31:
            raise ValidationError(f"schedule: day {day_of_month} of a month does not exist")
    else:
        names = [w for w in re.split(r"\s+|,|\band\b", body) if w and w not in (",", "and")]
        numbers = [_day_number(name) for name in names]
        if not numbers or None in numbers:
            return None
        days = ",".join(str(n) for n in sorted({n for n in numbers if n is not None}))
    return f"{minute} {hour} {day_of_month} * {days}"


def _day_number(name: str) -> int | None:
    name = name.rstrip("s") if name.rstrip("s") in _DAYS or name.rstrip("s") in _ALIASES else name
    return _DAYS.get(_ALIASES.get(name, name))


def _time_of_day(text: str) -> tuple[int, int]:
    """(minute, hour) for ``9am``, ``9:30 pm``, ``21:15``, ``noon``, ``midnight``."""
    text = text.strip()
    if text in ("noon", "midday"):
        return 0, 12
    if text == "midnight":
        return 0, 0
    match = _TIME.match(text)
    if match is None:
        raise ValidationError(
            f"schedule: {text!r} is not a time of day", hint="write it like 9am, 9:30pm or 21:15"
        )
    hour, minute, half = int(match.group(1)), int(match.group(2) or 0), match.group(3)
    if half:
        if not 1 <= hour <= 12:
            raise ValidationError(f"schedule: {text!r} is not a time of day (hour 1-12 with am/pm)")
        hour = hour % 12 + (12 if half == "pm" else 0)
    if hour > 23 or minute > 59:
        raise ValidationError(f"schedule: {text!r} is not a time of day")
    return minute, hour


def _unknown(text: str) -> ValidationError:
    return ValidationError(
        f"schedule: {text!r} is neither a cron expression nor a phrase Stagent understands",
        hint="write a 5-field cron (0 9 * * 1-5) or a phrase like: " + "; ".join(EXAMPLES),
    )
