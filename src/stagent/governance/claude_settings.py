"""Import permission rules from Claude Code settings files and export them back.

Claude Code keeps rules under ``permissions.allow`` / ``ask`` / ``deny`` in
``~/.claude/settings.json``, ``<project>/.claude/settings.json`` and
``<project>/.claude/settings.local.json``. Importing
reports, per rule, whether it was imported or refused and why; a file that is not valid JSON is
reported with its name and line, never raised. Exporting merges rules into an existing file's
lists and keeps every other key.

A ``/path`` rule is relative to the settings file's source: the project root for project files,
``~/.claude`` for the user file. Stagent reads ``/path`` as project-relative, so a rule from any
other source is rewritten on import to the equivalent ``~/...`` or ``//abs`` form (and noted).
"""

from __future__ import annotations

import json
import os
import posixpath
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from stagent.domain._rule_syntax import Effect, parse_rule
from stagent.domain.errors import ValidationError
from stagent.domain.permissions import PermissionRule, Scope

EFFECT_KEYS: tuple[Effect, ...] = ("allow", "ask", "deny")


@dataclass(frozen=True, slots=True)
class ImportedRule:
    """The outcome for one entry of a settings file."""

    effect: str
    text: str
    rule: PermissionRule | None
    note: str | None = None
    """Why it was refused, or how it was rewritten."""

    @property
    def imported(self) -> bool:
        """True if the entry became a rule."""
        return self.rule is not None


@dataclass(frozen=True, slots=True)
class ImportReport:
    """What importing one settings file produced."""

    path: str
    items: tuple[ImportedRule, ...] = ()
    error: str | None = None
    """A problem with the whole file (unreadable, invalid JSON, wrong shape); no rules then."""
    warnings: tuple[str, ...] = ()

    @property
    def rules(self) -> list[PermissionRule]:
        """The imported rules, in file order (deny, ask and allow lists as read)."""
        return [item.rule for item in self.items if item.rule is not None]

    @property
    def refused(self) -> list[ImportedRule]:
        """The entries that were not imported, with the reason in ``note``."""
        return [item for item in self.items if item.rule is None]


def settings_anchor(path: str | Path, home: str | Path) -> str:
    """The directory ``/path`` rules in this settings file are relative to.

    ``<dir>/.claude/settings*.json`` -> ``<dir>`` (the project root), except the user file
    ``~/.claude/settings.json`` -> ``~/.claude``; any other file -> its own directory.
    """
    p = Path(path)
    if p.parent.name == ".claude":
        return str(p.parent if p.parent.parent == Path(home) else p.parent.parent)
    return str(p.parent)


def import_settings_text(
    text: str,
    *,
    path: str,
    home: str,
    project_root: str | None = None,
    scope: Scope = "global",
    scope_ref: str | None = None,
    anchor_dir: str | None = None,
) -> ImportReport:
    """Import the rules of a settings document (``path`` names it in messages and sources)."""
    try:
        document: object = json.loads(text)
    except json.JSONDecodeError as exc:
        return ImportReport(path, error=_json_error(path, exc))
    if not isinstance(document, dict):
        return ImportReport(path, error=f"{path}: expected a JSON object at the top level")
    permissions = cast(dict[str, Any], document).get("permissions")
    if permissions is None:
        return ImportReport(path, warnings=(f"{path}: no 'permissions' key; nothing to import",))
    if not isinstance(permissions, dict):
        return ImportReport(path, error=f"{path}: 'permissions' must be an object")
    anchor = anchor_dir if anchor_dir is not None else settings_anchor(path, home)
    importer = _Importer(path, home, project_root, scope, scope_ref, anchor)
    for effect in ("deny", "ask", "allow"):
        importer.read_list(effect, cast(dict[str, Any], permissions).get(effect))
    return ImportReport(path, tuple(importer.items), warnings=tuple(importer.warnings))


