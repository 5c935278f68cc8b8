"""`NoticeService`: the inbox's notices (``inbox_items``): budget alerts, breaches, messages.

Approval cards live in their own table (`ApprovalService`); notices are what else a person
should see, and are marked read one by one.
"""

from __future__ import annotations

from stagent.store import inbox as inbox_repo
from stagent.store.database import Store
from stagent.store.inbox import InboxItem


class NoticeService:
    """List notices and mark them read."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def list(self, *, unread_only: bool = False, limit: int = 50) -> list[InboxItem]:
        """Notices, newest first."""
        with self._store.read() as session:
            return inbox_repo.list_items(session, unread_only=unread_only, limit=limit)

    def unread_count(self) -> int:
        """How many notices nobody has read yet."""
        with self._store.read() as session:
            return inbox_repo.unread_count(session)

    def attention_count(self) -> int:
        """What waits for a person besides approval cards: unread notices and unanswered
        breach cards (an answered item is read)."""
        return self.unread_count()

    def mark_read(self, item_id: str) -> InboxItem:
        """Mark one notice read; returns it."""
        with self._store.write() as session:
            inbox_repo.mark_read(session, item_id)
            return inbox_repo.to_item(inbox_repo.get_row(session, item_id))
