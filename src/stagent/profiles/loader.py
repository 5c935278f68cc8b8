"""Read one profile folder (``SKILL.md`` + ``profile.yaml``) into a validated `Profile`.

An error lists every problem of the two files at once, each with its file, line, field and a
fix of its own (the workflows' and blueprints' per-kind hints, `stagent.domain.workflow_hints`,
through a `Vocabulary`). Beyond the schema, a profile is checked
against the runtimes it claims (`stagent.profiles.support`): a field that would have no effect on
one of them is refused, never silently ignored.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

from pydantic import ValidationError as PydanticValidationError
from pydantic.alias_generators import to_camel

from stagent.domain.errors import Problem, ValidationError
from stagent.domain.permissions import PermissionRule
from stagent.domain.workflow_hints import FieldHint, Vocabulary, field_hints
from stagent.profiles._yaml import LocatedText, Path_
from stagent.profiles.models import Profile, ProfileSpec, Scope, SkillDoc
from stagent.profiles.spelling import Spelling
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


WORDS = Vocabulary(
    ProfileSpec,
    {
        "id": "id: code-reviewer",
        "name": "name: Code reviewer",
        "version": "version: 1.0.0",
        "domain": "domain: work",
        "tags": "tags: [review]",
        "supportedRuntimes": "supportedRuntimes: [claude, codex]",
        "model": "model: sonnet",
        "allowedTools": "allowedTools: [Read, Grep]",
        "maxTurns": "maxTurns: 20",
        "maxBudgetUsd": "maxBudgetUsd: 2.5",
        "mcpServers": "mcpServers: {docs: {command: docs-mcp}}",
        "task": "task: Review this diff",
        "expectedKeywords": "expectedKeywords: [bug]",
        "autoApprove": "autoApprove: [Read]",
    },
    "the profile",
    {"tests": "every smoke test", "runtimeOverrides": "every runtime override"},
    by_alias=True,
)
"""What a ``profile.yaml``'s field problems say (`stagent.domain.workflow_hints`)."""

SKILL_WORDS = Vocabulary(
    SkillDoc,
    {"name": "name: code-reviewer", "description": "description: Reviews a diff for bugs"},
    "the front matter",
    {},
)
"""What ``SKILL.md`` front matter's field problems say."""


def is_profile_dir(path: Path) -> bool:
    """True if ``path`` holds a ``profile.yaml`` (a plain Claude Code skill does not)."""
    return (path / PROFILE_FILE).is_file()


def load_profile(folder: Path, scope: Scope) -> Profile:
    """Load and validate the profile in ``folder``: an error lists every problem of its two
    files at once, each with its file, line, field and fix (a file missing or not valid YAML
    is one problem and hides none of the other file's)."""
    skill_file, spec_file = folder / SKILL_FILE, folder / PROFILE_FILE
    return _validated(
        _read(skill_file),
        _read(spec_file),
        folder=folder.name,
        scope=scope,
        path=str(folder.resolve()),
    )


def parse_profile_text(
    spec_text: str, skill_text: str, *, folder: str, scope: Scope = "user"
) -> Profile:
    """Validate a profile given as text (the web editor); errors name the two file names."""
    return _validated(
        (f"{folder}/{SKILL_FILE}", skill_text),
        (f"{folder}/{PROFILE_FILE}", spec_text),
        folder=None,
        scope=scope,
        path=folder,
    )


FileText = tuple[str, str] | Problem
"""A file's name and text, or why it could not be read."""


def _validated(
    skill_file: FileText,
    spec_file: FileText,
    *,
    folder: str | None,
    scope: Scope,
    path: str,
) -> Profile:
    """The profile of the two files, or one error with every problem of both (``folder``: the
    name the id must match)."""
    if isinstance(skill_file, Problem):
        skill, body, problems = None, "", [skill_file]
    else:
        skill, body, problems = _skill_problems(skill_file[1], skill_file[0])
    spec: ProfileSpec | None = None
    if isinstance(spec_file, Problem):
        problems.append(spec_file)
    else:
        spec, found = _spec(LocatedText(*spec_file), skill, body, folder, scope, path)
        problems += found
    if problems or spec is None or skill is None:
        raise ValidationError.listing(problems)
    return Profile(spec=spec, skill=skill, instructions=body, scope=scope, path=path)


def _spec(
    located: LocatedText,
    skill: SkillDoc | None,
    body: str,
    folder: str | None,
    scope: Scope,
    path: str,
) -> tuple[ProfileSpec | None, list[Problem]]:
    """``profile.yaml``'s spec (None if it fails) and every problem of it, each cited in the
    file's own spelling of its fields (`Spelling`)."""
    raw, syntax = located.parse("profile", SPEC_HINT, quoted='name: "Review: the diff"')
    if syntax is not None:
        return None, [syntax]
    if not isinstance(raw, dict):
        found = FieldHint([], "must be a mapping of profile fields", SPEC_HINT)
        return None, [located.place(found, "profile", at_key=True)]
    data = cast(dict[str, Any], raw)
    spelling = Spelling.of(data)
    hints = _id_problems(data, folder)
    spec: ProfileSpec | None = None
    checkable: ProfileSpec | None = None
    try:
        spec = checkable = ProfileSpec.model_validate(data)
    except PydanticValidationError as exc:
        hints += field_hints(exc, data, WORDS)
        checkable = _without_failed(data, exc)
    if checkable is not None:
        checked = Profile.model_construct(
            spec=checkable, skill=skill, instructions=body, scope=scope, path=path
        )
        hints += _spec_problems(checked, data)
    placed = [located.place(spelling.hint(h, data), "profile", at_key=True) for h in hints]
    return spec, placed


