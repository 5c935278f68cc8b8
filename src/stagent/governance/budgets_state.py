"""What a budget admission does inside its (serialized) transaction: read the policy, measure
spend per window, warn once, refuse with a visible row, open a breach card, reserve headroom."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from typing import Any

from stagent.governance.budgets_policy import (
    DEFAULT_RUN_CAP_MICROS,
    BudgetPolicy,
    CallScope,
    LimitStatus,
)
from stagent.governance.budgets_windows import PERIODS, Period, Window, format_reset, window_for
from stagent.ledger.cost import SIMULATED_PROVIDER
from stagent.ledger.money import shown_usd, usd_text
from stagent.ledger.recorder import RUNTIME_PROVIDERS
from stagent.store import budgets as budget_repo
from stagent.store import events as event_repo
from stagent.store import inbox as inbox_repo
from stagent.store import ledger as ledger_repo
from stagent.store import projects as project_repo
from stagent.store import spend_totals
from stagent.store.hot_admission import HotAdmission, Note
from stagent.store.ledger import Session

ALERT_KIND = "budget_alert"
"""Inbox notices: a spend warning at the threshold, or calls blocked at a cap."""


@dataclass(frozen=True, slots=True)
class Admission:
    """The answer to "may this work make provider calls now?"."""

    allowed: bool
    limits: tuple[LimitStatus, ...] = ()
    breach: LimitStatus | None = None
    message: str | None = None
    """Why it was refused (or is waiting)."""
    card_id: str | None = None
    """For paused work: the inbox card a person answers."""
    reservation_id: str | None = None
    reserved: int = 0
    run_cap: int = DEFAULT_RUN_CAP_MICROS
    """The per-run cap in micro-USD (the reservation, when a cap applies)."""
    notes: list[str] = field(default_factory=lambda: [])


def read_policies(session: Session) -> list[BudgetPolicy]:
    """Every budget, validated (a corrupt row raises `BudgetPolicyError`)."""
    return [BudgetPolicy.of(stored) for stored in budget_repo.list_budgets(session)]


def label_for(session: Session, policy: BudgetPolicy) -> str:
    """How people name a budget's scope: ``overall``, ``runtime claude``, ``project Website``."""
    known = _known_label(policy)
    if known is not None:
        return known
    name = project_repo.name_of(session, policy.ref)
    return f"project {name}" if name is not None else f"project {policy.ref} (deleted)"


def _known_label(policy: BudgetPolicy) -> str | None:
    """`label_for` without a query: None if it needs the project's name read."""
    if policy.scope == "overall":
        return "overall"
    if policy.scope == "runtime":
        return f"runtime {policy.ref}"
    return f"project {policy.project_name}" if policy.project_name else None


def measure(
    session: Session,
    policies: Sequence[BudgetPolicy],
    now: datetime,
    zone: tzinfo,
    *,
    capped_only: bool,
) -> list[LimitStatus]:
    """Each budget's limits in the windows containing ``now``, with their spend (one query)."""
    windows = _windows(now, zone)
    pairs = _pairs(policies, capped_only)
    return _statuses(session, pairs, windows, _sums(session, pairs, windows, capped_only))


def measure_admission(
    session: Session,
    policies: Sequence[BudgetPolicy],
    now: datetime,
    zone: tzinfo,
    run_id: str | None,
    *,
    policy_check: bool = False,
) -> tuple[list[LimitStatus], str | None]:
    """`measure` of the capped limits for an admission, after releasing any reservation run
    ``run_id`` still holds (it started again: its last attempt's reservation must not count
    against it); with ``policy_check``, also the policy's fingerprint read in the same
    statement (else None). The statement that reads the sums also says whether the run holds a
    reservation, so a run's first admission writes nothing before its own reservation."""
    windows = _windows(now, zone)
    pairs = _pairs(policies, capped_only=True)
    found = spend_totals.admission_sums(
        session, _limit_queries(pairs, windows), run_id=run_id, policy=policy_check
    )
    if found is not None and not found.run_holds:
        sums = [_Sums(s.spent, s.reserved, s.allowance, 0) for s in found.limits]
        return _statuses(session, pairs, windows, sums), found.policy
    if run_id is not None:
        ledger_repo.release_reservations(session, run_id, note="superseded: the run started again")
    fingerprint = budget_repo.fingerprint(session) if policy_check else None
    sums = _sums(session, pairs, windows, capped_only=True)
    return _statuses(session, pairs, windows, sums), fingerprint


