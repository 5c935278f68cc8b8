"""Rule matching against a table of examples taken from Claude Code's documented rule forms.

Each row: the rule, its effect, the tool call, and whether the rule alone matches it. The
context: project root and cwd ``/work/proj`` (``SUB``: cwd ``/work/proj/sub``), home ``/home/u``.
"""

from __future__ import annotations

from typing import Any

import pytest

from stagent.domain.errors import ValidationError
from stagent.domain.permissions import Effect, MatchContext, PermissionRule, ToolCall

CTX = MatchContext(cwd="/work/proj", home="/home/u", project_root="/work/proj")
SUB = MatchContext(cwd="/work/proj/sub", home="/home/u", project_root="/work/proj")

Row = tuple[str, Effect, str, dict[str, Any], bool]


def bash(command: str | list[str], **extra: Any) -> dict[str, Any]:
    return {"command": command, **extra}


def path(p: str) -> dict[str, Any]:
    return {"file_path": p}


def codex_change(*paths: str) -> dict[str, Any]:
    """How the Codex adapter maps a file change: the first path, and every change."""
    changes = [{"path": p, "kind": "update", "diff": ""} for p in paths]
    return {"file_path": paths[0], "changes": changes}


def url(u: str) -> dict[str, Any]:
    return {"url": u}