_DECIDES_RUNTIMES = frozenset({"supportedRuntimes", "runtimeOverrides"})


def _without_failed(data: dict[str, Any], exc: PydanticValidationError) -> ProfileSpec | None:
    """The spec without its fields that failed (a part itself invalid is unknown, so it is not
    checked again), for the runtime checks to come with the field problems; None when the
    fields that decide the runtimes failed (every runtime problem would be a guess)."""
    failed = {to_camel(str(e["loc"][0])) for e in exc.errors() if e["loc"]}
    if failed & _DECIDES_RUNTIMES:
        return None
    kept = {k: v for k, v in data.items() if to_camel(str(k)) not in failed}
    kept.setdefault("id", "unknown")
    kept.setdefault("name", "unknown")
    try:
        return ProfileSpec.model_validate(kept)
    except PydanticValidationError:
        return None


def _id_problems(data: dict[str, Any], folder: str | None) -> list[FieldHint]:
    """The id against the folder's name (read from the raw data: it comes with the field
    problems)."""
    given = data.get("id")
    if folder is None or not isinstance(given, str) or given == folder:
        return []
    return [
        FieldHint(
            ["id"],
            f"{given!r} does not match its folder name {folder!r}",
            f"set id: {folder}, or rename the folder to {given} "
            "(Claude Code finds a skill by its folder name)",
        )
    ]


def _spec_problems(profile: Profile, data: dict[str, Any]) -> list[FieldHint]:
    """What is wrong with a schema-valid spec: fields that would have no effect on a runtime
    it claims, and what a project profile may not do."""
    found = runtime_field_problems(profile, data)
    if profile.scope == "project":
        found += project_trust_problems(profile, data)
    return found


def project_trust_problems(profile: Profile, data: dict[str, Any]) -> list[FieldHint]:
    """A project's ``.claude/skills`` comes with the repository, not from the person: its
    profiles may restrict and instruct, but not approve tool calls or start MCP servers."""
    found: list[FieldHint] = []
    for runtime in profile.runtimes:
        opts = profile.options(runtime)
        if opts.auto_approve:
            found.append(
                FieldHint(
                    _where(profile, runtime, "canUseToolPolicy", data),
                    "approves tool calls, which a project profile may not do "
                    "(it arrives with the repository, not from you)",
                    "import it into your user profiles to trust it, or use permission rules",
                )
            )
        if opts.mcp_servers:
            found.append(
                FieldHint(
                    _where(profile, runtime, "mcpServers", data),
                    "starts MCP servers, which a project profile may not do "
                    "(it arrives with the repository, not from you)",
                    "import it into your user profiles to trust it",
                )
            )
    return _once(found)


def load_skill(path: Path) -> tuple[SkillDoc, str]:
    """Read ``SKILL.md``: its front matter and its body (the instructions)."""
    read = _read(path)
    if isinstance(read, Problem):
        raise ValidationError.listing([read])
    return parse_skill(read[1], read[0])


def parse_skill(text: str, source: str) -> tuple[SkillDoc, str]:
    """Split and validate ``SKILL.md`` text; an error lists every problem."""
    skill, body, problems = _skill_problems(text, source)
    if problems or skill is None:
        raise ValidationError.listing(problems)
    return skill, body


def _skill_problems(text: str, source: str) -> tuple[SkillDoc | None, str, list[Problem]]:
    """``SKILL.md``'s front matter, body and problems (a file cut wrong is one problem)."""
    lines = text.splitlines()
    if not lines or lines[0].strip() != "---":
        return None, "", [Problem("front matter", "is missing", SKILL_HINT, source, 1)]
    end = next((i for i in range(1, len(lines)) if lines[i].strip() == "---"), None)
    if end is None:
        cut = Problem("front matter", "has no closing '---'", SKILL_HINT, source, 1)
        return None, "", [cut]
    located = LocatedText(source, "\n".join(lines[1:end]), offset=1)
    skill, problems = _front_matter(located)
    body = "\n".join(lines[end + 1 :]).strip()
    if not body:
        problems.append(
            Problem(
                "instructions",
                "are empty (the body after the front matter)",
                "write what the agent should do, how, and what it must not do",
                source,
                end + 2,
            )
        )
    return skill, body, problems