def import_settings_file(
    path: str | Path,
    *,
    home: str | Path | None = None,
    project_root: str | Path | None = None,
    scope: Scope = "global",
    scope_ref: str | None = None,
) -> ImportReport:
    """Read and import a settings file; an unreadable file is reported, not raised."""
    name = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return ImportReport(name, error=f"{name}: cannot be read ({exc})")
    return import_settings_text(
        text,
        path=name,
        home=str(home if home is not None else Path.home()),
        project_root=None if project_root is None else str(project_root),
        scope=scope,
        scope_ref=scope_ref,
    )


def _json_error(path: str, exc: json.JSONDecodeError) -> str:
    return f"{path}: line {exc.lineno} column {exc.colno}: invalid JSON ({exc.msg})"


class _Importer:
    def __init__(
        self,
        path: str,
        home: str,
        project_root: str | None,
        scope: Scope,
        scope_ref: str | None,
        anchor: str,
    ) -> None:
        self.path = path
        self.home = home
        self.project_root = project_root
        self.scope: Scope = scope
        self.scope_ref = scope_ref
        self.anchor = anchor
        self.items: list[ImportedRule] = []
        self.warnings: list[str] = []
        self.seen: set[tuple[str, str]] = set()

    def read_list(self, effect: Effect, entries: object) -> None:
        if entries is None:
            return
        if not isinstance(entries, list):
            self.warnings.append(f"{self.path}: permissions.{effect} is not a list; skipped")
            return
        for entry in cast(list[object], entries):
            self.items.append(self._one(effect, entry))

    def _one(self, effect: Effect, entry: object) -> ImportedRule:
        if not isinstance(entry, str):
            return ImportedRule(effect, json.dumps(entry), None, "not a string")
        if (effect, entry.strip()) in self.seen:
            return ImportedRule(effect, entry, None, "duplicate of an earlier entry")
        self.seen.add((effect, entry.strip()))
        try:
            text, note = self._rewrite(entry, effect)
            rule = PermissionRule.from_text(
                text,
                effect,
                scope=self.scope,
                scope_ref=self.scope_ref,
                source=f"import:{self.path}",
            )
        except ValidationError as exc:
            return ImportedRule(effect, entry, None, exc.message)
        return ImportedRule(effect, entry, rule, note)

    def _rewrite(self, entry: str, effect: Effect) -> tuple[str, str | None]:
        """Rewrite a ``/path`` rule whose anchor is not the project root."""
        parsed = parse_rule(entry, effect)
        spec = parsed.specifier or ""
        if parsed.kind != "path" or not spec.startswith("/") or spec.startswith("//"):
            return parsed.text, None
        if self.project_root is not None and _same(self.anchor, self.project_root):
            return parsed.text, None
        text = f"{parsed.tool}({anchored(self.anchor, spec[1:], self.home)})"
        return text, f"imported as `{text}`: '/' paths in this file are relative to {self.anchor}"


def anchored(directory: str, rel: str, home: str | None) -> str:
    """``directory/rel`` as a rule path: ``~/...`` under ``home``, else ``//abs/...``."""
    full = posixpath.join(_norm(directory), rel)
    if home is not None:
        home_dir = _norm(home).rstrip("/")
        if full.startswith(home_dir + "/"):
            return "~/" + full[len(home_dir) + 1 :]
    return "/" + full


def _norm(path: str) -> str:
    return "/" + posixpath.normpath(path).lstrip("/")


def _same(a: str, b: str) -> bool:
    return _norm(a) == _norm(b)


@dataclass(frozen=True, slots=True)
class ExportResult:
    """A settings document with the rules merged in, and what was left out and why."""

    text: str
    exported: tuple[PermissionRule, ...]
    skipped: tuple[tuple[PermissionRule, str], ...] = ()