BASH_ROWS: list[Row] = [
    # `*` anywhere; a trailing ` *` keeps a word boundary and may match nothing.
    ("Bash(npm run test *)", "allow", "Bash", bash("npm run test"), True),
    ("Bash(npm run test *)", "allow", "Bash", bash("npm run test --watch"), True),
    ("Bash(npm run test *)", "allow", "Bash", bash("npm run testing"), False),
    ("Bash(npm run test *)", "allow", "Bash", bash("npm run build"), False),
    ("Bash(* --version)", "allow", "Bash", bash("node --version"), True),
    ("Bash(* --version)", "allow", "Bash", bash("python3 --version"), True),
    ("Bash(* --version)", "allow", "Bash", bash("node -v"), False),
    ("Bash(git * main)", "allow", "Bash", bash("git checkout main"), True),
    ("Bash(git * main)", "allow", "Bash", bash("git push origin main"), True),
    ("Bash(git * main)", "allow", "Bash", bash("git push origin dev"), False),
    ("Bash(git * main)", "allow", "Bash", bash("git main"), False),
    ("Bash(ls *)", "allow", "Bash", bash("ls -la"), True),
    ("Bash(ls *)", "allow", "Bash", bash("ls"), True),
    ("Bash(ls *)", "allow", "Bash", bash("lsof"), False),
    ("Bash(ls *)", "allow", "Bash", bash("lsof -i :8080"), False),
    # Legacy trailing `:*` equals ` *`.
    ("Bash(npm run test:*)", "allow", "Bash", bash("npm run test"), True),
    ("Bash(npm run test:*)", "allow", "Bash", bash("npm run test -- --watch"), True),
    ("Bash(npm run test:*)", "allow", "Bash", bash("npm run test:unit"), False),
    ("Bash(npm:*)", "deny", "Bash", bash("npm install"), True),
    ("Bash(npm:*)", "deny", "Bash", bash("npx foo"), False),
    # Exact commands; runs of blanks are one blank.
    ("Bash(npm run build)", "allow", "Bash", bash("npm run build"), True),
    ("Bash(npm run build)", "allow", "Bash", bash("npm  run   build"), True),
    ("Bash(npm run build)", "allow", "Bash", bash("npm run build --prod"), False),
    # `Bash` and `Bash(*)` match every command.
    ("Bash", "allow", "Bash", bash("rm -rf / && curl x | sh"), True),
    ("Bash(*)", "allow", "Bash", bash("anything at all"), True),
    ("Bash", "allow", "Read", path("a"), False),
    # Compound commands: an allow rule must match every part...
    ("Bash(ls *)", "allow", "Bash", bash("ls && rm -rf /"), False),
    ("Bash(ls *)", "allow", "Bash", bash("ls -la; ls /tmp"), True),
    ("Bash(ls *)", "allow", "Bash", bash("ls | grep x"), False),
    ("Bash(echo *)", "allow", "Bash", bash("echo $(rm -rf x)"), False),
    ("Bash(echo *)", "allow", "Bash", bash("echo 'a && rm -rf x'"), True),
    # ...a deny rule matches if any part does: &&, ||, ;, |, |&, &, newline, substitutions.
    ("Bash(rm *)", "deny", "Bash", bash("ls && rm -rf /"), True),
    ("Bash(rm *)", "deny", "Bash", bash("ls || rm x"), True),
    ("Bash(rm *)", "deny", "Bash", bash("ls; rm x"), True),
    ("Bash(rm *)", "deny", "Bash", bash("ls | rm x"), True),
    ("Bash(rm *)", "deny", "Bash", bash("ls |& rm x"), True),
    ("Bash(rm *)", "deny", "Bash", bash("sleep 1 & rm x"), True),
    ("Bash(rm *)", "deny", "Bash", bash("ls\nrm x"), True),
    ("Bash(rm *)", "deny", "Bash", bash("echo $(rm x)"), True),
    ("Bash(rm *)", "deny", "Bash", bash("echo `rm x`"), True),
    ("Bash(rm *)", "deny", "Bash", bash("(cd /tmp && rm x)"), True),
    ("Bash(rm *)", "deny", "Bash", bash("if true; then rm x; fi"), True),
    ("Bash(rm *)", "deny", "Bash", bash("echo 'rm x' \"; rm y\""), False),
    ("Bash(rm *)", "deny", "Bash", bash("ls # && rm x"), False),
    ("Bash(rm *)", "deny", "Bash", bash("cat <<EOF\nrm x\nEOF"), False),
    ("Bash(rm *)", "ask", "Bash", bash("ls 2>&1 && rm x"), True),
    # Wrappers are stripped before matching.
    ("Bash(npm test *)", "allow", "Bash", bash("timeout 30 npm test"), True),
    ("Bash(npm test *)", "allow", "Bash", bash("timeout -s KILL 5m npm test"), True),
    ("Bash(npm test *)", "allow", "Bash", bash("time npm test"), True),
    ("Bash(npm test *)", "allow", "Bash", bash("nice -n 10 npm test"), True),
    ("Bash(npm test *)", "allow", "Bash", bash("nohup npm test"), True),
    ("Bash(npm test *)", "allow", "Bash", bash("stdbuf -oL npm test"), True),
    ("Bash(npm test *)", "allow", "Bash", bash("command npm test"), True),
    ("Bash(npm test *)", "allow", "Bash", bash("builtin npm test"), True),
    ("Bash(npm test *)", "allow", "Bash", bash("noglob npm test"), True),
    ("Bash(npm test *)", "allow", "Bash", bash("xargs npm test"), True),
    ("Bash(npm test *)", "allow", "Bash", bash("xargs -0 npm test"), False),
    ("Bash(npm test *)", "allow", "Bash", bash("NODE_ENV=test CI=1 npm test"), True),
    ("Bash(npm test *)", "allow", "Bash", bash("LD_PRELOAD=evil.so npm test"), False),
    ("Bash(npm test *)", "allow", "Bash", bash("NODE_OPTIONS=--require=x npm test"), False),
    ("Bash(timeout *)", "allow", "Bash", bash("timeout 5 rm -rf x"), False),
    ("Bash(rm *)", "deny", "Bash", bash("timeout 5 rm -rf x"), True),
    ("Bash(rm *)", "deny", "Bash", bash("nice nohup rm -rf x"), True),
    ("Bash(rm *)", "deny", "Bash", bash("LD_PRELOAD=x.so rm y"), True),
    ("Bash(rm *)", "deny", "Bash", bash("sudo -u root rm -rf /"), True),
    ("Bash(rm *)", "deny", "Bash", bash("env FOO=1 rm x"), True),
    ("Bash(rm *)", "deny", "Bash", bash("/bin/rm -rf x"), True),
    ("Bash(rm *)", "deny", "Bash", bash("bash -c 'ls && rm -rf x'"), True),
    ("Bash(bash *)", "deny", "Bash", bash("bash -c 'ls'"), True),
    ("Bash(nohup *)", "deny", "Bash", bash("nohup ls"), True),
    # Codex commands may arrive as argv lists, often wrapped in `bash -lc`.
    ("Bash(git status *)", "allow", "Bash", bash(["git", "status", "--short"]), True),
    ("Bash(git status *)", "allow", "Bash", bash(["bash", "-lc", "git status"]), True),
    ("Bash(git status *)", "allow", "Bash", bash(["bash", "-lc", "git status; rm x"]), False),
    # Output redirections into files are never covered by a command allow rule.
    ("Bash(cat *)", "allow", "Bash", bash("cat a.txt"), True),
    ("Bash(cat *)", "allow", "Bash", bash("cat a.txt > b.txt"), False),
    ("Bash(cat *)", "allow", "Bash", bash("cat a.txt >> ~/.bashrc"), False),
    ("Bash(cat *)", "allow", "Bash", bash("cat a.txt 2>&1"), True),
    ("Bash(cat *)", "allow", "Bash", bash("cat a.txt 2>/dev/null"), True),
    ("Bash(echo * > out.txt)", "allow", "Bash", bash("echo hi > out.txt"), True),
    # Attempts to smuggle a command past the splitter.
    ("Bash(cat *)", "allow", "Bash", bash("cat <<EOF\n$(rm -rf x)\nEOF"), False),
    ("Bash(cat *)", "allow", "Bash", bash("cat <<'EOF'\n$(rm -rf x)\nEOF"), True),
    ("Bash(rm *)", "deny", "Bash", bash("cat <<EOF\n`rm -rf x`\nEOF"), True),
    ("Bash(echo *)", "allow", "Bash", bash("echo $'\\'' ; rm x #'"), False),
    ("Bash(echo *)", "allow", "Bash", bash("echo $'a\\tb'"), True),
    ("Bash(echo *)", "allow", "Bash", bash("echo $(( $(rm x) + 1 ))"), False),
    ("Bash(echo *)", "allow", "Bash", bash("echo $((1 + 2))"), True),
    ("Bash(echo *)", "allow", "Bash", bash('echo "${X:-$(rm x)}"'), False),
    ("Bash(echo *)", "allow", "Bash", bash("echo a\\; rm x"), True),  # an escaped ;
    ("Bash(ls *)", "allow", "Bash", bash("ls; f() { rm x; }; f"), False),
    ("Bash(ls *)", "allow", "Bash", bash("sudo bash -c 'ls'"), False),
    ("Bash(ls *)", "allow", "Bash", bash("timeout 5 bash -c 'ls -la'"), True),
    ("Bash(rm *)", "deny", "Bash", bash("timeout 5 bash -c 'rm -rf x'"), True),
    ("Bash(rm *)", "deny", "Bash", bash("sudo bash -c 'rm -rf x'"), True),
    ("Bash(rm *)", "deny", "Bash", bash("\\rm -rf x"), True),
    ("Bash(rm *)", "deny", "Bash", bash("'rm' -rf x"), True),
    ("Bash(rm *)", "deny", "Bash", bash('r"m" -rf x'), True),
    ("Bash(rm *)", "deny", "Bash", bash("xargs rm < list.txt"), True),
    # Input-parameter rules (deny/ask).
    (
        "Bash(run_in_background:true)",
        "deny",
        "Bash",
        bash("sleep 9", run_in_background=1 == 1),
        True,
    ),
    (
        "Bash(run_in_background:true)",
        "deny",
        "Bash",
        bash("sleep 9", run_in_background=False),
        False,
    ),
    ("Bash(run_in_background:true)", "deny", "Bash", bash("sleep 9"), False),
]

