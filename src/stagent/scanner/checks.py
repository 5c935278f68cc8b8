"""Findings that need more than one file: shadowing, drift, PATH, hook scripts, doc budgets."""

from __future__ import annotations

import functools
import os
import shlex
import shutil
from collections import defaultdict
from collections.abc import Callable

from stagent.scanner.codex_config import DEFAULT_PROJECT_DOC_MAX_BYTES
from stagent.scanner.findings import finding
from stagent.scanner.report import Artifact, Finding
from stagent.scanner.walk import Project

INTERPRETERS = frozenset(
    {
        "bash",
        "sh",
        "zsh",
        "fish",
        "python",
        "python3",
        "node",
        "deno",
        "bun",
        "ruby",
        "perl",
        "pwsh",
        "uv",
        "uvx",
        "npx",
        "tsx",
        "ts-node",
    }
)


def merge_shared_skills(artifacts: list[Artifact]) -> tuple[list[Artifact], list[Finding]]:
    """A skill both tools have at the same scope becomes one ``shared`` artifact.

    Its ``drift`` is set (and a finding made) when the two SKILL.md files differ.
    """
    claude: dict[tuple[str, str | None, str], int] = {}
    for index, a in enumerate(artifacts):
        if a.category == "skill" and a.tool == "claude-code" and a.scope != "plugin":
            claude.setdefault((a.scope, a.project, a.name), index)
    if not claude:
        return artifacts, []
    out = list(artifacts)
    drop: set[int] = set()
    found: list[Finding] = []
    for index, a in enumerate(artifacts):
        if a.category != "skill" or a.tool != "codex":
            continue
        twin = claude.get((a.scope, a.project, a.name))
        if twin is None:
            continue
        first = out[twin]
        drift = first.content_hash != a.content_hash
        out[twin] = first.model_copy(
            update={"tool": "shared", "shared_with": [*first.shared_with, a.path], "drift": drift}
        )
        drop.add(index)
        if drift:
            found.append(
                finding(
                    "skill-drift",
                    "warning",
                    a.path,
                    None,
                    f"skill {a.name!r} differs between Claude Code ({first.path}) and Codex",
                    "Copy the version you keep over the other so both tools behave the same",
                    tool="shared",
                    project=a.project,
                )
            )
    return [a for i, a in enumerate(out) if i not in drop], found


Rank = Callable[[Artifact], tuple[int, ...]]
_SCOPE = {"managed": -1, "user": 0, "project": 1, "local": 1, "plugin": 2}
_RANKS: dict[tuple[str, str], Rank] = {
    ("claude", "invocable"): lambda a: (0 if a.category == "skill" else 1, _SCOPE[a.scope]),
    ("claude", "subagent"): lambda a: (
        {"managed": -1, "project": 0, "local": 0, "user": 1}.get(a.scope, 2),
    ),
    ("claude", "mcp-server"): lambda a: ({"local": 0, "project": 1, "user": 2}.get(a.scope, 3),),
    ("codex", "skill"): lambda a: ({"project": 0, "user": 1, "managed": 2}.get(a.scope, 3),),
    ("codex", "mcp-server"): lambda a: ({"project": 0, "user": 1}.get(a.scope, 2),),
    ("codex", "subagent"): lambda a: ({"project": 0, "user": 1}.get(a.scope, 2),),
}


_GROUPS: dict[tuple[str, str], tuple[tuple[str, str], ...]] = {}


def _groups(tool: str, category: str) -> tuple[tuple[str, str], ...]:
    """The shadowing groups an artifact of ``tool`` and ``category`` is in (memoised)."""
    known = _GROUPS.get((tool, category))
    if known is not None:
        return known
    families = (
        ("claude", "codex")
        if tool == "shared"
        else (("codex",) if tool == "codex" else ("claude",))
    )
    out: list[tuple[str, str]] = []
    for family in families:
        invocable = family == "claude" and category in ("skill", "command")
        group = (family, "invocable" if invocable else category)
        if group in _RANKS:
            out.append(group)
    _GROUPS[(tool, category)] = found = tuple(out)
    return found


Grouped = dict[tuple[str, str, str], list[Artifact]]