Pair = tuple[BudgetPolicy, Period]


_last_windows: dict[tzinfo, dict[Period, Window]] = {}
"""The windows each zone's last admission was in (every admission asks; they last a day)."""


def _windows(now: datetime, zone: tzinfo) -> dict[Period, Window]:
    last = _last_windows.get(zone)
    if last is not None and all(w.start <= now < w.end for w in last.values()):
        return last
    found = _last_windows[zone] = {period: window_for(period, now, zone) for period in PERIODS}
    return found


def _pairs(policies: Sequence[BudgetPolicy], capped_only: bool) -> list[Pair]:
    return [
        (policy, period)
        for policy in policies
        for period in PERIODS
        if not capped_only or policy.cap(period) is not None
    ]


def _statuses(
    session: Session,
    pairs: Sequence[Pair],
    windows: dict[Period, Window],
    sums: Sequence[_Sums],
) -> list[LimitStatus]:
    labels: dict[tuple[str, str], str] = {}
    limits: list[LimitStatus] = []
    for (policy, period), found in zip(pairs, sums, strict=True):
        key = (policy.scope, policy.ref)
        if key not in labels:
            labels[key] = label_for(session, policy)
        cap = policy.cap(period)
        limits.append(
            LimitStatus(
                policy=policy,
                label=labels[key],
                window=windows[period],
                cap=cap,
                allowance=found.allowance if cap is not None else 0,
                spent=found.spent,
                reserved=found.reserved,
                unpriced=found.unpriced,
            )
        )
    return limits


@dataclass(frozen=True, slots=True)
class _Sums:
    spent: int
    reserved: int
    allowance: int
    unpriced: int


def _limit_queries(
    pairs: Sequence[Pair], windows: dict[Period, Window]
) -> list[spend_totals.LimitQuery]:
    return [
        spend_totals.LimitQuery(
            policy.scope, policy.ref, period, windows[period].key, windows[period].start
        )
        for policy, period in pairs
    ]


def _sums(
    session: Session,
    pairs: Sequence[Pair],
    windows: dict[Period, Window],
    capped_only: bool,
) -> list[_Sums]:
    """Spend, reservations, allowance (and, for pages, unpriced rows) of each pair's window.

    An admission (``capped_only``) reads them in one prepared statement from the running
    totals; pages, which also count unpriced rows, use the ledger's general sums."""
    if capped_only:
        fast = spend_totals.limit_sums(session, _limit_queries(pairs, windows))
        if fast is not None:
            return [_Sums(s.spent, s.reserved, s.allowance, 0) for s in fast]
    queries = [
        ledger_repo.SpendQuery(policy.scope, policy.ref, windows[period].start)
        for policy, period in pairs
    ]
    totals = ledger_repo.spend(session, queries, count_unpriced=not capped_only)
    keys = [(policy.scope, policy.ref, period, windows[period].key) for policy, period in pairs]
    states = budget_repo.windows(session, keys)
    return [
        _Sums(total.total, total.reserved, states[key].allowance_micros, total.unpriced)
        for total, key in zip(totals, keys, strict=True)
    ]


def send_warnings(session: Session, limits: Sequence[LimitStatus], zone: tzinfo) -> int:
    """One warning per budget, window and cap once spend reaches the threshold; returns how many
    were sent now. Durable: the window's state remembers the cap it warned for."""
    sent = 0
    for limit in limits:
        if limit.health not in ("warning", "blocked") or limit.limit is None:
            continue
        policy, window = limit.policy, limit.window
        state = budget_repo.window(session, policy.scope, policy.ref, window.period, window.key)
        if state.warned_cap_micros == limit.limit:
            continue
        ratio = limit.ratio or 0
        percent = int(ratio * 100) if math.isfinite(ratio) else 100  # a $0 cap: any spend is over
        inbox_repo.create(
            session,
            kind=ALERT_KIND,
            title=f"Budget warning: {limit.label} {window.period} spend at {percent}%",
            body=f"{shown_usd(limit.spent)} of the {limit.describe()} is spent "
            f"(warning at {int(policy.warn_at * 100)}%); resets "
            f"{format_reset(window.resets_at, zone)}.",
            payload=window_payload(limit, zone, level="warning"),
        )
        budget_repo.update_window(
            session,
            policy.scope,
            policy.ref,
            window.period,
            window.key,
            {"warned_cap_micros": limit.limit},
        )
        sent += 1
    return sent