PATH_ROWS: list[Row] = [
    # `./path`: relative to the cwd, anchored there.
    ("Read(./.env)", "deny", "Read", path(".env"), True),
    ("Read(./.env)", "deny", "Read", path("/work/proj/.env"), True),
    ("Read(./.env)", "deny", "Read", path("/work/proj/sub/.env"), False),
    ("Read(./.env)", "deny", "Read", path("/work/proj/.env.example"), False),
    # A Read deny also blocks Edit/Write (and the other edit tools) on that path.
    ("Read(./.env)", "deny", "Edit", path(".env"), True),
    ("Read(./.env)", "deny", "Write", path("/work/proj/.env"), True),
    ("Read(./.env)", "deny", "MultiEdit", path(".env"), True),
    ("Read(./.env)", "ask", "Write", path(".env"), True),
    ("Read(./.env)", "allow", "Write", path(".env"), False),
    ("Edit(./.env)", "deny", "Read", path(".env"), False),
    # A bare relative name matches at any depth below the cwd (gitignore).
    ("Read(.env)", "deny", "Read", path("/work/proj/sub/deep/.env"), True),
    ("Read(.env)", "deny", "Read", path("/elsewhere/.env"), False),
    ("Read(*.pem)", "deny", "Read", path("certs/prod/key.pem"), True),
    # `**` spans directories; a match on a directory covers what is inside (deny/ask).
    ("Read(./secrets/**)", "deny", "Read", path("secrets/api.key"), True),
    ("Read(./secrets/**)", "deny", "Read", path("secrets/a/b/c.txt"), True),
    ("Read(./secrets/**)", "deny", "Read", path("secretsX/a"), False),
    ("Read(./secrets/**)", "deny", "Grep", {"pattern": "x", "path": "secrets"}, True),
    ("Read(./secrets)", "deny", "Read", path("secrets/a.txt"), True),
    ("Read(./secrets)", "allow", "Read", path("secrets/a.txt"), False),
    ("Read(./secrets/)", "allow", "Read", path("secrets/a/b.txt"), True),
    ("Read(./src/**)", "allow", "Grep", {"pattern": "x", "path": "src"}, True),
    ("Read(./src/**)", "allow", "Glob", {"pattern": "*.py"}, False),
    ("Read(./src/**)", "allow", "Edit", path("src/a.py"), False),
    # `/path`: relative to the settings source (the project root), not the cwd.
    ("Edit(/src/**/*.ts)", "allow", "Edit", path("/work/proj/src/a.ts"), True),
    ("Edit(/src/**/*.ts)", "allow", "Edit", path("/work/proj/src/x/y/b.ts"), True),
    ("Edit(/src/**/*.ts)", "allow", "Edit", path("/work/proj/src/a.js"), False),
    ("Edit(/src/**/*.ts)", "allow", "Edit", path("/src/a.ts"), False),
    # Edit rules cover every edit tool.
    ("Edit(/src/**/*.ts)", "allow", "Write", path("/work/proj/src/new.ts"), True),
    ("Edit(/src/**/*.ts)", "allow", "MultiEdit", path("/work/proj/src/a.ts"), True),
    ("Edit(./nb/**)", "allow", "NotebookEdit", {"notebook_path": "nb/a.ipynb"}, True),
    ("Edit(./src/**)", "allow", "Edit", {"paths": ["src/a.py", "src/b.py"]}, True),
    ("Edit(./src/**)", "allow", "Edit", {"paths": ["src/a.py", "setup.py"]}, False),
    ("Edit(./src/**)", "deny", "Edit", {"paths": ["setup.py", "src/a.py"]}, True),
    # Codex file changes: every path in `changes` counts, not only `file_path`.
    ("Edit(./src/**)", "allow", "Edit", codex_change("src/a.py", "src/b.py"), True),
    ("Edit(./src/**)", "allow", "Edit", codex_change("src/a.py", "/etc/passwd"), False),
    ("Read(//etc/**)", "deny", "Write", codex_change("src/a.py", "/etc/cron.d/x"), True),
    ("Edit(./src/**)", "allow", "Edit", {"changes": {"src/a.py": {}, "b.py": {}}}, False),
    # `//path`: absolute.
    ("Read(//**/.env)", "deny", "Read", path("/etc/app/.env"), True),
    ("Read(//**/.env)", "deny", "Read", path("/work/proj/.env"), True),
    ("Read(//**/.env)", "deny", "Read", path("/work/proj/.env.local"), False),
    ("Read(//etc/**)", "deny", "Read", path("/etc/passwd"), True),
    # `~/path`: the home directory, for rules and inputs.
    ("Read(~/.zshrc)", "deny", "Read", path("/home/u/.zshrc"), True),
    ("Read(~/.zshrc)", "deny", "Read", path("~/.zshrc"), True),
    ("Read(~/.zshrc)", "deny", "Read", path("/work/proj/.zshrc"), False),
    ("Edit(~/notes/**)", "allow", "Write", path("~/notes/today.md"), True),
    # Inputs are normalized before matching.
    ("Read(./.env)", "deny", "Read", path("src/../.env"), True),
    ("Edit(./src/**)", "allow", "Edit", path("src/../../etc/passwd"), False),
    # Single-segment directory: allow only at the cwd; deny/ask at any depth.
    ("Edit(src/**)", "allow", "Edit", path("src/a.py"), True),
    ("Edit(src/**)", "allow", "Edit", path("pkg/src/a.py"), False),
    ("Edit(src/**)", "deny", "Edit", path("pkg/src/a.py"), True),
    ("Edit(src/**)", "ask", "Edit", path("a/b/src/c/d.py"), True),
    ("Edit(docs/api/**)", "deny", "Edit", path("docs/api/a.md"), True),
    ("Edit(docs/api/**)", "deny", "Edit", path("x/docs/api/a.md"), False),
    # Deny and ask rules ignore case (case-insensitive file systems); allow rules do not.
    ("Read(./.env)", "deny", "Read", path(".ENV"), True),
    ("Read(./.env)", "deny", "Read", path("/WORK/proj/.env"), True),
    ("Read(./.env)", "allow", "Read", path(".ENV"), False),
    # A file tool without a path is not matched by a path rule.
    ("Edit(./**)", "allow", "Edit", {}, False),
    # Bare file-tool rules: Read covers the reading tools; Edit covers the editing tools.
    ("Read", "allow", "Grep", {"pattern": "x"}, True),
    ("Read", "allow", "Edit", path("a"), False),
    ("Read", "deny", "Edit", path("a"), True),
    ("Edit", "allow", "Write", path("a"), True),
    ("Write", "allow", "Write", path("a"), True),
    ("Write", "allow", "Edit", path("a"), False),
]

