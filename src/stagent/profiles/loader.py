"""Read one profile folder (``SKILL.md`` + ``profile.yaml``) into a validated `Profile`.

Every error names the file, the field and the line. Beyond the schema, a profile is checked
against the runtimes it claims (`stagent.profiles.support`): a field that would have no effect on
one of them is refused, never silently ignored.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

from pydantic import ValidationError as PydanticValidationError

from stagent.domain.errors import ValidationError
from stagent.domain.permissions import PermissionRule
from stagent.profiles._yaml import LocatedText, Path_
from stagent.profiles.models import Profile, ProfileSpec, Scope, SkillDoc
from stagent.profiles.support import (
    ASK_USER_QUESTION,
    FIELD_SUPPORT,
    WHY_NOT,
    RuntimeName,
    model_fits,
    runtime_name,
)

SKILL_FILE = "SKILL.md"
PROFILE_FILE = "profile.yaml"
SPEC_HINT = "see the profile format in the README (Profiles)"
SKILL_HINT = "SKILL.md starts with front matter between '---' lines: name and description"


def is_profile_dir(path: Path) -> bool:
    """True if ``path`` holds a ``profile.yaml`` (a plain Claude Code skill does not)."""
    return (path / PROFILE_FILE).is_file()


def load_profile(folder: Path, scope: Scope) -> Profile:
    """Load and validate the profile in ``folder``."""
    skill, body = load_skill(folder / SKILL_FILE)
    spec_file = folder / PROFILE_FILE
    located = LocatedText(str(spec_file), _read(spec_file))
    raw = located.load(SPEC_HINT)
    if not isinstance(raw, dict):
        raise located.error([], "must be a mapping of profile fields", SPEC_HINT)
    data = cast(dict[str, Any], raw)
    try:
        spec = ProfileSpec.model_validate(data)
    except PydanticValidationError as exc:
        raise located.from_pydantic(exc, SPEC_HINT) from None
    if spec.id != folder.name:
        raise located.error(
            ["id"], f"{spec.id!r} does not match its folder name {folder.name!r}",
            "rename the folder or the id (Claude Code finds a skill by its folder name)",
        )  # fmt: skip
    profile = Profile(
        spec=spec, skill=skill, instructions=body, scope=scope, path=str(folder.resolve())
    )
    check_runtime_fields(profile, located, data)
    if scope == "project":
        check_project_trust(profile, located, data)
    return profile


def check_project_trust(profile: Profile, located: LocatedText, data: dict[str, Any]) -> None:
    """A project's ``.claude/skills`` comes with the repository, not from the person: its
    profiles may restrict and instruct, but not approve tool calls or start MCP servers."""
    for runtime in profile.runtimes:
        opts = profile.options(runtime)
        if opts.auto_approve:
            raise located.error(
                _where(profile, runtime, "canUseToolPolicy", data),
                "approves tool calls, which a project profile may not do "
                "(it arrives with the repository, not from you)",
                "import it into your user profiles to trust it, or use permission rules",
            )
        if opts.mcp_servers:
            raise located.error(
                _where(profile, runtime, "mcpServers", data),
                "starts MCP servers, which a project profile may not do "
                "(it arrives with the repository, not from you)",
                "import it into your user profiles to trust it",
            )


def parse_profile_text(
    spec_text: str, skill_text: str, *, folder: str, scope: Scope = "user"
) -> Profile:
    """Validate a profile given as text (the web editor); errors name the two file names."""
    skill, body = parse_skill(skill_text, f"{folder}/{SKILL_FILE}")
    located = LocatedText(f"{folder}/{PROFILE_FILE}", spec_text)
    raw = located.load(SPEC_HINT)
    if not isinstance(raw, dict):
        raise located.error([], "must be a mapping of profile fields", SPEC_HINT)
    data = cast(dict[str, Any], raw)
    try:
        spec = ProfileSpec.model_validate(data)
    except PydanticValidationError as exc:
        raise located.from_pydantic(exc, SPEC_HINT) from None
    profile = Profile(spec=spec, skill=skill, instructions=body, scope=scope, path=folder)
    check_runtime_fields(profile, located, data)
    return profile


def load_skill(path: Path) -> tuple[SkillDoc, str]:
    """Read ``SKILL.md``: its front matter and its body (the instructions)."""
    return parse_skill(_read(path), str(path))


def parse_skill(text: str, source: str) -> tuple[SkillDoc, str]:
    """Split and validate ``SKILL.md`` text."""
    lines = text.splitlines()
    if not lines or lines[0].strip() != "---":
        raise ValidationError(f"{source}:1: front matter is missing", hint=SKILL_HINT)
    end = next((i for i in range(1, len(lines)) if lines[i].strip() == "---"), None)
    if end is None:
        raise ValidationError(f"{source}:1: front matter has no closing '---'", hint=SKILL_HINT)
    located = LocatedText(source, "\n".join(lines[1:end]), offset=1)
    raw = located.load(SKILL_HINT)
    if not isinstance(raw, dict):
        raise located.error([], "front matter must be a mapping (name, description)", SKILL_HINT)
    try:
        skill = SkillDoc.model_validate(raw)
    except PydanticValidationError as exc:
        raise located.from_pydantic(exc, SKILL_HINT) from None
    body = "\n".join(lines[end + 1 :]).strip()
    if not body:
        raise ValidationError(
            f"{source}:{end + 2}: the instructions (the body after the front matter) are empty",
            hint="write what the agent should do, how, and what it must not do",
        )
    return skill, body


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ValidationError(
            f"{path}: missing", hint=f"a profile folder holds {SKILL_FILE} and {PROFILE_FILE}"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ValidationError(f"{path}: cannot read it ({exc})") from None


def _key(data: dict[str, Any], camel: str) -> str:
    snake = "".join(f"_{c.lower()}" if c.isupper() else c for c in camel)
    return snake if snake in data and camel not in data else camel


def check_runtime_fields(profile: Profile, located: LocatedText, data: dict[str, Any]) -> None:
    """Refuse every field that would have no effect on a runtime the profile claims."""
    spec = profile.spec
    overrides_key = _key(data, "runtimeOverrides")
    for runtime in spec.runtime_overrides:
        if runtime not in profile.runtimes:
            raise located.error(
                [overrides_key, runtime],
                f"overrides {runtime}, which supportedRuntimes does not claim",
                f"add {runtime} to supportedRuntimes or remove the override",
            )
    for runtime in profile.runtimes:
        _check_runtime(profile, runtime, located, data)


def _where(profile: Profile, runtime: str, field: str, data: dict[str, Any]) -> Path_:
    override = profile.spec.runtime_overrides.get(runtime)
    snake = "".join(f"_{c.lower()}" if c.isupper() else c for c in field)
    if override is not None and getattr(override, snake, None) is not None:
        raw = cast(dict[str, Any], data.get(_key(data, "runtimeOverrides")) or {})
        key = next((str(k) for k in raw if runtime_name(str(k)) == runtime), runtime)
        return [_key(data, "runtimeOverrides"), key, field]
    return [_key(data, field)]


def _check_runtime(
    profile: Profile, runtime: RuntimeName, located: LocatedText, data: dict[str, Any]
) -> None:
    opts = profile.options(runtime)
    present = {
        "allowedTools": bool(opts.allowed_tools),
        "canUseToolPolicy": bool(opts.auto_approve or opts.auto_deny),
        "maxTurns": opts.max_turns is not None,
        "maxBudgetUsd": opts.max_budget_usd is not None,
        "mcpServers": bool(opts.mcp_servers),
    }
    for field, is_set in present.items():
        if is_set and runtime not in FIELD_SUPPORT[field]:
            raise located.error(
                _where(profile, runtime, field, data),
                f"has no effect on {runtime}: {WHY_NOT[field]}",
                _support_hint(field, runtime),
            )
    if opts.model and not model_fits(opts.model, runtime):
        raise located.error(
            _where(profile, runtime, "model", data),
            f"{opts.model!r} is not a {runtime} model",
            f"set the model per runtime under runtimeOverrides.{runtime}.model",
        )
    if opts.allowed_tools is not None:
        for entry in opts.auto_approve:
            tool = PermissionRule.from_text(entry).tool
            if tool != ASK_USER_QUESTION and tool not in opts.allowed_tools:
                raise located.error(
                    _where(profile, runtime, "canUseToolPolicy", data),
                    f"approves {entry!r}, but allowedTools does not include {tool}",
                    f"add {tool} to allowedTools or remove the entry",
                )


def _support_hint(field: str, runtime: str) -> str:
    where = ", ".join(sorted(FIELD_SUPPORT[field]))
    hint = f"set {field} under runtimeOverrides of the runtimes that honour it ({where})"
    if field in ("allowedTools", "canUseToolPolicy"):
        empty = "[]" if field == "allowedTools" else "{}"
        hint += f", or override it on {runtime} with {empty}"
    return hint + f", or drop {runtime} from supportedRuntimes"
