"""Repository functions for saved permission rules.

Rules are not unique on their text: the same rule may come from several sources (the user, a
preset, an import, an approval), and each row records its own. Removing a preset removes only
the rows it added.
"""

from __future__ import annotations

import logging

from sqlalchemy import case, delete, or_, select
from sqlalchemy.orm import Session

from stagent.domain.errors import NotFoundError, ValidationError
from stagent.domain.ids import new_id
from stagent.domain.permissions import PermissionRule, Scope
from stagent.store.tables import PermissionRuleRow

log = logging.getLogger(__name__)

_SCOPE_ORDER = case(
    (PermissionRuleRow.scope == "task", 0),
    (PermissionRuleRow.scope == "project", 1),
    else_=2,
)
"""Narrower scopes first, so the audit trail names the most specific rule that decided."""


def to_rule(row: PermissionRuleRow) -> PermissionRule:
    """Map a row to the validated domain value (raises `ValidationError` if it no longer parses)."""
    return PermissionRule.from_text(
        row.rule,
        row.effect,  # pyright: ignore[reportArgumentType]
        scope=row.scope,  # pyright: ignore[reportArgumentType]
        scope_ref=row.scope_ref,
        source=row.source,
        id=row.id,
    )


def _rules(rows: list[PermissionRuleRow]) -> list[PermissionRule]:
    out: list[PermissionRule] = []
    for row in rows:
        try:
            out.append(to_rule(row))
        except ValidationError as exc:  # saved under an older parser; never silently applied
            log.warning("permission rule %s is skipped: %s", row.id, exc.message)
    return out


def add(session: Session, rule: PermissionRule) -> PermissionRule:
    """Save a rule (already validated by constructing it); returns it with its new id."""
    row = PermissionRuleRow(
        id=new_id("rul"),
        rule=rule.text,
        effect=rule.effect,
        scope=rule.scope,
        scope_ref=rule.scope_ref,
        source=rule.source,
    )
    session.add(row)
    session.flush()
    return to_rule(row)


def get(session: Session, rule_id: str) -> PermissionRule:
    """One rule by id, or `NotFoundError`."""
    row = session.get(PermissionRuleRow, rule_id)
    if row is None:
        raise NotFoundError(
            f"no permission rule with id {rule_id!r}", hint="list rules with `stagent rules list`"
        )
    return to_rule(row)


def list_rules(
    session: Session,
    *,
    scope: Scope | None = None,
    scope_ref: str | None = None,
    source: str | None = None,
) -> list[PermissionRule]:
    """Saved rules, narrower scopes first, then oldest first; optionally filtered."""
    query = select(PermissionRuleRow).order_by(
        _SCOPE_ORDER, PermissionRuleRow.created_at, PermissionRuleRow.id
    )
    if scope is not None:
        query = query.where(PermissionRuleRow.scope == scope)
        if scope != "global":
            query = query.where(PermissionRuleRow.scope_ref == scope_ref)
    if source is not None:
        query = query.where(PermissionRuleRow.source == source)
    return _rules(list(session.scalars(query)))


def applicable(
    session: Session, task_id: str | None, project_id: str | None
) -> list[PermissionRule]:
    """The rules whose scope covers a call of ``task_id`` in ``project_id``."""
    covers = [PermissionRuleRow.scope == "global"]
    if task_id:
        covers.append(
            (PermissionRuleRow.scope == "task") & (PermissionRuleRow.scope_ref == task_id)
        )
    if project_id:
        covers.append(
            (PermissionRuleRow.scope == "project") & (PermissionRuleRow.scope_ref == project_id)
        )
    query = (
        select(PermissionRuleRow)
        .where(or_(*covers))
        .order_by(_SCOPE_ORDER, PermissionRuleRow.created_at, PermissionRuleRow.id)
    )
    return _rules(list(session.scalars(query)))


def find_same(session: Session, rule: PermissionRule) -> PermissionRule | None:
    """A saved rule with the same text, effect, scope and source, if any."""
    query = select(PermissionRuleRow).where(
        PermissionRuleRow.rule == rule.text,
        PermissionRuleRow.effect == rule.effect,
        PermissionRuleRow.scope == rule.scope,
        PermissionRuleRow.source == rule.source,
    )
    query = query.where(
        PermissionRuleRow.scope_ref.is_(None)
        if rule.scope_ref is None
        else PermissionRuleRow.scope_ref == rule.scope_ref
    )
    row = session.scalars(query.limit(1)).first()
    return to_rule(row) if row is not None else None


def remove(session: Session, rule_id: str) -> PermissionRule:
    """Delete one rule; returns what was deleted."""
    row = session.get(PermissionRuleRow, rule_id)
    if row is None:
        raise NotFoundError(
            f"no permission rule with id {rule_id!r}", hint="list rules with `stagent rules list`"
        )
    rule = to_rule(row)
    session.delete(row)
    session.flush()
    return rule


def remove_source(session: Session, source: str, scope: Scope, scope_ref: str | None) -> int:
    """Delete every rule ``source`` added at one scope; returns how many."""
    query = delete(PermissionRuleRow).where(
        PermissionRuleRow.source == source, PermissionRuleRow.scope == scope
    )
    query = query.where(
        PermissionRuleRow.scope_ref.is_(None)
        if scope_ref is None
        else PermissionRuleRow.scope_ref == scope_ref
    )
    result = session.execute(query)
    return int(getattr(result, "rowcount", 0) or 0)
