"""Breach cards: work held at a cap (``on_breach: pause``) waits on one card per budget window
until a person raises the cap, allows more for the window, or cancels."""

from __future__ import annotations

from datetime import tzinfo
from typing import Any

from stagent.domain.errors import ConflictError, NotFoundError, ValidationError
from stagent.governance.budgets_policy import CallScope, LimitStatus
from stagent.governance.budgets_state import window_payload
from stagent.ledger.money import format_usd, shown_usd, usd_text
from stagent.store import budgets as budget_repo
from stagent.store import inbox as inbox_repo
from stagent.store.inbox import InboxItem
from stagent.store.ledger import Session

BREACH_KIND = "budget_breach"
"""Inbox cards work waits on (``on_breach: pause``): raise the cap, allow more, or cancel."""
BREACH_ACTIONS = ("raise", "allow", "cancel")


def open_card(
    session: Session, call: CallScope, breach: LimitStatus, zone: tzinfo, *, message: str
) -> str:
    """The open breach card of this window (created if none), with this task among the waiting."""
    policy, window = breach.policy, breach.window
    state = budget_repo.window(session, policy.scope, policy.ref, window.period, window.key)
    card = budget_repo.find_item(session, state.card_id)
    if card is not None and card.response is None:
        waiting = [str(t) for t in card.payload.get("task_ids", [])]
        if call.task_id and call.task_id not in waiting:
            waiting.append(call.task_id)
        payload = {**card.payload, **window_payload(breach, zone), "task_ids": waiting}
        budget_repo.refresh_notice(
            session, card.id, title=card.title, body=card.body, payload=payload
        )
        return card.id
    item = inbox_repo.create(
        session,
        kind=BREACH_KIND,
        title=f"Budget: {breach.describe()} reached, work is waiting for you",
        body=f"{message}. Raise the cap, allow more for this "
        f"{'day' if window.period == 'daily' else 'month'}, or cancel the waiting work.",
        payload=window_payload(
            breach,
            zone,
            task_ids=[call.task_id] if call.task_id else [],
            actions=list(BREACH_ACTIONS),
        ),
    )
    how = (
        f" Answer on Settings -> Budgets (/settings/budgets) or with `stagent budget respond "
        f"{item.id} raise|allow --amount USD` or `stagent budget respond {item.id} cancel`."
    )
    budget_repo.refresh_notice(
        session, item.id, title=item.title, body=item.body + how, payload=item.payload
    )
    budget_repo.update_window(
        session, policy.scope, policy.ref, window.period, window.key, {"card_id": item.id}
    )
    return item.id


def breach_cards(session: Session, *, pending_only: bool) -> list[InboxItem]:
    """Breach cards, newest first (only unanswered ones with ``pending_only``)."""
    cards = inbox_repo.list_items(session, kind=BREACH_KIND)
    return [card for card in cards if card.response is None or not pending_only]


def answer_card(
    session: Session, card_id: str, action: str, amount: int | None, *, by: str
) -> InboxItem:
    """Store a person's answer to a breach card and apply it (a new cap, an allowance)."""
    card = budget_repo.find_item(session, card_id)
    if card is None or card.kind != BREACH_KIND:
        raise NotFoundError(
            f"no budget breach card with id {card_id!r}", hint="see `stagent budget show`"
        )
    if card.response is not None:
        raise ConflictError(
            f"budget breach card {card_id} was already answered "
            f"({card.response.get('action', '?')})"
        )
    action = action.strip().lower()
    if action not in BREACH_ACTIONS:
        raise ValidationError(
            f"action: {action!r} is not one of {', '.join(BREACH_ACTIONS)}",
            hint="raise --amount USD (a new cap), allow --amount USD (more for this window), "
            "or cancel",
        )
    response: dict[str, Any] = {"action": action, "by": by}
    if action != "cancel":
        if amount is None or amount <= 0:
            raise ValidationError(f"amount: {action} needs an amount in USD above zero")
        response.update(_apply(session, card, action, amount))
    item = inbox_repo.respond(session, card_id, response)
    budget_repo.clear_card(session, card_id)
    return item


def _apply(session: Session, card: InboxItem, action: str, amount: int) -> dict[str, Any]:
    payload = card.payload
    scope, ref = str(payload["scope"]), str(payload.get("scope_ref") or "")
    period, key = str(payload["period"]), str(payload["window"])
    if action == "allow":
        total = budget_repo.add_allowance(session, scope, ref, period, key, amount)
        return {
            "allowed_micros": amount,
            "allowed_usd": usd_text(amount),
            "window": key,
            "window_allowance_micros": total,
        }
    column = "daily_cap_micros" if period == "daily" else "monthly_cap_micros"
    current = budget_repo.get(session, scope, ref)
    previous: int | None = getattr(current, column) if current else None
    if previous is not None and amount <= previous:
        given, cap = shown_usd(amount), shown_usd(previous)
        if given == cap:  # two amounts that round alike: said exactly, or the text is a riddle
            given, cap = format_usd(amount), format_usd(previous)
        raise ValidationError(
            f"amount: {given} does not raise the {period} cap of {cap}",
            hint="give a higher cap, or use allow to add to this window only",
        )
    budget_repo.upsert(session, scope, ref, {column: amount})
    return {
        "new_cap_micros": amount,
        "new_cap_usd": usd_text(amount),
        "previous_cap_micros": previous,
    }


def card_json(card: InboxItem) -> dict[str, Any]:
    """A breach card as JSON-ready data."""
    payload = card.payload
    return {
        "id": card.id,
        "title": card.title,
        "body": card.body,
        "scope": payload.get("scope"),
        "scope_ref": payload.get("scope_ref") or None,
        "label": payload.get("label"),
        "period": payload.get("period"),
        "window": payload.get("window"),
        "cap_usd": payload.get("cap_usd"),
        "spent_usd": payload.get("spent_usd"),
        "resets": payload.get("resets"),
        "resets_at": payload.get("resets_at"),
        "task_ids": list(payload.get("task_ids", [])),
        "actions": list(BREACH_ACTIONS),
        "response": card.response,
        "created_at": card.created_at.isoformat(),
    }
