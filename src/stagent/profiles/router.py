"""Pick a profile for a task from its text, and say why.

Each profile's tags are matched against the task's title and description as whole words (a
trailing plural ``s``/``es``, or ``ies`` for a ``y``, allowed; ``pr`` does not match
"improve"). A single-word tag scores 1, a phrase scores 2 (it is more specific). Category tags
(``engineering``, ``knowledge``, ``personal``) do not count. Only profiles that support the
task's runtime take part. The best score wins if it reaches `MIN_SCORE`; otherwise the task
goes to ``general``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from stagent.profiles.catalog import ProfileCatalog
from stagent.profiles.models import Profile
from stagent.profiles.options import SIMULATED_RUNTIMES

FALLBACK = "general"
MIN_SCORE = 2
CATEGORY_TAGS = frozenset({"engineering", "knowledge", "personal", "general"})


@dataclass(frozen=True, slots=True)
class Candidate:
    """One profile's score for a task."""

    profile_id: str
    score: int
    matched: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Route:
    """The router's choice and its reason."""

    profile_id: str
    score: int
    matched: tuple[str, ...]
    fallback: bool
    reason: str
    runners_up: tuple[Candidate, ...] = ()


WORD = re.compile(r"\w[\w-]*")


@lru_cache(maxsize=2048)
def _pattern(tag: str) -> re.Pattern[str]:
    *head, last = tag.split()
    end = rf"{re.escape(last[:-1])}(?:y|ies)" if last.endswith("y") else re.escape(last)
    words = r"\s+".join([*(re.escape(w) for w in head), end])
    return re.compile(rf"(?<![\w-]){words}(?:s|es)?(?![\w-])", re.IGNORECASE)


def _words(text: str) -> frozenset[str]:
    """The text's words, lowercased, each also without a plural ``s``/``es``."""
    out: set[str] = set()
    for word in WORD.findall(text.lower()):
        out.update((word, word.removesuffix("s"), word.removesuffix("es")))
        if word.endswith("ies"):
            out.add(word[:-3] + "y")  # queries -> query
    return frozenset(out)


def _hit(tag: str, text: str, words: frozenset[str]) -> bool:
    """A phrase by regex; a single word by set lookup (whole words, plural allowed)."""
    if " " in tag:
        return _pattern(tag).search(text) is not None
    return tag in words


def score(profile: Profile, text: str, words: frozenset[str] | None = None) -> Candidate:
    """How well ``profile``'s tags match ``text``."""
    words = _words(text) if words is None else words
    matched = tuple(
        tag for tag in profile.spec.tags if tag not in CATEGORY_TAGS and _hit(tag, text, words)
    )
    points = sum(2 if " " in tag or "-" in tag else 1 for tag in matched)
    return Candidate(profile.id, points, matched)


def route(
    catalog: ProfileCatalog, title: str, description: str = "", *, runtime: str | None = None
) -> Route:
    """The profile for a task, with the matched tags and score (``general`` as fallback)."""
    text = f"{title}\n{description}"
    eligible = [
        p
        for p in catalog.all()
        if runtime is None or runtime in SIMULATED_RUNTIMES or p.supports(runtime)
    ]
    words = _words(text)
    ranked = sorted(
        (score(p, text, words) for p in eligible if p.id != FALLBACK),
        key=lambda c: (-c.score, -len(c.matched), c.profile_id),
    )
    best = ranked[0] if ranked else None
    if best is None or best.score < MIN_SCORE:
        why = (
            f"best match {best.profile_id} scored {best.score}"
            if best and best.score
            else ("no profile's tags matched")
        )
        return Route(
            FALLBACK,
            0,
            (),
            True,
            f"{why}; below {MIN_SCORE}, so the general profile takes it",
            tuple(ranked[:3]),
        )
    tags = ", ".join(best.matched)
    return Route(
        best.profile_id,
        best.score,
        best.matched,
        False,
        f"matched tags {tags} (score {best.score})",
        tuple(c for c in ranked[1:4] if c.score),
    )
