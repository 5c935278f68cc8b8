"""Parsers for Markdown artifacts: instructions, rules, skills, subagents, commands, styles."""

from __future__ import annotations

import os
import re
from typing import Any

from stagent.scanner import secrets
from stagent.scanner.collect import FileContext, Parser, path_bound
from stagent.scanner.hooks import hook_artifacts
from stagent.scanner.parse import FrontMatter, front_matter, line_of

CLAUDE_MD_WARN_CHARS = 40_000
"""Claude Code warns that a CLAUDE.md over 40k characters hurts performance."""
SKILL_LISTING_CHARS = 1_536
"""Claude Code caps a skill's description plus when_to_use at this length in its listing."""
PREVIEW_CHARS = 400
_IMPORT = re.compile(r"(?m)(?:^|\s)@([\w./~-]+\.\w+)")
_SECRET_FIX_TEXT = (
    "Remove the secret from the file, rotate it, and read it from an environment variable"
)


def _preview(ctx: FileContext, text: str) -> str:
    head = text[:PREVIEW_CHARS]
    return (secrets.redact_text(head) if ctx.may_hold_secret else head).strip()


def _scalar_meta(ctx: FileContext, meta: dict[str, Any]) -> dict[str, Any]:
    """Front matter fit to show: secrets in strings redacted, hooks left out (they become
    hook artifacts)."""
    if not ctx.may_hold_secret:
        return {str(key): value for key, value in meta.items() if key != "hooks"}
    redact = secrets.redact_text
    return {
        str(key): redact(value) if isinstance(value, str) else value
        for key, value in meta.items()
        if key != "hooks"
    }


def _qualified(ctx: FileContext, declared: object) -> str:
    """The name a tool shows: the declared name (else the file's) with the label's namespace
    (``plugin:`` or ``apps/web:``) kept."""
    label = ctx.where.label
    prefix, _, own = label.rpartition(":")
    base = str(declared) if declared else own
    return f"{prefix}:{base}" if prefix else base


def _front(ctx: FileContext, what: str, fix: str) -> FrontMatter:
    fm = front_matter(ctx.text, ctx.blocks)
    if fm.error is not None:
        ctx.invalid(f"front matter in this {what}", fm.error, fix)
    return fm


def instruction(ctx: FileContext) -> None:
    """CLAUDE.md, CLAUDE.local.md, AGENTS.md, AGENTS.override.md and the like."""
    text = ctx.text
    name = ctx.where.label or os.path.basename(ctx.path)
    imports = _IMPORT.findall(text) if ctx.where.tool == "claude-code" else []
    meta: dict[str, Any] = {
        "file": os.path.basename(ctx.path),
        "chars": len(text),
        "lines": text.count("\n") + (1 if text and not text.endswith("\n") else 0),
        "imports": imports[:50],
        "preview": _preview(ctx, text),
    }
    ctx.artifact("instruction", name, meta)
    ctx.text_secrets(_SECRET_FIX_TEXT)
    if ctx.where.tool == "claude-code" and len(text) > CLAUDE_MD_WARN_CHARS:
        ctx.finding(
            "instruction-too-large",
            "warning",
            None,
            f"{len(text):,} characters: Claude Code warns above {CLAUDE_MD_WARN_CHARS:,} and "
            "every session pays for the whole file",
            "Move detail into .claude/rules/ files or skills, or import it where needed with @path",
        )


def memory(ctx: FileContext) -> None:
    """Claude Code's auto memory index (``projects/<p>/memory/MEMORY.md``)."""
    ctx.artifact(
        "memory",
        ctx.where.label or "MEMORY.md",
        {"chars": len(ctx.text), "preview": _preview(ctx, ctx.text)},
    )
    ctx.text_secrets(_SECRET_FIX_TEXT)


def rule(ctx: FileContext) -> None:
    """``.claude/rules/*.md``: an instruction with optional ``paths`` front matter."""
    fm = _front(ctx, "rule", "Fix the YAML between the '---' lines (paths: a list of globs)")
    name = ctx.where.label or os.path.splitext(os.path.basename(ctx.path))[0]
    ctx.artifact(
        "rule",
        name,
        {"paths": fm.meta.get("paths"), "chars": len(ctx.text), "preview": _preview(ctx, fm.body)},
    )
    ctx.text_secrets(_SECRET_FIX_TEXT)


def skill(ctx: FileContext) -> None:
    """A skill's SKILL.md (Claude Code, Codex and plugins share the Agent Skills format)."""
    fix_yaml = "Fix the YAML between the '---' lines at the top of SKILL.md"
    fm = _front(ctx, "skill", fix_yaml)
    meta = fm.meta
    folder = ctx.where.label
    name = _qualified(ctx, meta.get("name"))
    data = _scalar_meta(ctx, meta)
    data.update({"folder": folder, "chars": len(ctx.text), "preview": _preview(ctx, fm.body)})
    ctx.artifact("skill", name, data)
    if fm.error is None:
        _skill_fields(ctx, meta, fm)
    hook_artifacts(ctx, meta.get("hooks"), source="skill front matter", secrets_found=False)
    ctx.text_secrets(_SECRET_FIX_TEXT)


