"""Budget guardrails: caps per day and month, overall, per runtime and per project.

`BudgetService` is what every caller that is about to make provider calls asks first
(`admit` / `check`): task starts (through `stagent.governance.budgets_guard.BudgetGuard`), and
later workflow steps, schedule firings and chat turns. Spend is the ledger's cost in the window
(the person's time zone), reservations of running work included.

- Below every cap: the call is allowed and headroom is reserved for it (min of the per-run cap
  and the smallest headroom), so concurrent starts cannot jointly overshoot. Admissions are
  serialized (SQLite's write lock; a PostgreSQL advisory lock).
- At or over a cap: the call is refused before it is made, with a ``blocked`` ledger row and an
  inbox notice naming the cap and its reset time; or, with ``on_breach: pause``, it waits on an
  inbox card until a person raises the cap, allows more, or cancels.
- If the policy cannot be read, calls are refused (fail closed).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Any

from stagent.domain.errors import StagentError, ValidationError
from stagent.domain.events import UsageEvent
from stagent.domain.ids import utcnow
from stagent.domain.tasks import Task
from stagent.governance import budgets_breach as cards
from stagent.governance import budgets_state as state
from stagent.governance.budgets_config import BudgetChange, normalize_scope
from stagent.governance.budgets_policy import (
    DEFAULT_RUN_CAP_MICROS,
    BudgetBlockedError,
    BudgetPolicy,
    BudgetPolicyError,
    CallScope,
    Health,
    LimitStatus,
    ScopeKind,
    worst,
)
from stagent.governance.budgets_state import Admission
from stagent.governance.budgets_windows import resolve_timezone, zone_name
from stagent.ledger.money import usd_text
from stagent.ledger.recorder import UsageRecorder
from stagent.runtimes.registry import RuntimeRegistry
from stagent.store import budgets as budget_repo
from stagent.store import ledger as ledger_repo
from stagent.store import lifecycle
from stagent.store import runs as run_repo
from stagent.store.database import Store
from stagent.store.hot_admission import PgHotAdmission, SqliteHotAdmission
from stagent.store.inbox import InboxItem

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ScopeStatus:
    """One budget scope as `stagent budget show` and the API present it."""

    policy: BudgetPolicy
    label: str
    limits: tuple[LimitStatus, ...]
    configured: bool

    @property
    def health(self) -> Health:
        """The worst health of its daily and monthly limits."""
        return worst([limit.health for limit in self.limits])

    def as_json(self, zone: tzinfo) -> dict[str, Any]:
        """JSON-ready data."""
        by_period = {limit.window.period: limit.as_json(zone) for limit in self.limits}
        run_cap = self.policy.run_cap
        return {
            "scope": self.policy.scope,
            "ref": self.policy.ref or None,
            "label": self.label,
            "configured": self.configured,
            "health": self.health,
            "daily": by_period.get("daily"),
            "monthly": by_period.get("monthly"),
            "warn_at": self.policy.warn_at,
            "on_breach": self.policy.on_breach,
            "per_run_micros": run_cap,
            "per_run_usd": usd_text(run_cap) if run_cap is not None else None,
        }


class BudgetService:
    """Caps, spend and admissions for one workspace."""

    def __init__(
        self,
        store: Store,
        recorder: UsageRecorder,
        runtimes: RuntimeRegistry,
        *,
        timezone: str | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._store = store
        self.recorder = recorder
        self._runtimes = runtimes
        self._timezone = timezone
        self.clock = clock
        self._caps_seen = True
        """Whether the last admission found a cap: if not, the next one reads the policy
        outside the write lock first (and takes the lock only if a cap appeared)."""
        self._known: _KnownPolicy | None = None
        """The policy the last admission read, with its fingerprint: an admission checks the
        fingerprint (in the statement that reads its sums) instead of reading the policy."""

    @property
    def zone(self) -> tzinfo:
        """The person's time zone (``timezone`` setting, else this machine's)."""
        return resolve_timezone(self._timezone)

    @property
    def store(self) -> Store:
        """The store budgets live in."""
        return self._store

    # ---------------------------------------------------------------- policy

    def set(self, change: BudgetChange) -> ScopeStatus:
        """Create or change one scope's budget (only the fields ``change`` sets)."""
        scope, ref = self._scope(change.scope, change.ref)
        fields = change.fields()
        resolve_timezone(self._timezone)  # an unknown zone is refused before anything is saved
        with self._store.write() as session:
            if scope == "project":
                ref = state.project_ref(session, ref)
            budget_repo.lock_admissions(session)
            budget_repo.upsert(session, scope, ref, fields)
        return self.status(scope, ref)

    def clear(self, scope: str, ref: str | None = None) -> bool:
        """Remove one scope's budget; False if it had none."""
        kind, ref_text = self._scope(scope, ref)
        with self._store.write() as session:
            if kind == "project":
                ref_text = state.project_ref(session, ref_text)
            return budget_repo.delete(session, kind, ref_text)

    def _scope(self, scope: str, ref: str | None) -> tuple[ScopeKind, str]:
        return normalize_scope(scope, ref, self._runtimes.names())

    def statuses(self, *, also: tuple[ScopeKind, str] | None = None) -> list[ScopeStatus]:
        """Every configured scope, and ``overall`` (and ``also``) even if not configured, with
        spend now."""
        now, zone = self.clock(), self._zone_or_refuse()
        with self._store.read() as session:
            policies = self._policies(session)
            configured = {(p.scope, p.ref) for p in policies}
            if ("overall", "") not in configured:
                policies.insert(0, BudgetPolicy("overall", "", None, None))
            if also is not None and also not in configured and also != ("overall", ""):
                policies.append(BudgetPolicy(also[0], also[1], None, None))
            limits = state.measure(session, policies, now, zone, capped_only=False)
        statuses: list[ScopeStatus] = []
        for policy in policies:
            own = tuple(limit for limit in limits if limit.policy is policy)
            statuses.append(
                ScopeStatus(
                    policy=policy,
                    label=own[0].label,
                    limits=own,
                    configured=(policy.scope, policy.ref) in configured,
                )
            )
        return statuses

    def status(self, scope: str, ref: str | None = None) -> ScopeStatus:
        """One scope's status (unlimited if it has no budget)."""
        kind, ref_text = self._scope(scope, ref)
        if kind == "project":
            with self._store.read() as session:
                ref_text = state.project_ref(session, ref_text)
        key = (kind, ref_text)
        return next(s for s in self.statuses(also=key) if (s.policy.scope, s.policy.ref) == key)

    def timezone_name(self) -> str:
        """The zone windows are computed in, by name."""
        return zone_name(self.zone)

    def _policies(self, session: ledger_repo.Session) -> list[BudgetPolicy]:
        try:
            return state.read_policies(session)
        except StagentError:
            raise
        except Exception as exc:
            raise _unreadable(exc) from None

    def _zone_or_refuse(self) -> tzinfo:
        try:
            return self.zone
        except ValidationError as exc:
            raise BudgetPolicyError(
                f"budget policy unreadable: {exc.message}; new provider calls are refused",
                hint=exc.hint,
            ) from None

    # ---------------------------------------------------------------- admission

    def admit(
        self, call: CallScope, *, pausable: bool = False, requested_cap: int | None = None
    ) -> Admission:
        """May ``call`` make provider calls now? Reserves headroom when it may.

        A refusal is recorded (blocked row, notice) and returned with ``allowed=False``; with
        ``pausable`` and a budget whose ``on_breach`` is ``pause``, the returned admission names
        the inbox card to wait on instead. Raises `BudgetPolicyError` if the policy is unreadable.
        """
        now = self.clock()
        try:
            if not self._caps_seen:
                # No caps last time: check the policy without the write lock (most workspaces).
                applicable = [p for p in self._policies_now() if call.covers(p)]
                if not _capped(applicable):
                    return Admission(allowed=True, run_cap=_run_cap(applicable, requested_cap))
            if self._known is not None:
                admission = self._admit_hot(call, now, requested_cap, self._known)
                if admission is not None:
                    return admission
            # Serialized: the admission lock is taken with BEGIN, in its round trip.
            with self._store.write(lock=budget_repo.ADMISSION_LOCK_KEY) as session:
                known = self._known
                if known is not None:
                    admission = self._admit(session, call, now, (pausable, requested_cap), known)
                    if admission is not None:
                        return admission
                known = self._read_policy(session)
                admission = self._admit(
                    session, call, now, (pausable, requested_cap), known, check=False
                )
                assert admission is not None  # a policy read just now is not checked again
                return admission
        except StagentError:
            raise
        except Exception as exc:
            log.exception("budget admission failed")
            raise _unreadable(exc) from None

    def _admit_hot(
        self, call: CallScope, now: datetime, requested_cap: int | None, known: _KnownPolicy
    ) -> Admission | None:
        """The common admission (policy as known, room under every cap, no warning due)
        straight on a driver connection, without a Session (`state.admit_hot`); None if it is
        not that case (nothing was written: admit through `Store.write`)."""
        applicable = [p for p in known.policies if call.covers(p)]
        if not _capped(applicable):
            return None
        zone = self._zone_or_refuse()
        asked = (known.fingerprint, _run_cap(applicable, requested_cap))
        store = self._store
        if store.is_sqlite:
            with store.sqlite_hot_connection() as sqlite_hot:
                admission = state.admit_hot(
                    SqliteHotAdmission(sqlite_hot), call, now, zone, applicable, asked
                )
        else:
            with store.hot_connection() as hot:
                admission = state.admit_hot(PgHotAdmission(hot), call, now, zone, applicable, asked)
        if admission is not None:
            self._caps_seen = True
        return admission

    def _policies_now(self) -> list[BudgetPolicy]:
        """The policy now, outside any transaction: the one known if its fingerprint still
        matches, else read again. The fingerprint is the one a workflow step's start read in
        its transaction if nothing was committed since (`budget_repo.take_seen`), else one read
        of its own, no Session (`budget_repo.fingerprint_now`)."""
        known = self._known
        if known is not None:
            seen = budget_repo.take_seen(self._store)
            if seen is None:
                seen = budget_repo.fingerprint_now(self._store)
            if seen == known.fingerprint:
                return known.policies
        with self._store.read() as session:
            return self._read_policy(session).policies

    def _current_policies(self, session: ledger_repo.Session) -> list[BudgetPolicy]:
        """The policy now: the one known, if its fingerprint still matches, else read again."""
        known = self._known
        if known is not None and budget_repo.fingerprint(session) == known.fingerprint:
            return known.policies
        return self._read_policy(session).policies

    def _read_policy(self, session: ledger_repo.Session) -> _KnownPolicy:
        """Read the policy and remember it. The fingerprint is read first: should the policy
        change in between, the next admission sees a fingerprint that differs, and reads again."""
        fingerprint = budget_repo.fingerprint(session)
        known = _KnownPolicy(fingerprint, self._policies(session))
        self._known = known
        return known

    def _admit(
        self,
        session: ledger_repo.Session,
        call: CallScope,
        now: datetime,
        asked: tuple[bool, int | None],
        known: _KnownPolicy,
        *,
        check: bool = True,
    ) -> Admission | None:
        """The admission in one serialized transaction, with the policy as ``known``: the spend
        of every capped window (whether the run still holds a reservation to release, and, for a
        policy known from before, its fingerprint) in one statement, then the reservation. None
        if the policy known from before changed (read it again, then admit). ``asked``: whether
        the caller can wait on a breach card, and the cap it asks for."""
        pausable, requested_cap = asked
        applicable = [p for p in known.policies if call.covers(p)]
        run_cap = _run_cap(applicable, requested_cap)
        if not _capped(applicable):
            if check and budget_repo.fingerprint(session) != known.fingerprint:
                return None
            self._caps_seen = False
            return Admission(allowed=True, run_cap=run_cap)
        zone = self._zone_or_refuse()
        limits, seen = state.measure_admission(
            session, applicable, now, zone, call.run_id, policy_check=check
        )
        if check and seen != known.fingerprint:
            return None
        self._caps_seen = True
        state.send_warnings(session, limits, zone)
        breach = next((lim for lim in limits if lim.health == "blocked"), None)
        if breach is None:
            reservation, amount, cap = state.reserve(session, call, limits, run_cap)
            return Admission(
                True, tuple(limits), reservation_id=reservation, reserved=amount, run_cap=cap
            )
        message = breach.blocked_message(zone)
        if pausable and breach.policy.on_breach == "pause":
            card = cards.open_card(session, call, breach, zone, message=message)
            return Admission(False, tuple(limits), breach, message, card_id=card)
        state.refuse(session, call, breach, zone, message=message)
        return Admission(False, tuple(limits), breach, message)

    def check(self, call: CallScope, *, requested_cap: int | None = None) -> Admission:
        """`admit` for callers that cannot wait: raises `BudgetBlockedError` when refused."""
        admission = self.admit(call, requested_cap=requested_cap)
        if not admission.allowed:
            raise BudgetBlockedError(admission.message or "blocked by budget")
        return admission

    # ---------------------------------------------------------------- usage

    def record_usage(
        self,
        task: Task,
        usage: UsageEvent,
        *,
        activity: str = "task_run",
        run_id: str | None = None,
        attempt: int | None = None,
    ) -> ledger_repo.LedgerEntry:
        """Write the ledger row for ``usage``, shrink the run's reservation by its cost, and send
        a threshold warning if this spend crossed one. With ``attempt`` (an executor's fencing
        token) a superseded attempt books nothing (`StaleAttemptError`)."""
        return self.book_usage(task, usage, activity=activity, run_id=run_id, attempt=attempt)[0]

    def book_usage(
        self,
        task: Task,
        usage: UsageEvent,
        *,
        activity: str = "task_run",
        run_id: str | None = None,
        attempt: int | None = None,
    ) -> tuple[ledger_repo.LedgerEntry, bool]:
        """`record_usage`, also saying whether the row is new. A call booked before (the same
        provider request id, reported again by a recovered run) changes nothing.

        Lock order (AGENTS.md "Budgets"): the run row (`lifecycle.check_attempt`), then the
        admission lock, as every transaction that takes both: the lock is held for the fewest
        round trips, and a cancel at the budget cap (`BudgetGuard`) cannot deadlock with it."""
        with self._store.write() as session:
            ended = False
            if attempt is not None and run_id is not None:
                ended = lifecycle.check_attempt(session, run_id, attempt)
            budget_repo.lock_admissions(session)
            entry, created = self.recorder.book(
                session, task, usage, activity=activity, at=self.clock(), run_id=run_id
            )
            if created and run_id is not None:
                ledger_repo.consume_reservation(session, run_id, entry.cost_micros)
            if created and ended and run_id is not None:
                lifecycle.settle_cost(session, run_id)
            if created and entry.cost_micros > 0:
                self._warn_after_usage(session, task)
        return entry, created

    def run_spent(self, run_id: str) -> int:
        """What a run's recorded usage cost so far (micro-USD; every attempt)."""
        with self._store.read() as session:
            return run_repo.spent(session, run_id)

    def _warn_after_usage(self, session: ledger_repo.Session, task: Task) -> None:
        try:
            call = CallScope(runtime=task.runtime, project_id=task.project_id, task_id=task.id)
            applicable = [p for p in self._current_policies(session) if call.covers(p)]
            limits = state.measure(session, applicable, self.clock(), self.zone, capped_only=True)
            state.send_warnings(session, limits, self.zone)
        except Exception:
            # The usage row matters more than the warning; the next admission warns anyway.
            log.exception("budget warning after usage of task %s failed", task.id)

    def usage(self, where: ledger_repo.LedgerFilter, *, limit: int = 200) -> list[Any]:
        """Ledger rows, newest first."""
        with self._store.read() as session:
            return list(ledger_repo.list_entries(session, where, limit=limit))

    # ---------------------------------------------------------------- breaches

    def breaches(self, *, pending_only: bool = True) -> list[InboxItem]:
        """Breach cards (work waiting on a person), newest first."""
        with self._store.read() as session:
            return cards.breach_cards(session, pending_only=pending_only)

    def respond(
        self, card_id: str, action: str, amount: int | None = None, *, by: str = "person"
    ) -> InboxItem:
        """A person's answer to a breach card: ``raise`` the cap to ``amount``, ``allow``
        ``amount`` more in this window, or ``cancel`` the waiting work."""
        with self._store.write() as session:
            budget_repo.lock_admissions(session)
            return cards.answer_card(session, card_id, action, amount, by=by)


@dataclass(frozen=True, slots=True)
class _KnownPolicy:
    """The budget policy as last read, and its fingerprint then."""

    fingerprint: str
    policies: list[BudgetPolicy]


def _capped(policies: list[BudgetPolicy]) -> bool:
    return any(p.daily_cap is not None or p.monthly_cap is not None for p in policies)


def _run_cap(applicable: list[BudgetPolicy], requested: int | None) -> int:
    caps = [p.run_cap for p in applicable if p.run_cap is not None]
    cap = min(caps) if caps else DEFAULT_RUN_CAP_MICROS
    return min(cap, requested) if requested is not None else cap


def _unreadable(exc: Exception) -> BudgetPolicyError:
    first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    return BudgetPolicyError(
        f"budget policy unreadable ({type(exc).__name__}: {first}); new provider calls are "
        "refused until it can be read",
        hint="check the database (`stagent db status`) and `stagent budget show`",
    )