SUB_ROWS: list[Row] = [
    ("Edit(/src/**)", "allow", "Edit", path("/work/proj/src/a.py"), True),
    ("Edit(/src/**)", "allow", "Edit", path("src/a.py"), False),
    ("Edit(./src/**)", "allow", "Edit", path("src/a.py"), True),
    ("Edit(./src/**)", "allow", "Edit", path("/work/proj/src/a.py"), False),
    ("Read(/.env)", "deny", "Read", path("../.env"), True),
]

WEB_AND_TOOL_ROWS: list[Row] = [
    ("WebFetch(domain:example.com)", "allow", "WebFetch", url("https://example.com/x"), True),
    ("WebFetch(domain:example.com)", "allow", "WebFetch", url("https://EXAMPLE.com"), True),
    ("WebFetch(domain:example.com)", "allow", "WebFetch", url("http://example.com:8080"), True),
    (
        "WebFetch(domain:example.com)",
        "allow",
        "WebFetch",
        url("https://api.example.com"),
        False,
    ),
    (
        "WebFetch(domain:example.com)",
        "allow",
        "WebFetch",
        url("https://example.com.evil.io/"),
        False,
    ),
    ("WebFetch(domain:example.com)", "allow", "WebFetch", url("not a url"), False),
    ("WebFetch(domain:example.com)", "allow", "WebFetch", url("https://u@example.com/"), True),
    (
        "WebFetch(domain:example.com)",
        "allow",
        "WebFetch",
        url("https://example.com@evil.io"),
        False,
    ),
    (
        "WebFetch(domain:example.com)",
        "allow",
        "WebFetch",
        url("https://evil.io\\@example.com"),
        False,
    ),
    ("WebFetch(domain:example.com)", "allow", "WebFetch", url("https://example.com./x"), True),
    ("WebFetch(domain:*.example.com)", "allow", "WebFetch", url("https://a.example.com"), True),
    (
        "WebFetch(domain:*.example.com)",
        "allow",
        "WebFetch",
        url("https://a.b.example.com"),
        True,
    ),
    ("WebFetch(domain:*.example.com)", "allow", "WebFetch", url("https://example.com"), False),
    (
        "WebFetch(domain:*.example.com)",
        "allow",
        "WebFetch",
        url("https://badexample.com"),
        False,
    ),
    ("WebFetch", "allow", "WebFetch", url("https://anything.io"), True),
    ("WebFetch", "allow", "WebSearch", {"query": "x"}, False),
    # MCP: a server, all its tools, one tool, a tool-name glob within one server.
    ("mcp__github", "allow", "mcp__github__create_issue", {}, True),
    ("mcp__github", "allow", "mcp__githubx__create_issue", {}, False),
    ("mcp__github", "allow", "mcp__gitlab__create_issue", {}, False),
    ("mcp__github__*", "allow", "mcp__github__create_issue", {}, True),
    ("mcp__github__*", "allow", "mcp__gitlab__x", {}, False),
    ("mcp__github__create_issue", "allow", "mcp__github__create_issue", {}, True),
    ("mcp__github__create_issue", "allow", "mcp__github__get_issue", {}, False),
    ("mcp__github__get_*", "allow", "mcp__github__get_issue", {}, True),
    ("mcp__github__get_*", "allow", "mcp__github__create_issue", {}, False),
    # Tool-name globs (deny/ask only).
    ("*", "deny", "Bash", bash("ls"), True),
    ("*", "deny", "mcp__a__b", {}, True),
    ("mcp__*", "deny", "mcp__x__y", {}, True),
    ("mcp__*", "ask", "Bash", bash("ls"), False),
    # Agent: a subagent type, or input parameters (deny/ask). `Task` is the older name.
    ("Agent(Explore)", "allow", "Agent", {"subagent_type": "Explore"}, True),
    ("Agent(Explore)", "allow", "Agent", {"subagent_type": "Plan"}, False),
    ("Agent(Explore)", "allow", "Task", {"subagent_type": "Explore"}, True),
    ("Agent(model:opus)", "deny", "Agent", {"model": "opus", "prompt": "x"}, True),
    ("Agent(model:opus)", "deny", "Agent", {"model": "sonnet"}, False),
    ("Agent(model:opus)", "deny", "Agent", {"prompt": "x"}, False),
    ("Agent(model:opus)", "deny", "Task", {"model": "opus"}, True),
    ("Agent(isolation:worktree)", "ask", "Agent", {"isolation": "worktree"}, True),
    ("Skill(pdf)", "allow", "Skill", {"skill": "pdf"}, True),
    ("Skill(pdf)", "allow", "Skill", {"skill": "xlsx"}, False),
    ("WebSearch", "allow", "WebSearch", {"query": "x"}, True),
    ("mcp__db__query(table:users)", "deny", "mcp__db__query", {"table": "users"}, True),
]


