"""Repository functions for inbox items: notices and requests for a person.

Approval requests have their own table (`approval_requests`); this one holds everything else a
person should see: budget alerts and breaches, failed tasks, messages. Every change to an item
writes a ``notice`` event to the change feed (its subject: the budget, or the item), so open
Inboxes update live and the nav's badge counts it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from stagent.domain.errors import ConflictError, NotFoundError
from stagent.domain.ids import ensure_aware, new_id, utcnow
from stagent.domain.runs import Subject
from stagent.store import events
from stagent.store.tables import InboxItemRow


@dataclass(frozen=True, slots=True)
class InboxItem:
    """A notice (or a request with a response) for a person."""

    id: str
    kind: str
    title: str
    body: str
    payload: dict[str, Any]
    task_id: str | None
    read: bool
    response: dict[str, Any] | None
    responded_at: datetime | None
    created_at: datetime
    run_id: str | None = None


def to_item(row: InboxItemRow) -> InboxItem:
    """Map a row to the value."""
    return InboxItem(
        id=row.id,
        kind=row.kind,
        title=row.title,
        body=row.body,
        payload=dict(row.payload or {}),
        task_id=row.task_id,
        read=row.read,
        response=dict(row.response) if row.response is not None else None,
        responded_at=ensure_aware(row.responded_at) if row.responded_at else None,
        created_at=ensure_aware(row.created_at),
        run_id=row.run_id,
    )


def create(
    session: Session,
    *,
    kind: str,
    title: str,
    body: str = "",
    payload: dict[str, Any] | None = None,
    task_id: str | None = None,
    run_id: str | None = None,
) -> InboxItem:
    """Add an item to the inbox."""
    row = InboxItemRow(
        id=new_id("inb"),
        kind=kind,
        title=title,
        body=body,
        payload=payload or {},
        task_id=task_id,
        run_id=run_id,
    )
    session.add(row)
    session.flush()
    item = to_item(row)
    announce(session, item, "created")
    return item


def subject_of(item: InboxItem) -> Subject:
    """What an item is about: its budget scope (``budget:runtime:claude``), else the item."""
    scope = item.payload.get("scope")
    if scope:
        return Subject("budget", f"{scope}:{item.payload.get('scope_ref') or ''}".rstrip(":"))
    return Subject("inbox", item.id)


def announce(session: Session, item: InboxItem, action: str) -> None:
    """Write the ``notice`` event of a change to ``item`` (created, updated, answered, read)."""
    events.append(
        session,
        None,
        "notice",
        {
            "message": f"{item.title} ({action})",
            "inbox_id": item.id,
            "inbox_kind": item.kind,
            "action": action,
            "task_id": item.task_id,
        },
        run_id=item.run_id,
        subject=subject_of(item),
    )


def get_row(session: Session, item_id: str, *, for_update: bool = False) -> InboxItemRow:
    """Load an item or raise `NotFoundError` (``for_update``: lock it until the transaction
    ends, so a concurrent writer waits and then sees this one's change)."""
    row = session.get(InboxItemRow, item_id, with_for_update=for_update or None)
    if row is None:
        raise NotFoundError(f"no inbox item with id {item_id!r}", hint="see `stagent inbox`")
    return row


def list_items(
    session: Session, *, unread_only: bool = False, kind: str | None = None, limit: int = 200
) -> list[InboxItem]:
    """Items, newest first."""
    query = select(InboxItemRow).order_by(InboxItemRow.created_at.desc()).limit(limit)
    if unread_only:
        query = query.where(InboxItemRow.read.is_(False))
    if kind is not None:
        query = query.where(InboxItemRow.kind == kind)
    return [to_item(row) for row in session.scalars(query)]


def unread_count(session: Session) -> int:
    """How many items nobody has read yet."""
    query = select(func.count()).select_from(InboxItemRow).where(InboxItemRow.read.is_(False))
    return int(session.scalar(query) or 0)


def mark_read(session: Session, item_id: str) -> None:
    """Mark an item read."""
    row = get_row(session, item_id)
    if not row.read:
        row.read = True
        session.flush()
        announce(session, to_item(row), "read")


def respond(session: Session, item_id: str, response: dict[str, Any]) -> InboxItem:
    """Store a person's response to an item; an item is answered once (the row is locked, so
    of two people answering at once the second is refused, not written over the first)."""
    row = get_row(session, item_id, for_update=True)
    if row.response is not None:
        raise ConflictError(f"inbox item {item_id} was already answered")
    row.response = response
    row.responded_at = utcnow()
    row.read = True
    session.flush()
    item = to_item(row)
    announce(session, item, "answered")
    return item