def window_payload(limit: LimitStatus, zone: tzinfo, **extra: Any) -> dict[str, Any]:
    return {
        "scope": limit.policy.scope,
        "scope_ref": limit.policy.ref,
        "label": limit.label,
        "period": limit.window.period,
        "window": limit.window.key,
        "cap_micros": limit.cap,
        "limit_micros": limit.limit,
        "spent_micros": limit.spent,
        "spent_usd": usd_text(limit.spent),
        "cap_usd": usd_text(limit.limit or 0),
        "resets_at": limit.window.resets_at.isoformat(),
        "resets": format_reset(limit.window.resets_at, zone),
        **extra,
    }


def refuse(
    session: Session, call: CallScope, breach: LimitStatus, zone: tzinfo, *, message: str
) -> None:
    """Record a refused call: a ``blocked`` ledger row (zero cost) and the window's notice."""
    blocked_row(session, call, breach, zone, message=message)
    _notify_blocked(session, call, breach, zone, message)


def blocked_row(
    session: Session, call: CallScope, breach: LimitStatus, zone: tzinfo, *, message: str
) -> None:
    """The ledger row of a call that was not made: status ``blocked``, cost 0, the cap named."""
    ledger_repo.insert(
        session,
        _call_entry(
            call,
            cost_micros=0,
            cost_source="none",
            pricing_version="budget-guardrail",
            status=ledger_repo.BLOCKED,
            note=message,
            raw=window_payload(breach, zone),
        ),
    )


def _notify_blocked(
    session: Session, call: CallScope, breach: LimitStatus, zone: tzinfo, message: str
) -> None:
    """One notice per window and cap; later refusals update its count and mark it unread."""
    policy, window = breach.policy, breach.window
    state = budget_repo.window(session, policy.scope, policy.ref, window.period, window.key)
    title = f"Budget: {breach.describe()} reached, new work is refused"
    body = (
        f"{message}. Raise the cap on Settings -> Budgets (or with the budget command) "
        "or wait for the reset."
    )
    existing = budget_repo.find_item(session, state.notice_id)
    if existing is not None and state.notice_cap_micros == breach.limit:
        count = int(existing.payload.get("blocked_calls", 1)) + 1
        payload = {**existing.payload, **window_payload(breach, zone, level="blocked")}
        payload.update(blocked_calls=count, last_task_id=call.task_id, last_message=message)
        budget_repo.refresh_notice(
            session, existing.id, title=f"{title} ({count} calls)", body=body, payload=payload
        )
        return
    item = inbox_repo.create(
        session,
        kind=ALERT_KIND,
        title=title,
        body=body,
        payload=window_payload(
            breach, zone, level="blocked", blocked_calls=1, last_task_id=call.task_id
        ),
        task_id=call.task_id,
        run_id=call.run_id,
    )
    budget_repo.update_window(
        session,
        policy.scope,
        policy.ref,
        window.period,
        window.key,
        {"notice_id": item.id, "notice_cap_micros": breach.limit},
    )


def reserve(
    session: Session,
    call: CallScope,
    limits: Sequence[LimitStatus],
    run_cap: int,
) -> tuple[str | None, int, int]:
    """Hold headroom for a run: min(per-run cap, the smallest headroom) as a ``reserved`` row.

    Returns (reservation id or None, micro-USD reserved, the run's cap). Without any cap nothing
    is reserved and the run's cap is ``run_cap``.
    """
    new = _reservation(call, limits, run_cap)
    if new is None:
        return None, 0, run_cap
    # The admission's last write: sent with its commit (its note goes with it too).
    entry = ledger_repo.insert_at_commit(session, new)
    if call.task_id:
        kind, payload = _reservation_note(new)
        event_repo.append(session, call.task_id, kind, payload, run_id=call.run_id)
    return entry.id, entry.cost_micros, entry.cost_micros