def _grouped(artifacts: list[Artifact]) -> Grouped:
    groups: Grouped = defaultdict(list)
    for a in artifacts:
        for family, kind in _groups(a.tool, a.category):
            groups[(family, kind, a.name)].append(a)
    return groups


def duplicates(artifacts: list[Artifact], projects: list[Project]) -> list[Finding]:
    """Names that shadow each other where one tool sees both (user level plus each project).

    The user level is grouped once; each project adds its own groups to it.
    """
    user: list[Artifact] = []
    by_project: dict[str, list[Artifact]] = defaultdict(list)
    for a in artifacts:
        if a.project is None:
            user.append(a)
        else:
            by_project[a.project].append(a)
    found: dict[tuple[str, str, str], Finding] = {}
    user_groups = _grouped(user)
    for key, members in user_groups.items():
        _check(found, key, members)
    for p in projects:  # in the order of one pass over user + project artifacts
        own = _grouped(by_project[p.root])
        for key, members in user_groups.items():
            mine = own.get(key)
            if mine:
                _check(found, key, [*members, *mine])
        for key, mine in own.items():
            if key not in user_groups:
                _check(found, key, mine)
    return list(found.values())


def _check(
    found: dict[tuple[str, str, str], Finding],
    key: tuple[str, str, str],
    members: list[Artifact],
) -> None:
    if len(members) > 1 and len({m.path for m in members}) > 1:
        family, kind, name = key
        _shadowed(found, _RANKS[(family, kind)], name, members)


def _shadowed(
    found: dict[tuple[str, str, str], Finding], rank: Rank, name: str, members: list[Artifact]
) -> None:
    ordered = sorted(members, key=lambda a: (rank(a), a.path))
    winner = ordered[0]
    for loser in ordered[1:]:
        if loser.path == winner.path:
            continue
        key = (loser.path, name, winner.path)
        if key in found:
            continue
        found[key] = finding(
            "duplicate-name",
            "warning",
            loser.path,
            loser.line,
            f"{loser.category} {name!r} ({loser.scope}) is shadowed by the {winner.category} "
            f"of the same name at {winner.path} ({winner.scope})",
            "Rename one of them, or delete the one you no longer use",
            tool=loser.tool,
            project=loser.project,
        )


class PathLookup:
    """``shutil.which`` with memory: a found command is re-checked with one stat per scan."""

    def __init__(self) -> None:
        self._found: dict[tuple[str, str], str] = {}
        self._answers: dict[tuple[str, str], bool] = {}

    def begin(self) -> None:
        """A new scan: each command is looked up (or re-checked) once in it."""
        self._answers = {}

    def exists(self, command: str) -> bool:
        """True if ``command`` is on the current PATH."""
        path_env = os.environ.get("PATH", "")
        key = (path_env, command)
        answer = self._answers.get(key)
        if answer is None:
            answer = self._answers[key] = self._lookup(key)
        return answer

    def _lookup(self, key: tuple[str, str]) -> bool:
        path_env, command = key
        hit = self._found.get(key)
        if hit is not None and os.access(hit, os.X_OK):
            return True
        found = shutil.which(command, path=path_env)
        if found:
            self._found[key] = found
        return found is not None


def mcp_commands(artifacts: list[Artifact], lookup: PathLookup, home: str) -> list[Finding]:
    """Stdio MCP servers whose command is neither on PATH nor an existing file."""
    out: list[Finding] = []
    for a in artifacts:
        if a.category != "mcp-server" or a.metadata.get("url"):
            continue
        command = a.metadata.get("command")
        if not isinstance(command, str) or not command.strip() or "$" in command:
            continue
        if os.sep in command or command.startswith("~"):
            target = os.path.join(a.project or home, os.path.expanduser(command))
            ok = os.path.exists(target)
        else:
            ok = lookup.exists(command)
        if not ok:
            out.append(
                finding(
                    "mcp-command-missing",
                    "error",
                    a.path,
                    a.line,
                    f"MCP server {a.name!r}: command {command!r} is not on PATH, so the server "
                    "fails to start",
                    f"Install {command!r} (or put it on PATH), or set the full path to it",
                    tool=a.tool,
                    project=a.project,
                )
            )
    return out


