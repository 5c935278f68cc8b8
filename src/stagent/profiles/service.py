"""`ProfileService`: the profile and blueprint catalogs of one workspace, and the file
operations on them (install as a Claude Code skill, export, import, save a user profile).

The catalogs are cached and reloaded when a user or project file changes (a signature of names,
sizes and modification times, like the original Stagent's registry).
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from stagent.domain.errors import ConflictError, NotFoundError, ValidationError
from stagent.profiles.blueprints import BlueprintCatalog
from stagent.profiles.catalog import ProfileCatalog, ScopeDirs
from stagent.profiles.instantiate import Instance, instantiate
from stagent.profiles.loader import PROFILE_FILE, SKILL_FILE, load_profile, parse_profile_text
from stagent.profiles.models import Profile
from stagent.profiles.options import apply_profile, check_runtime
from stagent.profiles.router import Route, route
from stagent.profiles.smoke import ResultStore

InstallScope = Literal["user", "project"]
AUTO = "auto"


def _signature(*roots: Path | None) -> tuple[tuple[str, int, int], ...]:
    items: list[tuple[str, int, int]] = []
    for root in roots:
        if root is None or not root.is_dir():
            continue
        for path in sorted(root.glob("*/*")) + sorted(root.glob("*.yaml")):
            if path.is_file():
                stat = path.stat()
                items.append((str(path), stat.st_mtime_ns, stat.st_size))
    return tuple(items)


class ProfileService:
    """Profiles and blueprints for one Stagent home and one project directory."""

    def __init__(self, home: Path, project_dir: Path | None = None) -> None:
        project = (project_dir or Path.cwd()) / ".claude" / "skills"
        self.dirs = ScopeDirs(user=home / "profiles", project=project)
        self.blueprint_dir = home / "blueprints"
        self.results = ResultStore(home / "profile-tests")
        self._profiles: tuple[Any, ProfileCatalog] | None = None
        self._blueprints: tuple[Any, BlueprintCatalog] | None = None

    # -- catalogs -------------------------------------------------------------------------
    def catalog(self) -> ProfileCatalog:
        """Every profile (reloaded when a user or project file changed)."""
        signature = _signature(self.dirs.user, self.dirs.project)
        if self._profiles is None or self._profiles[0] != signature:
            self._profiles = (signature, ProfileCatalog.load(self.dirs))
        return self._profiles[1]

    def blueprints(self) -> BlueprintCatalog:
        """Every blueprint (reloaded when a user file changed)."""
        signature = _signature(self.blueprint_dir)
        if self._blueprints is None or self._blueprints[0] != signature:
            self._blueprints = (signature, BlueprintCatalog.load(self.blueprint_dir))
        return self._blueprints[1]

    def get(self, profile_id: str) -> Profile:
        """One profile by id."""
        return self.catalog().get(profile_id)

    def route(self, title: str, description: str = "", runtime: str | None = None) -> Route:
        """The router's pick for a task."""
        return route(self.catalog(), title, description, runtime=runtime)

    # -- run options (the engine's hook) ---------------------------------------------------
    def check(self, profile_id: str, runtime: str) -> None:
        """Refuse a profile that does not exist or does not support ``runtime``."""
        if profile_id == AUTO:
            return
        check_runtime(self.get(profile_id), runtime)

    def resolve(
        self, profile_id: str, runtime: str, title: str, description: str, config: dict[str, Any]
    ) -> tuple[str, dict[str, Any], str]:
        """The profile a run uses (``auto`` routed), its options merged into ``config``, and
        a note for the task's log."""
        note = ""
        if profile_id == AUTO:
            decision = self.route(title, description, runtime)
            profile_id = decision.profile_id
            note = f"the router picked {profile_id}: {decision.reason}. "
        profile = self.get(profile_id)
        merged = apply_profile(config, profile, runtime)
        keys = ", ".join(k for k in merged["_profile"]["keys"]) or "nothing (simulated run)"
        note += f"profile {profile.id} {profile.spec.version} ({profile.scope}) sets {keys}"
        return profile_id, merged, note

    # -- files ------------------------------------------------------------------------------
    def install(
        self,
        profile_id: str,
        scope: InstallScope = "user",
        *,
        target: Path | None = None,
        force: bool = False,
    ) -> Path:
        """Write the profile as a Claude Code skill where Claude Code finds it.

        ``user``: ``~/.claude/skills/<id>``; ``project``: ``./.claude/skills/<id>``; ``target``
        overrides the skills folder.
        """  # fmt: skip
        profile = self.get(profile_id)
        if target is None:
            target = (Path.home() if scope == "user" else Path.cwd()) / ".claude" / "skills"
        return _copy_profile(profile, target / profile.id, force=force)

    def export(self, profile_id: str, directory: Path, *, force: bool = False) -> Path:
        """Copy the profile folder to ``directory/<id>``."""
        profile = self.get(profile_id)
        return _copy_profile(profile, directory / profile.id, force=force)

    def import_(self, folder: Path, *, force: bool = False) -> Profile:
        """Validate a profile folder and copy it into the user scope."""
        if not (folder / PROFILE_FILE).is_file():
            raise ValidationError(
                f"{folder}: no {PROFILE_FILE} here",
                hint=f"a profile folder holds {SKILL_FILE} and {PROFILE_FILE}",
            )
        profile = load_profile(folder, "user")
        destination = self.dirs.user / profile.id
        if destination.resolve() == folder.resolve():
            return profile
        _copy_profile(profile, destination, force=force)
        return self.get(profile.id)

    def save_user(
        self, spec_text: str, skill_text: str, *, original_id: str | None = None
    ) -> Profile:
        """Validate and save a user profile from its two files' text (the web editor)."""
        draft = parse_profile_text(spec_text, skill_text, folder="(new profile)")
        folder = self.dirs.user / draft.id
        if original_id and original_id != draft.id:
            raise ValidationError(
                f"profile.yaml: id {draft.id!r} differs from the profile being edited "
                f"({original_id!r})",
                hint="keep the id; to make a copy, create a new profile",
            )
        if original_id is None and draft.id in self.catalog().profiles:
            existing = self.get(draft.id)
            if existing.scope == "user":
                raise ConflictError(f"there is already a user profile {draft.id!r}")
        folder.mkdir(parents=True, exist_ok=True)
        (folder / PROFILE_FILE).write_text(_with_newline(spec_text), encoding="utf-8")
        (folder / SKILL_FILE).write_text(_with_newline(skill_text), encoding="utf-8")
        return self.get(draft.id)

    def delete_user(self, profile_id: str) -> None:
        """Delete a user profile (built-ins and project profiles are not deleted here)."""
        folder = self.dirs.user / profile_id
        if not (folder / PROFILE_FILE).is_file():
            raise NotFoundError(
                f"no user profile {profile_id!r}", hint="built-ins cannot be deleted"
            )
        shutil.rmtree(folder)

    def source_text(self, profile_id: str) -> tuple[str, str]:
        """The profile's ``profile.yaml`` and ``SKILL.md`` text."""
        folder = Path(self.get(profile_id).path)
        spec = (folder / PROFILE_FILE).read_text(encoding="utf-8")
        return spec, (folder / SKILL_FILE).read_text(encoding="utf-8")

    # -- blueprints --------------------------------------------------------------------------
    def instantiate(
        self, blueprint_id: str, values: Mapping[str, object], *, runtime: str | None = None
    ) -> Instance:
        """Resolve a blueprint with the given variable values (``runtime``: for every step
        that names none)."""
        blueprint = self.blueprints().get(blueprint_id)
        return instantiate(blueprint, values, self.catalog(), runtime=runtime)


def _copy_profile(profile: Profile, destination: Path, *, force: bool) -> Path:
    source = Path(profile.path)
    if destination.exists():
        if destination.resolve() == source.resolve():
            return destination
        if not force:
            raise ConflictError(f"{destination} already exists", hint="pass --force to replace it")
        shutil.rmtree(destination)
    destination.parent.mkdir(parents=True, exist_ok=True)
    shutil.copytree(source, destination)
    return destination


def _with_newline(text: str) -> str:
    text = text.replace("\r\n", "\n")
    return text if text.endswith("\n") else text + "\n"