def admit_hot(
    hot: HotAdmission,
    call: CallScope,
    now: datetime,
    zone: tzinfo,
    applicable: Sequence[BudgetPolicy],
    known: tuple[str, int],
) -> Admission | None:
    """An admission's common case straight on a driver connection, with no Session
    (`stagent.store.hot_admission`): the policy is as ``known`` (its fingerprint, and the run's
    cap), every cap has room, no warning is due, the run holds no reservation. The transaction
    begins serialized and reads every cap's sums, then writes the reservation and its note and
    commits. None if the case is not this common one: what was begun is rolled back (nothing
    was written) and the caller admits through a `Store.write`."""
    fingerprint, run_cap = known
    capped = [policy for policy in applicable if any(policy.cap(p) is not None for p in PERIODS)]
    labels = {(p.scope, p.ref): _known_label(p) for p in capped}
    if any(label is None for label in labels.values()):
        return None
    windows = _windows(now, zone)
    pairs = _pairs(capped, capped_only=True)
    found = hot.sums(_limit_queries(pairs, windows), call.run_id)
    if found is None:
        return None
    limits = [
        LimitStatus(
            policy=policy,
            label=labels[(policy.scope, policy.ref)] or "",
            window=windows[period],
            cap=policy.cap(period),
            allowance=sums.allowance,
            spent=sums.spent,
            reserved=sums.reserved,
            unpriced=0,
        )
        for (policy, period), sums in zip(pairs, found.limits, strict=True)
    ]
    if (
        found.run_holds
        or found.policy != fingerprint
        or any(limit.health in ("warning", "blocked") for limit in limits)
    ):
        hot.roll_back()
        return None
    new = _reservation(call, limits, run_cap)
    if new is None:  # not reached: every limit here is capped
        hot.roll_back()
        return None
    entry = hot.reserve(new, _reservation_note(new) if call.task_id else None)
    if entry is None:
        return None
    amount = entry.cost_micros
    return Admission(True, tuple(limits), reservation_id=entry.id, reserved=amount, run_cap=amount)


def _call_entry(call: CallScope, **fields: Any) -> ledger_repo.NewLedgerEntry:
    """A ledger row of ``call`` (its runtime, task, run, project, activity, model), with
    ``fields``."""
    provider = RUNTIME_PROVIDERS.get(call.runtime)
    return ledger_repo.NewLedgerEntry(
        runtime=call.runtime,
        task_id=call.task_id,
        run_id=call.run_id,
        project_id=call.project_id,
        activity=call.activity,
        provider=provider,
        model=call.model,
        simulated=provider == SIMULATED_PROVIDER,
        **fields,
    )


def _reservation(
    call: CallScope, limits: Sequence[LimitStatus], run_cap: int
) -> ledger_repo.NewLedgerEntry | None:
    """The ``reserved`` row of `reserve` (None without any cap)."""
    headrooms = [(room, limit) for limit in limits if (room := limit.headroom) is not None]
    if not headrooms:
        return None
    headroom, tightest = min(headrooms, key=lambda pair: pair[0])
    amount = min(run_cap, headroom)
    return _call_entry(
        call,
        cost_micros=amount,
        cost_source="estimate",
        status=ledger_repo.RESERVED,
        note=f"reserved {shown_usd(amount)} until the run's usage is known "
        f"(per-run cap {shown_usd(run_cap)}; {tightest.describe()} headroom "
        f"{shown_usd(headroom)})",
        raw={"estimate_micros": amount, "run_cap_micros": run_cap},
    )


def _reservation_note(new: ledger_repo.NewLedgerEntry) -> Note:
    """The note a task's run gets for its reservation."""
    amount = new.cost_micros
    return "note", {
        "message": f"budget: {new.note}",
        "reserved_micros": amount,
        "max_budget_usd": usd_text(amount),
    }


def project_ref(session: Session, ref: str) -> str:
    """A project's id from its id or name (`NotFoundError` if there is none)."""
    return project_repo.get(session, ref).id
