"""The profile catalog: built-in, project and user scopes, where a later scope overrides an
earlier one by id (built-in < project ``.claude/skills`` < user ``$STAGENT_HOME/profiles``, as
Claude Code ranks personal skills above project skills).

A malformed user or project profile does not hide the others: `ProfileCatalog.problems` lists
each with its located error, and asking for it by id raises that error.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from pathlib import Path

from stagent.domain.errors import NotFoundError, ValidationError
from stagent.profiles.loader import is_profile_dir, load_profile
from stagent.profiles.models import Profile, Scope

BUILTIN_DIR = Path(__file__).parent / "builtin"


@dataclass(frozen=True, slots=True)
class ScopeDirs:
    """Where each scope's profiles live."""

    user: Path
    project: Path | None = None
    builtin: Path = BUILTIN_DIR

    def ordered(self) -> list[tuple[Scope, Path]]:
        """Scopes from lowest to highest precedence."""
        out: list[tuple[Scope, Path]] = [("builtin", self.builtin)]
        if self.project is not None:
            out.append(("project", self.project))
        out.append(("user", self.user))
        return out

    def of(self, scope: Scope) -> Path:
        """The folder of one scope."""
        if scope == "project":
            if self.project is None:
                raise ValidationError("there is no project scope here (no .claude/skills)")
            return self.project
        return self.builtin if scope == "builtin" else self.user


@dataclass(frozen=True, slots=True)
class Problem:
    """A profile folder that failed to load."""

    id: str
    scope: Scope
    error: ValidationError


@dataclass
class ProfileCatalog:
    """Every profile in every scope, loaded once."""

    dirs: ScopeDirs
    profiles: dict[str, Profile] = field(default_factory=lambda: {})
    shadowed: dict[str, list[Scope]] = field(default_factory=lambda: {})
    problems: list[Problem] = field(default_factory=lambda: [])

    @classmethod
    def load(cls, dirs: ScopeDirs) -> ProfileCatalog:
        """Load every scope. A broken built-in is a bug and raises; others become problems."""
        catalog = cls(dirs)
        for scope, root in dirs.ordered():
            for folder in _folders(root):
                catalog.add_folder(folder, scope)
        return catalog

    def add_folder(self, folder: Path, scope: Scope) -> None:
        """Load one folder into the catalog (overriding a lower scope's profile of that id)."""
        try:
            profile = load_profile(folder, scope)
        except ValidationError as error:
            if scope == "builtin":
                raise
            self.problems = [p for p in self.problems if p.id != folder.name]
            self.problems.append(Problem(folder.name, scope, error))
            return
        previous = self.profiles.get(profile.id)
        if previous is not None:
            self.shadowed.setdefault(profile.id, []).append(previous.scope)
        self.profiles[profile.id] = profile

    def get(self, profile_id: str) -> Profile:
        """A profile by id, or its load error, or a not-found error naming near ids."""
        if profile_id in self.profiles:
            return self.profiles[profile_id]
        problem = next((p for p in self.problems if p.id == profile_id), None)
        if problem is not None:
            raise problem.error
        ids = sorted(self.profiles)
        near = [pid for pid in ids if profile_id in pid or pid in profile_id]
        near += [p for p in difflib.get_close_matches(profile_id, ids, n=3) if p not in near]
        every = f"`stagent profile list` shows all {len(ids)} (or the Profiles page)"
        raise NotFoundError(
            f"no profile {profile_id!r}",
            hint=f"did you mean: {', '.join(near[:5])}? {every}" if near else every,
        )

    def all(self) -> list[Profile]:
        """Every profile, by domain then name."""
        return sorted(self.profiles.values(), key=lambda p: (p.spec.domain, p.spec.name.lower()))

    def search(
        self, text: str = "", *, domain: str | None = None, runtime: str | None = None
    ) -> list[Profile]:
        """Profiles whose id, name, description or tags contain ``text``, filtered."""
        needle = text.strip().lower()
        out: list[Profile] = []
        for profile in self.all():
            if domain and profile.spec.domain != domain:
                continue
            if runtime and not profile.supports(runtime):
                continue
            hay = " ".join(
                [profile.id, profile.spec.name, profile.skill.description, *profile.spec.tags]
            ).lower()
            if needle and needle not in hay:
                continue
            out.append(profile)
        return out


def _folders(root: Path) -> list[Path]:
    if not root.is_dir():
        return []
    return sorted(p for p in root.iterdir() if p.is_dir() and is_profile_dir(p))