def _skill_fields(ctx: FileContext, meta: dict[str, Any], fm: FrontMatter) -> None:
    codex = ctx.where.tool == "codex"
    missing = [f for f in ("name", "description") if not meta.get(f)]
    if not codex and "name" in missing:
        missing.remove("name")  # Claude Code falls back to the folder name
    if missing:
        severity = "error" if codex else "warning"
        consequence = (
            "Codex does not load a skill without both"
            if codex
            else "Claude Code cannot tell when to use it"
        )
        ctx.finding(
            "missing-field",
            severity,
            1 if fm.present else None,
            f"skill {ctx.where.label!r} has no {' or '.join(missing)} in its front matter: "
            f"{consequence}",
            "Add " + " and ".join(f"{f}: ..." for f in missing) + " to the front matter",
        )
    listing = f"{meta.get('description') or ''}{meta.get('when_to_use') or ''}"
    if len(listing) > SKILL_LISTING_CHARS:
        ctx.finding(
            "instruction-too-large",
            "warning",
            line_of(ctx.text, "description:"),
            f"description and when_to_use are {len(listing):,} characters; the skill listing "
            f"cuts them at {SKILL_LISTING_CHARS:,}",
            "Shorten the description; move detail into the body of SKILL.md",
        )


def subagent(ctx: FileContext) -> None:
    """A Claude Code subagent (``agents/*.md``): ``name`` and ``description`` are required."""
    skipped = "Claude Code skips this subagent silently (only a debug log line says so)"
    fm = _front(ctx, "subagent", f"Fix the YAML between the '---' lines. {skipped}")
    meta = fm.meta
    name = _qualified(ctx, meta.get("name"))
    data = _scalar_meta(ctx, meta)
    data.update({"chars": len(ctx.text), "preview": _preview(ctx, fm.body)})
    ctx.artifact("subagent", name, data)
    if fm.error is None:
        missing = [f for f in ("name", "description") if not meta.get(f)]
        if missing:
            ctx.finding(
                "missing-field",
                "error",
                1,
                f"subagent {name!r} has no {' or '.join(missing)}: {skipped}",
                "Add " + " and ".join(f"{f}: ..." for f in missing) + " to the front matter",
            )
    hook_artifacts(ctx, meta.get("hooks"), source="subagent front matter", secrets_found=False)
    ctx.text_secrets(_SECRET_FIX_TEXT)


def command(ctx: FileContext) -> None:
    """A Claude Code slash command (``commands/**/*.md``)."""
    fm = _front(ctx, "command", "Fix the YAML between the '---' lines")
    data = _scalar_meta(ctx, fm.meta)
    data.update({"chars": len(ctx.text), "preview": _preview(ctx, fm.body)})
    ctx.artifact("command", ctx.where.label, data)
    ctx.text_secrets(_SECRET_FIX_TEXT)


def output_style(ctx: FileContext) -> None:
    """A Claude Code output style (``output-styles/*.md``)."""
    fm = _front(ctx, "output style", "Fix the YAML between the '---' lines")
    name = str(fm.meta.get("name") or ctx.where.label)
    data = _scalar_meta(ctx, fm.meta)
    data.update({"chars": len(ctx.text), "preview": _preview(ctx, fm.body)})
    ctx.artifact("output-style", name, data)
    ctx.text_secrets(_SECRET_FIX_TEXT)


def prompt(ctx: FileContext) -> None:
    """A Codex custom prompt (``~/.codex/prompts/*.md``), deprecated in favour of skills."""
    fm = _front(ctx, "prompt", "Fix the YAML between the '---' lines")
    data = _scalar_meta(ctx, fm.meta)
    data.update({"chars": len(ctx.text), "preview": _preview(ctx, fm.body)})
    ctx.artifact("prompt", ctx.where.label, data)
    ctx.text_secrets(_SECRET_FIX_TEXT)


def plain_file(category: str) -> Parser:
    """A parser that only inventories a file (hook scripts, Codex ``.rules`` files)."""

    def parse(ctx: FileContext) -> None:
        executable = os.access(ctx.path, os.X_OK)
        meta: dict[str, Any] = {"executable": executable, "chars": len(ctx.text)}
        if category == "rule":
            meta["rules"] = ctx.text.count("prefix_rule(")
        ctx.artifact(category, ctx.where.label or os.path.basename(ctx.path), meta)
        ctx.text_secrets(_SECRET_FIX_TEXT)

    parse.__qualname__ = f"plain_file.{category}"
    return path_bound(parse)  # whether it is executable is not in its bytes
