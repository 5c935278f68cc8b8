"""Scrubbing secrets out of anything stored or streamed (tool inputs, outputs, messages).

One pure function, `scrub`, applied where events are appended (`stagent.store.events.append`):
every string inside a payload has each known secret replaced by ``[redacted]``. The secrets are
the owner token and configured ones: environment variables whose names say they hold a secret
(``*KEY*``, ``*TOKEN*``, ``*SECRET*``, ``*PASSWORD*``) and the database password.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, cast

REDACTED = "[redacted]"
MIN_SECRET_LENGTH = 8
"""Shorter values are not treated as secrets: replacing them would mangle ordinary text."""
SECRET_NAME_MARKS = ("KEY", "TOKEN", "SECRET", "PASSWORD", "PASSWD", "CREDENTIAL")


def secret_values(environ: Mapping[str, str]) -> list[str]:
    """The values of variables whose names say they hold a secret."""
    return [
        value
        for name, value in environ.items()
        if any(mark in name.upper() for mark in SECRET_NAME_MARKS)
        and len(value.strip()) >= MIN_SECRET_LENGTH
    ]


def normalize(secrets: Iterable[str]) -> tuple[str, ...]:
    """Usable secrets, de-duplicated, longest first (so a longer one is replaced whole)."""
    kept = {s.strip() for s in secrets if s and len(s.strip()) >= MIN_SECRET_LENGTH}
    return tuple(sorted(kept, key=len, reverse=True))


def scrub(value: Any, secrets: tuple[str, ...]) -> Any:
    """``value`` with every occurrence of each secret replaced, inside strings, dict keys and
    values, lists and tuples (other values unchanged). ``secrets`` as `normalize` returns them."""
    if not secrets:
        return value
    if isinstance(value, str):
        return _scrub_text(value, secrets)
    # A container's plain strings and numbers are handled inline, without a call of their own
    # (the common leaves of an event's payload; every event goes through here).
    if isinstance(value, dict):
        items = cast(dict[Any, Any], value).items()
        return {
            (_scrub_text(k, secrets) if type(k) is str else scrub(k, secrets)): (
                _scrub_text(v, secrets)
                if type(v) is str
                else v
                if type(v) in _PLAIN
                else scrub(v, secrets)
            )
            for k, v in items
        }
    if isinstance(value, list | tuple):
        return [
            _scrub_text(item, secrets)
            if type(item) is str
            else item
            if type(item) in _PLAIN
            else scrub(item, secrets)
            for item in cast(Iterable[Any], value)
        ]
    return value


_PLAIN = frozenset({int, float, bool, type(None)})
"""Types `scrub` returns as they are (no text inside)."""


def _scrub_text(text: str, secrets: tuple[str, ...]) -> str:
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, REDACTED)
    return text