def hook_scripts(artifacts: list[Artifact], home: str) -> list[Finding]:
    """Command hooks whose script path does not exist."""
    out: list[Finding] = []
    for a in artifacts:
        if a.category != "hook" or a.metadata.get("type") != "command":
            continue
        script = _script_of(a, home)
        if script is not None and not os.path.exists(script):
            out.append(
                finding(
                    "hook-script-missing",
                    "error",
                    a.path,
                    a.line,
                    f"hook {a.name!r} runs {script}, which does not exist: it fails every time",
                    "Create the script or fix the path (for project scripts use "
                    '"$CLAUDE_PROJECT_DIR"/.claude/hooks/<script>)',
                    tool=a.tool,
                    project=a.project,
                )
            )
    return out


def _script_of(a: Artifact, home: str) -> str | None:
    command = a.metadata.get("command")
    if not isinstance(command, str) or "[redacted]" in command:
        return None
    return script_path(command, a.project or "", str(a.metadata.get("plugin_root") or ""), home)


@functools.lru_cache(maxsize=4096)
def script_path(command: str, project: str, plugin: str, home: str) -> str | None:
    """The script a hook command runs, when it names one by path (None: a plain command)."""
    expanded = command
    for var, value in (("CLAUDE_PROJECT_DIR", project), ("CLAUDE_PLUGIN_ROOT", plugin)):
        if value:
            expanded = expanded.replace("${" + var + "}", value).replace("$" + var, value)
    try:
        tokens = shlex.split(expanded)
    except ValueError:
        return None
    while tokens and "=" in tokens[0] and not tokens[0].startswith(("/", ".")):
        tokens = tokens[1:]  # VAR=value prefixes
    if not tokens:
        return None
    candidate = tokens[0]
    if os.path.basename(candidate) in INTERPRETERS:
        rest = [t for t in tokens[1:] if not t.startswith("-") and t != "run"]
        if not rest:
            return None
        candidate = rest[0]
    if "$" in candidate or "/" not in candidate:
        return None
    candidate = os.path.expanduser(
        candidate.replace("~", home, 1) if candidate[0] == "~" else candidate
    )
    if not os.path.isabs(candidate):
        if not project:
            return None
        candidate = os.path.join(project, candidate)
    return candidate


def codex_doc_budget(artifacts: list[Artifact], user_limit: int | None) -> list[Finding]:
    """AGENTS.md chains longer than ``project_doc_max_bytes``: Codex cuts off the rest."""
    by_project: dict[str, list[Artifact]] = defaultdict(list)
    limits: dict[str, int] = {}
    for a in artifacts:
        if a.project is None or a.tool != "codex":
            continue
        if a.category == "instruction":
            by_project[a.project].append(a)
        elif a.category == "config" and isinstance(a.metadata.get("project_doc_max_bytes"), int):
            limits[a.project] = a.metadata["project_doc_max_bytes"]
    out: list[Finding] = []
    for project, docs in by_project.items():
        limit = limits.get(project) or user_limit or DEFAULT_PROJECT_DOC_MAX_BYTES
        dirs = {os.path.dirname(d.path): d for d in docs}
        for folder, doc in dirs.items():
            chain = [d for f, d in dirs.items() if folder == f or folder.startswith(f + os.sep)]
            total = sum(d.size for d in chain)
            if total > limit:
                out.append(
                    finding(
                        "instruction-too-large",
                        "warning",
                        doc.path,
                        None,
                        f"Codex reads at most {limit:,} bytes of project docs; the AGENTS.md chain "
                        f"to here is {total:,} bytes, so the rest is cut off",
                        "Trim the files, move detail into skills, or raise project_doc_max_bytes "
                        "in config.toml",
                        tool="codex",
                        project=project,
                    )
                )
    return out


def missing_instructions(artifacts: list[Artifact], projects: list[Project]) -> list[Finding]:
    """Projects with no instruction file for either tool."""
    have = {a.project for a in artifacts if a.category == "instruction"}
    return [
        finding(
            "no-instructions",
            "info",
            p.root,
            None,
            f"project {p.name!r} has no CLAUDE.md or AGENTS.md: agents start without context",
            "Add AGENTS.md at the project root for Codex and a CLAUDE.md containing @AGENTS.md "
            "for Claude Code",
            project=p.root,
        )
        for p in projects
        if p.root not in have
    ]
