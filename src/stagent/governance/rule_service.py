"""`RuleService`: saved permission rules, trust presets, and ``.claude/settings.json`` files.

Every rule is validated when it is saved (`PermissionRule.from_text`): a form Claude Code would
ignore, or a malformed one, is refused with the reason. Scopes name a task (by id) or a project
(by id or name); the stored reference is always the id.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from stagent.domain.code_rules import require_acknowledgement
from stagent.domain.errors import ValidationError
from stagent.domain.limits import checked_path
from stagent.domain.permissions import SCOPES, Effect, PermissionRule, Scope
from stagent.governance import presets as preset_lib
from stagent.governance.claude_settings import (
    ExportResult,
    ImportReport,
    export_settings_file,
    import_settings_file,
)
from stagent.store import projects as project_repo
from stagent.store import rules as rule_repo
from stagent.store import tasks as task_repo
from stagent.store.database import Store

EFFECT_NAMES: tuple[Effect, ...] = ("allow", "deny", "ask")


@dataclass(frozen=True, slots=True)
class PresetState:
    """A preset and whether all its rules are present at one scope."""

    name: str
    tier: str
    risk: str
    description: str
    rule_count: int
    active: bool


@dataclass(frozen=True, slots=True)
class RuleImport:
    """What importing one settings file did."""

    report: ImportReport
    added: tuple[PermissionRule, ...]
    already: tuple[PermissionRule, ...]
    """Entries that were valid but already saved from the same file at that scope."""


def check_effect(effect: str) -> Effect:
    """``effect`` as an `Effect`, or a `ValidationError` naming the valid ones."""
    for name in EFFECT_NAMES:
        if effect == name:
            return name
    raise ValidationError(f"effect: {effect!r} is not one of allow, deny, ask")


def check_scope(scope: str) -> Scope:
    """``scope`` as a `Scope`, or a `ValidationError` naming the valid ones."""
    for name in SCOPES:
        if scope == name:
            return name
    raise ValidationError(f"scope: {scope!r} is not one of task, project, global")


class RuleService:
    """Rule CRUD, presets, and import/export of Claude Code settings files."""

    def __init__(self, store: Store, contained: Callable[[], bool] | None = None) -> None:
        """``contained`` says whether agents run inside an OS sandbox here (default: yes);
        without one, saving a rule that lets an agent run code needs ``acknowledged=True``."""
        self._store = store
        self._contained = contained or (lambda: True)

    @property
    def contained(self) -> bool:
        """True when agents run inside an OS sandbox (rules need no acknowledgement)."""
        return self._contained()

    def _check_risk(self, rules: list[PermissionRule], acknowledged: bool) -> None:
        require_acknowledgement(rules, contained=self.contained, ack=acknowledged)

    def resolve_ref(self, scope: str, ref: str | None) -> str | None:
        """The stored scope reference: a task id, a project id (from an id or name), or None."""
        checked = check_scope(scope)
        if checked == "global":
            if ref:
                raise ValidationError(f"a global rule takes no task or project (got {ref!r})")
            return None
        if not ref:
            raise ValidationError(
                f"a {checked}-scoped rule needs the {checked} it applies to",
                hint=f"pass the {checked} id" + (" or name" if checked == "project" else ""),
            )
        with self._store.read() as session:
            if checked == "task":
                return task_repo.get_row(session, ref).id
            return project_repo.get_row(session, ref).id

    def list(self, *, scope: str | None = None, ref: str | None = None) -> list[PermissionRule]:
        """Saved rules (narrower scopes first), optionally only one scope."""
        if scope is None:
            with self._store.read() as session:
                return rule_repo.list_rules(session)
        checked = check_scope(scope)
        scope_ref = self.resolve_ref(checked, ref)
        with self._store.read() as session:
            return rule_repo.list_rules(session, scope=checked, scope_ref=scope_ref)

    def get(self, rule_id: str) -> PermissionRule:
        """One rule by id."""
        with self._store.read() as session:
            return rule_repo.get(session, rule_id)

    def applicable(self, task_id: str | None, project_id: str | None) -> list[PermissionRule]:
        """The rules that apply to a call of ``task_id`` in ``project_id``."""
        with self._store.read() as session:
            return rule_repo.applicable(session, task_id, project_id)

    def build(
        self, text: str, effect: str = "allow", *, scope: str = "global", ref: str | None = None
    ) -> PermissionRule:
        """Validate a rule without saving it (the reason is in the `ValidationError`)."""
        checked = check_scope(scope)
        return PermissionRule.from_text(
            text.strip(),
            check_effect(effect),
            scope=checked,
            scope_ref=self.resolve_ref(checked, ref),
        )

    def add(
        self,
        text: str,
        effect: str = "allow",
        *,
        scope: str = "global",
        ref: str | None = None,
        source: str = "user",
        acknowledged: bool = False,
    ) -> PermissionRule:
        """Validate and save a rule; saving the same rule from the same source again is a no-op
        that returns the saved one. Without a sandbox, a rule that lets the agent run code needs
        ``acknowledged`` (`UnsandboxedRuleError` otherwise)."""
        built = self.build(text, effect, scope=scope, ref=ref)
        rule = PermissionRule.from_text(
            built.text, built.effect, scope=built.scope, scope_ref=built.scope_ref, source=source
        )
        self._check_risk([rule], acknowledged)
        with self._store.write() as session:
            return rule_repo.find_same(session, rule) or rule_repo.add(session, rule)

    def remove(self, rule_id: str) -> PermissionRule:
        """Delete one rule; returns it."""
        with self._store.write() as session:
            return rule_repo.remove(session, rule_id)

    def presets(self, *, scope: str = "global", ref: str | None = None) -> list[PresetState]:
        """Every preset, and whether it is active at that scope."""
        checked = check_scope(scope)
        scope_ref = self.resolve_ref(checked, ref)
        with self._store.read() as session:
            rules = rule_repo.list_rules(session, scope=checked, scope_ref=scope_ref)
        active = set(preset_lib.active_presets(rules, scope=checked, scope_ref=scope_ref))
        return [
            PresetState(p.name, p.tier, p.risk, p.description, len(p.rules), p.name in active)
            for p in preset_lib.PRESETS.values()
        ]

    def tier(self, *, scope: str = "global", ref: str | None = None) -> str:
        """The trust badge at that scope: the highest active preset's tier, else ``Custom``."""
        active = [p for p in self.presets(scope=scope, ref=ref) if p.active]
        return active[-1].tier if active else "Custom"

    def apply_preset(
        self,
        name: str,
        *,
        scope: str = "global",
        ref: str | None = None,
        acknowledged: bool = False,
    ) -> list[PermissionRule]:
        """Add the preset's rules that are not saved yet (idempotent); returns those added."""
        checked = check_scope(scope)
        scope_ref = self.resolve_ref(checked, ref)
        wanted = preset_lib.preset_rules(name, scope=checked, scope_ref=scope_ref)
        self._check_risk(list(wanted), acknowledged)
        added: list[PermissionRule] = []
        with self._store.write() as session:
            for rule in wanted:
                if rule_repo.find_same(session, rule) is None:
                    added.append(rule_repo.add(session, rule))
        return added

    def remove_preset(self, name: str, *, scope: str = "global", ref: str | None = None) -> int:
        """Remove only the preset's own rules at that scope; returns how many."""
        checked = check_scope(scope)
        scope_ref = self.resolve_ref(checked, ref)
        source = preset_lib.get_preset(name).source
        with self._store.write() as session:
            return rule_repo.remove_source(session, source, checked, scope_ref)

    def import_file(
        self,
        path: str | Path,
        *,
        scope: str = "global",
        ref: str | None = None,
        acknowledged: bool = False,
    ) -> RuleImport:
        """Import ``permissions`` from a Claude Code settings file.

        A file that cannot be read or parsed is a `ValidationError` naming it (and the line);
        entries that are refused are reported in ``report.refused`` with the reason.
        """
        checked = check_scope(scope)
        scope_ref = self.resolve_ref(checked, ref)
        target = _settings_path(path, "read")
        report = import_settings_file(
            target,
            project_root=self._project_root(checked, scope_ref),
            scope=checked,
            scope_ref=scope_ref,
        )
        if report.error:
            raise ValidationError(report.error, hint="fix the file; nothing was imported")
        self._check_risk(list(report.rules), acknowledged)
        added: list[PermissionRule] = []
        already: list[PermissionRule] = []
        with self._store.write() as session:
            for rule in report.rules:
                same = rule_repo.find_same(session, rule)
                if same is None:
                    added.append(rule_repo.add(session, rule))
                else:
                    already.append(same)
        return RuleImport(report, tuple(added), tuple(already))

    def export_file(
        self,
        path: str | Path,
        *,
        scope: str = "global",
        ref: str | None = None,
        replace: bool = False,
    ) -> ExportResult:
        """Merge the rules of one scope into a Claude Code settings file (created if missing).

        Other keys in the file are kept; task-scoped rules have no equivalent and are skipped.
        """
        checked = check_scope(scope)
        scope_ref = self.resolve_ref(checked, ref)
        with self._store.read() as session:
            rules = rule_repo.list_rules(session, scope=checked, scope_ref=scope_ref)
        target = _settings_path(path, "written")
        if target.is_dir():
            raise ValidationError(
                f"path: {target} is a directory",
                hint="name the settings file, e.g. <project>/.claude/settings.json",
            )
        try:
            return export_settings_file(
                rules, target, project_root=self._project_root(checked, scope_ref), replace=replace
            )
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            raise ValidationError(
                f"path: cannot write {target}: {reason}", hint="choose a file you can write"
            ) from None

    def _project_root(self, scope: Scope, scope_ref: str | None) -> str | None:
        if scope != "project" or scope_ref is None:
            return None
        with self._store.read() as session:
            return project_repo.get(session, scope_ref).working_directory


def _settings_path(path: str | Path, use: str) -> Path:
    """The settings file ``path`` names, ``~`` expanded and resolved; a `ValidationError` for
    ``~name`` of a user this machine does not have, or a loop of links."""
    try:
        return Path(checked_path("path", str(path))).expanduser().resolve()
    except RuntimeError as exc:
        raise ValidationError(
            f"path: {path} cannot be {use} ({exc})", hint="name the settings file by its path"
        ) from None