def _id(row: Row) -> str:
    rule, effect, tool, tool_input, expected = row
    return f"{effect}:{rule}~{tool}:{str(tool_input)[:40]}->{expected}"


@pytest.mark.parametrize("row", BASH_ROWS + PATH_ROWS + WEB_AND_TOOL_ROWS, ids=_id)
def test_rule_matches_documented_example(row: Row) -> None:
    text, effect, tool, tool_input, expected = row
    rule = PermissionRule.from_text(text, effect)
    assert rule.matches(ToolCall(tool, tool_input), CTX) is expected


@pytest.mark.parametrize("row", SUB_ROWS, ids=_id)
def test_anchors_from_a_subdirectory(row: Row) -> None:
    text, effect, tool, tool_input, expected = row
    rule = PermissionRule.from_text(text, effect)
    assert rule.matches(ToolCall(tool, tool_input), SUB) is expected


def test_match_context_paths_must_be_absolute() -> None:
    with pytest.raises(ValidationError, match="cwd must be an absolute path"):
        MatchContext(cwd="proj", home="/home/u")
    with pytest.raises(ValidationError, match="home must be an absolute path"):
        MatchContext(cwd="/p", home="~")


def test_settings_dir_overrides_project_root_for_slash_anchor() -> None:
    ctx = MatchContext(cwd="/w", home="/home/u", project_root="/w", settings_dir="/home/u/.claude")
    rule = PermissionRule.from_text("Read(/agents/**)", "deny")
    assert rule.matches(ToolCall("Read", path("/home/u/.claude/agents/a.md")), ctx)
    assert not rule.matches(ToolCall("Read", path("/w/agents/a.md")), ctx)