def _front_matter(located: LocatedText) -> tuple[SkillDoc | None, list[Problem]]:
    """The front matter's fields (None if they fail) and its problems."""
    raw, syntax = located.parse("front matter", SKILL_HINT, quoted='description: "Fix: a bug"')
    if syntax is not None:
        return None, [syntax]
    if not isinstance(raw, dict):
        found = FieldHint([], "front matter must be a mapping (name, description)", SKILL_HINT)
        return None, [located.place(found, "front matter")]
    data = cast(dict[str, Any], raw)
    try:
        return SkillDoc.model_validate(data), []
    except PydanticValidationError as exc:
        found = field_hints(exc, data, SKILL_WORDS)
        return None, [located.place(h, "front matter", at_key=True) for h in found]


def _read(path: Path) -> FileText:
    """The file's name and text, or the problem that it is missing or unreadable."""
    try:
        return str(path), path.read_text(encoding="utf-8")
    except FileNotFoundError:
        hint = f"a profile folder holds {SKILL_FILE} and {PROFILE_FILE}"
        return Problem(path.name, "is missing", hint, str(path))
    except (OSError, UnicodeDecodeError) as exc:
        return Problem(path.name, f"cannot be read ({exc})", "save it as UTF-8 text", str(path))


def _key(data: dict[str, Any], camel: str) -> str:
    snake = "".join(f"_{c.lower()}" if c.isupper() else c for c in camel)
    return snake if snake in data and camel not in data else camel


def runtime_field_problems(profile: Profile, data: dict[str, Any]) -> list[FieldHint]:
    """Every field that would have no effect on a runtime the profile claims."""
    spec = profile.spec
    overrides_key = _key(data, "runtimeOverrides")
    found: list[FieldHint] = []
    for runtime in spec.runtime_overrides:
        if runtime not in profile.runtimes:
            found.append(
                FieldHint(
                    [overrides_key, runtime],
                    f"overrides {runtime}, which supportedRuntimes does not claim",
                    f"add {runtime} to supportedRuntimes or remove the override",
                )
            )
    for runtime in profile.runtimes:
        found += _runtime_problems(profile, runtime, data)
    return _once(found)


def _once(found: list[FieldHint]) -> list[FieldHint]:
    """``found`` without repeats (a field of the profile's own fails on each runtime alike)."""
    seen: set[tuple[tuple[str | int, ...], str]] = set()
    out: list[FieldHint] = []
    for hint in found:
        key = (tuple(hint.path), hint.message)
        if key not in seen:
            seen.add(key)
            out.append(hint)
    return out


def _where(profile: Profile, runtime: str, field: str, data: dict[str, Any]) -> Path_:
    override = profile.spec.runtime_overrides.get(runtime)
    snake = "".join(f"_{c.lower()}" if c.isupper() else c for c in field)
    if override is not None and getattr(override, snake, None) is not None:
        raw = cast(dict[str, Any], data.get(_key(data, "runtimeOverrides")) or {})
        key = next((str(k) for k in raw if runtime_name(str(k)) == runtime), runtime)
        return [_key(data, "runtimeOverrides"), key, field]
    return [_key(data, field)]


def _runtime_problems(
    profile: Profile, runtime: RuntimeName, data: dict[str, Any]
) -> list[FieldHint]:
    opts = profile.options(runtime)
    found: list[FieldHint] = []
    present = {
        "allowedTools": bool(opts.allowed_tools),
        "canUseToolPolicy": bool(opts.auto_approve or opts.auto_deny),
        "maxTurns": opts.max_turns is not None,
        "maxBudgetUsd": opts.max_budget_usd is not None,
        "mcpServers": bool(opts.mcp_servers),
    }
    for field, is_set in present.items():
        if is_set and runtime not in FIELD_SUPPORT[field]:
            found.append(
                FieldHint(
                    _where(profile, runtime, field, data),
                    f"has no effect on {runtime}: {WHY_NOT[field]}",
                    _support_hint(field, runtime),
                )
            )
    if opts.model and not model_fits(opts.model, runtime):
        found.append(
            FieldHint(
                _where(profile, runtime, "model", data),
                f"{opts.model!r} is not a {runtime} model",
                f"set the model per runtime under runtimeOverrides.{runtime}.model",
            )
        )
    if opts.allowed_tools is not None:
        for entry in opts.auto_approve:
            tool = PermissionRule.from_text(entry).tool
            if tool != ASK_USER_QUESTION and tool not in opts.allowed_tools:
                found.append(
                    FieldHint(
                        _where(profile, runtime, "canUseToolPolicy", data),
                        f"approves {entry!r}, but allowedTools does not include {tool}",
                        f"add {tool} to allowedTools or remove the entry",
                    )
                )
    return found


def _support_hint(field: str, runtime: str) -> str:
    where = ", ".join(sorted(FIELD_SUPPORT[field]))
    hint = f"set {field} under runtimeOverrides of the runtimes that honour it ({where})"
    if field in ("allowedTools", "canUseToolPolicy"):
        empty = "[]" if field == "allowedTools" else "{}"
        hint += f", or override it on {runtime} with {empty}"
    return hint + f", or drop {runtime} from supportedRuntimes"