def export_settings_text(
    rules: Iterable[PermissionRule],
    existing: str | None = None,
    *,
    path: str = "settings.json",
    project_root: str | None = None,
    anchor_dir: str | None = None,
    home: str | None = None,
    replace: bool = False,
) -> ExportResult:
    """Merge ``rules`` into the settings document ``existing`` (or a new one).

    Other keys are kept. Rules are appended to ``permissions.allow`` / ``ask`` / ``deny`` unless
    already listed; with ``replace`` the three lists hold exactly ``rules``. Task-scoped rules
    are skipped (Claude Code has no tasks). ``/path`` rules are project-relative in Stagent; when
    the file's anchor (``anchor_dir``) is not ``project_root`` they are written as ``//abs``.
    An ``existing`` document that is not valid JSON raises `ValidationError` naming ``path``
    and the line, so a broken file is never overwritten.
    """
    document = _load_document(existing, path)
    permissions = document.setdefault("permissions", {})
    if not isinstance(permissions, dict):
        raise ValidationError(f"{path}: 'permissions' must be an object; fix it before exporting")
    perms = cast(dict[str, Any], permissions)
    lists = {
        effect: [] if replace else _existing_list(perms, effect, path) for effect in EFFECT_KEYS
    }
    exported: list[PermissionRule] = []
    skipped: list[tuple[PermissionRule, str]] = []
    for rule in rules:
        text, reason = _export_text(rule, project_root, anchor_dir, home)
        if text is None:
            skipped.append((rule, reason or "not exportable"))
            continue
        if text not in lists[rule.effect]:
            lists[rule.effect].append(text)
        exported.append(rule)
    for effect in EFFECT_KEYS:
        if lists[effect] or effect in perms:
            perms[effect] = lists[effect]
    return ExportResult(json.dumps(document, indent=2) + "\n", tuple(exported), tuple(skipped))


def _load_document(existing: str | None, path: str) -> dict[str, Any]:
    if existing is None or not existing.strip():
        return {}
    try:
        document: object = json.loads(existing)
    except json.JSONDecodeError as exc:
        raise ValidationError(
            _json_error(path, exc), hint="fix the file by hand; it was not changed"
        ) from exc
    if not isinstance(document, dict):
        raise ValidationError(f"{path}: expected a JSON object at the top level")
    return cast(dict[str, Any], document)


def _existing_list(perms: dict[str, Any], effect: str, path: str) -> list[str]:
    value = perms.get(effect, [])
    if not isinstance(value, list):
        raise ValidationError(
            f"{path}: permissions.{effect} must be a list; fix it before exporting"
        )
    return list(cast(list[str], value))


def _export_text(
    rule: PermissionRule, project_root: str | None, anchor_dir: str | None, home: str | None
) -> tuple[str | None, str | None]:
    if rule.scope == "task":
        return None, "task-scoped rules have no equivalent in Claude Code settings"
    spec = rule.specifier or ""
    if rule.parsed.kind != "path" or not spec.startswith("/") or spec.startswith("//"):
        return rule.text, None
    if anchor_dir is None or (project_root is not None and _same(anchor_dir, project_root)):
        return rule.text, None
    if project_root is None:
        return None, "a project-relative '/' path needs the project root to be exported here"
    return f"{rule.tool}({anchored(project_root, spec[1:], home)})", None


def export_settings_file(
    rules: Iterable[PermissionRule],
    path: str | Path,
    *,
    project_root: str | Path | None = None,
    home: str | Path | None = None,
    replace: bool = False,
) -> ExportResult:
    """Merge ``rules`` into the settings file at ``path`` (created if missing), atomically."""
    target = Path(path)
    existing = target.read_text(encoding="utf-8") if target.exists() else None
    home_dir = str(home if home is not None else Path.home())
    result = export_settings_text(
        rules,
        existing,
        path=str(target),
        project_root=None if project_root is None else str(project_root),
        anchor_dir=settings_anchor(target, home_dir),
        home=home_dir,
        replace=replace,
    )
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".settings-", suffix=".json", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(result.text)
        Path(tmp).replace(target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return result
