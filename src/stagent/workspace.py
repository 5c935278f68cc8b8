"""The composition root: settings -> store -> runtimes -> engine -> services.

The CLI, the web app and the tests all build a `Workspace`; nothing else wires parts together.
"""

from __future__ import annotations

import logging
import os
import secrets
from datetime import timedelta
from functools import cached_property
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal, Self

from stagent.collector import freeze_loaded
from stagent.domain.scrub import secret_values
from stagent.engine.queue import TaskQueueClient
from stagent.engine.services import ProjectService, TaskService
from stagent.runtimes.credentials import CredentialStore
from stagent.runtimes.registry import RuntimeRegistry, default_registry
from stagent.runtimes.sandbox import SandboxPolicy
from stagent.settings import Settings
from stagent.store import executors as executor_repo
from stagent.store import owner as owner_repo
from stagent.store.database import Store
from stagent.store.migrate import current_revision

if TYPE_CHECKING:  # built on first use (see the class docstring)
    from collections.abc import Mapping

    from stagent.domain.schedules import Target
    from stagent.domain.workflow_runs import Workflow
    from stagent.domain.workflows import WorkflowDefinition
    from stagent.engine.guard import RunGuard
    from stagent.engine.leases import ExecutorLease
    from stagent.engine.workflow_service import WorkflowService
    from stagent.governance.approvals import ApprovalService
    from stagent.governance.budgets import BudgetService
    from stagent.governance.defaults import PermissionDefaults
    from stagent.governance.owner import OwnerCheck
    from stagent.governance.rule_service import RuleService
    from stagent.ledger.recorder import UsageRecorder
    from stagent.ledger.service import LedgerService
    from stagent.profiles.service import ProfileService
    from stagent.runtimes.base import PermissionGate
    from stagent.scanner.service import ScanService
    from stagent.scheduler.loop import SchedulerLoop
    from stagent.scheduler.service import ScheduleService

WorkerKind = Literal["serve", "worker", "cli"]
LONG_LIVED_WORKERS: frozenset[str] = frozenset({"serve", "worker"})
log = logging.getLogger(__name__)


def containment_policy(settings: Settings) -> SandboxPolicy:
    """What every agent process is kept from: the home, and the database file wherever it is."""
    database = settings.sqlite_path
    return SandboxPolicy(
        mode=settings.sandbox,
        hidden=(settings.home,),
        hidden_files=(database,) if database is not None else (),
    )


class Workspace:
    """One Stagent workspace: its database, its runtimes and its services.

    Services a command may not need (governance, budgets and the ledger, the engine's worker
    parts) are built, and their modules imported, on first use: ``stagent task list`` loads none
    of them. Tests may still replace one by assigning the attribute.
    """

    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings or Settings()
        self.store = Store(self.settings.resolved_database_url)
        self.credentials = CredentialStore(self.settings.home)
        self.credentials.apply()  # saved API keys, unless the same variables are exported
        self.containment = containment_policy(self.settings)
        self.runtimes: RuntimeRegistry = default_registry(
            self.settings.home, self.containment, check_ready=self.settings.check_runtimes
        )
        self.queue = TaskQueueClient(self.store.url, announce=self.store.notify)
        self.projects = ProjectService(self.store)
        self.tasks = TaskService(self.store, self.runtimes, self.queue, _Profiles(self))
        self._lease: ExecutorLease | None = None
        self._scheduler: SchedulerLoop | None = None

    @cached_property
    def profiles(self) -> ProfileService:
        """Profiles and blueprints: the catalogs, install/export/import, smoke-test results."""
        from stagent.profiles.service import ProfileService

        return ProfileService(self.settings.home)

    @cached_property
    def workflows(self) -> WorkflowService:
        """Workflow definitions and their runs (executed by a worker's workflow queue)."""
        from stagent.engine.workflow_service import WorkflowService

        return WorkflowService(self.store, self.queue, self.tasks, _Profiles(self))

    def run_blueprint(
        self,
        blueprint_id: str,
        values: Mapping[str, object],
        *,
        runtime: str | None = None,
        project: str | None = None,
    ) -> Workflow:
        """Instantiate a blueprint and start it as a workflow (its definition keeps the
        blueprint's id, version and variables as lineage)."""
        if runtime:
            self.runtimes.require(runtime)
        instance = self.profiles.instantiate(blueprint_id, values, runtime=runtime)
        return self.workflows.start(instance.definition, project=project)

    @cached_property
    def owner(self) -> OwnerCheck:
        """Proof of the person for deciding commands (the enrolled owner token)."""
        from stagent.governance.owner import OwnerCheck

        return OwnerCheck(self.store)

    @cached_property
    def rules(self) -> RuleService:
        """Saved permission rules and trust presets."""
        from stagent.governance.rule_service import RuleService

        return RuleService(self.store, contained=lambda: self.containment.status().available)

    @cached_property
    def permission_defaults(self) -> PermissionDefaults:
        """What a call no rule decides gets: Claude Code's defaults, or a person for all."""
        from stagent.governance.defaults import PermissionDefaults

        return PermissionDefaults(self.store)

    @cached_property
    def approvals(self) -> ApprovalService:
        """The approval inbox: cards, decisions, timeouts."""
        from stagent.governance.approvals import ApprovalService

        return ApprovalService(
            self.store,
            timeout_seconds=self.settings.approval_timeout_seconds,
            contained=lambda: self.containment.status().available,
        )

    @cached_property
    def gate(self) -> PermissionGate:
        """Where every tool call of every runtime is decided (rules, then the inbox)."""
        from stagent.governance.gate import GovernedGate

        return GovernedGate(
            self.store, self.approvals, home=self.settings.home, owner_token=self.owner_token
        )

    @cached_property
    def recorder(self) -> UsageRecorder:
        """Prices usage and writes ledger rows (the price table with the person's overrides)."""
        from stagent.ledger.prices import load_price_table
        from stagent.ledger.recorder import UsageRecorder

        return UsageRecorder(
            load_price_table(user_file=self.prices_override_path),
            is_simulated=self.runtimes.is_simulated,
        )

    @cached_property
    def budgets(self) -> BudgetService:
        """Spending caps, the usage ledger and its prices."""
        from stagent.governance.budgets import BudgetService

        return BudgetService(
            self.store, self.recorder, self.runtimes, timezone=self.settings.timezone
        )

    @cached_property
    def ledger(self) -> LedgerService:
        """The cost ledger: listings, imports of hand-run sessions, summaries, audits.

        Listing rows builds no budget service (its zone is asked for only by summaries)."""
        from stagent.ledger.service import LedgerService

        return LedgerService(self.store, self.recorder, lambda: self.budgets.zone)

    @property
    def prices_override_path(self) -> Path:
        """The person's price overrides (same format as the shipped ``prices.yaml``)."""
        return self.settings.home / "prices.yaml"

    @cached_property
    def guard(self) -> RunGuard:
        """The budget pre-flight every provider call passes."""
        from stagent.governance.budgets_guard import BudgetGuard

        return BudgetGuard(self.budgets)

    @cached_property
    def scans(self) -> ScanService:
        """Environment scans: run (one cached scanner per process), store, history."""
        from stagent.scanner.service import ScanService

        return ScanService(
            self.store,
            keep=self.settings.scan_history_keep,
            keep_days=self.settings.scan_history_days,
        )

    @cached_property
    def schedules(self) -> ScheduleService:
        """Schedules: create and edit them, claim due occurrences, decide firings."""
        from stagent.governance.budgets_windows import local_timezone, zone_name
        from stagent.scheduler.queue import enqueue_firing
        from stagent.scheduler.service import ScheduleService

        return ScheduleService(
            self.store,
            check_runtime=self._check_schedule_target,
            admit=self._admit_firing,
            run_task=self.tasks.run,
            enqueue=lambda firing_id: enqueue_firing(self.queue, firing_id),
            require_ready=self.tasks.require_ready,
            engine_status=self.queue.status,
            workflows=_ScheduleWorkflows(self),
            simulated=self._simulated_runtimes,
            default_zone=self.settings.timezone or zone_name(local_timezone()),
            grace_seconds=self.settings.schedule_grace_seconds,
        )

    def _simulated_runtimes(self) -> frozenset[str]:
        """The runtimes that call no model (the scripted one)."""
        return frozenset(n for n in self.runtimes.names() if self.runtimes.is_simulated(n))

    def _check_schedule_target(self, runtime: str, profile: str | None) -> None:
        """A schedule's runtime must exist and its profile must exist and support it."""
        self.runtimes.require(runtime)
        if profile:
            self.profiles.check(profile, runtime)

    def _admit_firing(self, runtime: str, project_id: str | None) -> str | None:
        """The budget check of a schedule firing: its reservation id, or `BudgetBlockedError`."""
        from stagent.governance.budgets_policy import CallScope

        call = CallScope(runtime=runtime, project_id=project_id, activity="scheduled_firing")
        return self.budgets.check(call).reservation_id

    @classmethod
    def temporary(cls, directory: Path, **overrides: Any) -> Self:
        """A workspace whose data lives in ``directory`` (for tests and demos)."""
        return cls(Settings(home=directory, **overrides))

    @property
    def is_worker(self) -> bool:
        """True if this process executes queued tasks."""
        return self._lease is not None

    @property
    def executor_id(self) -> str | None:
        """This process's executor id while it is a worker."""
        return self._lease.executor_id if self._lease else None

    @property
    def owner_token_path(self) -> Path:
        """Where the person's token lives (mode 0600); agents never get this path or its value."""
        return self.settings.home / "owner.token"

    def owner_token(self) -> str:
        """The person's token: it authorizes governance decisions (approve, deny, caps, rules).

        Created on first use. `STAGENT_TOKEN`, when set, is used instead.
        """
        if self.settings.token:
            return self.settings.token
        path = self.owner_token_path
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_urlsafe(32))
        return path.read_text().strip()

    def open(self) -> Self:
        """Check the database and apply pending migrations."""
        if not self.settings.home.exists():
            self.settings.home.mkdir(parents=True, mode=0o700)
        self.store.upgrade()
        self.store.watch_other_processes()
        self._enrol_owner()
        self.store.scrub_secrets(self.secrets())
        return self

    def _enrol_owner(self) -> None:
        """The first owner token a database sees is its person's (see `governance.owner`)."""
        with self.store.read() as session:
            if owner_repo.owner_fingerprint(session) is not None:
                return
        with self.store.write() as session:
            owner_repo.enrol_owner(session, owner_repo.fingerprint(self.owner_token()))

    def secrets(self) -> list[str]:
        """What never reaches an event log: the owner token, ``STAGENT_TOKEN`` and configured
        secrets (environment variables named like ``*_KEY``, ``*_TOKEN``, ``*_SECRET``...)."""
        return [self.owner_token(), *secret_values(os.environ)]

    def start_worker(self, kind: WorkerKind = "worker") -> None:
        """Launch the durable engine here: this process now runs queued tasks and recovers runs
        that dead processes left behind."""
        if self._lease is not None:
            return
        from stagent.engine import durable  # DBOS: only processes that execute tasks load it
        from stagent.engine.executor import RunContext
        from stagent.engine.leases import ExecutorLease, new_executor_id
        from stagent.engine.reconcile import reconcile

        executor_id = new_executor_id(kind)
        context = RunContext(
            store=self.store,
            runtimes=self.runtimes,
            gate=self.gate,
            guard=self.guard,
            home=self.settings.home,
            profiles=_Profiles(self),
        )
        # Another worker's firing queue is polled from the launch on: be ready to decide firings
        # first (`stagent.scheduler.durable`).
        from stagent.scheduler import durable as firing_engine

        firing_engine.bind(self.schedules)
        durable.launch(self.settings, self.store.url, executor_id, context)
        self._lease = ExecutorLease(
            self.store,
            executor_id,
            kind,
            self.settings.executor_lease_seconds,
            durable.recover_executor,
            on_beat=self.housekeeping,
        )
        self._lease.start()
        counts = reconcile(self.store, self.queue)
        if any(counts.values()):
            log.warning("reconciled tasks after a restart: %s", counts)
        self.approvals.sweep()
        self._start_scheduler(kind)
        freeze_loaded()  # the engine's modules and state: out of the collector's walks

    def housekeeping(self) -> None:
        """What a worker does on each heartbeat: bring task rows and engine runs back into
        agreement, and close approval cards that expired or whose task ended. (Reads never do
        this: they never write.)"""
        from stagent.engine.reconcile import reconcile

        self.store.publish()  # events a crashed writer committed but never published
        reconcile(self.store, self.queue)
        self.approvals.sweep()

    def _start_scheduler(self, kind: WorkerKind) -> None:
        """Register the firing queue here; long-lived workers also claim due occurrences."""
        from stagent.scheduler import durable as firing_engine
        from stagent.scheduler.loop import SchedulerLoop

        firing_engine.activate(poll_seconds=self.settings.queue_poll_seconds)
        if kind in LONG_LIVED_WORKERS:
            self._scheduler = SchedulerLoop(self.schedules, self.settings.schedule_poll_seconds)
            self._scheduler.start()

    def stop_worker(self) -> None:
        """Stop executing tasks (runs in flight are recovered by the next worker)."""
        if self._lease is None:
            return
        if self._scheduler is not None:
            self._scheduler.stop()
            self._scheduler = None
        self._lease.stop()
        self._lease = None
        from stagent.engine import durable
        from stagent.scheduler import durable as firing_engine

        durable.shutdown()
        firing_engine.unbind()  # only now: until DBOS stops, it may still dequeue a firing

    def announce_api(self, url: str) -> None:
        """Record that this process's worker answers the JSON API at ``url`` (``serve`` does,
        once its worker runs), so ``stagent task run`` on this machine can hand a run to it
        without starting the engine itself (`stagent.handoff`)."""
        from stagent.locations import API_ADDRESS_KEY
        from stagent.store import settings as settings_repo

        if self._lease is None:
            return
        value = {"executor_id": self._lease.executor_id, "url": url}
        with self.store.write() as session:
            settings_repo.put(session, API_ADDRESS_KEY, value)

    def forget_api(self) -> None:
        """Withdraw this process's `announce_api` (another server's record stays)."""
        from stagent.locations import API_ADDRESS_KEY
        from stagent.store import settings as settings_repo

        if self._lease is None:
            return
        with self.store.write() as session:
            value: Any = settings_repo.get(session, API_ADDRESS_KEY)
            if isinstance(value, dict) and value.get("executor_id") == self._lease.executor_id:  # pyright: ignore[reportUnknownMemberType]
                settings_repo.delete(session, API_ADDRESS_KEY)

    def live_workers(self) -> int:
        """How many long-lived workers (``serve`` and ``worker`` processes) hold a fresh lease.

        A CLI that runs one task in-process is not counted: it exits when its task ends.
        """
        lease = timedelta(seconds=self.settings.executor_lease_seconds)
        with self.store.read() as session:
            return executor_repo.live_worker_count(session, lease, LONG_LIVED_WORKERS)

    def schema_revision(self) -> str | None:
        """The database's migration revision (None if never migrated)."""
        return current_revision(self.store.engine)

    def close(self) -> None:
        """Stop the worker (if any) and release every connection."""
        self.stop_worker()
        self.queue.close()
        self.store.dispose()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class _ScheduleWorkflows:
    """The scheduler's view of workflows and blueprints (`stagent.scheduler.targets`)."""

    def __init__(self, ws: Workspace) -> None:
        self._ws = ws

    def check(self, target: Target) -> Target:
        """See `stagent.scheduler.targets.WorkflowTargets`."""
        import dataclasses

        from stagent.domain.schedules import TargetKind

        if target.kind is TargetKind.BLUEPRINT:
            self.definition(target)
            return target
        workflow = self._ws.workflows.get(target.ref or "")
        self.check_runnable(workflow.current)
        return dataclasses.replace(target, ref=workflow.id)

    def definition(self, target: Target) -> WorkflowDefinition:
        """See `stagent.scheduler.targets.WorkflowTargets`."""
        instance = self._ws.profiles.instantiate(
            target.ref or "", target.variables, runtime=target.runtime
        )
        self.check_runnable(instance.definition)
        return instance.definition

    def check_runnable(self, definition: WorkflowDefinition) -> None:
        """See `stagent.scheduler.targets.WorkflowTargets`."""
        self._ws.workflows.check_runnable(definition)

    def require_ready(self, definition: WorkflowDefinition) -> None:
        """See `stagent.scheduler.targets.WorkflowTargets`."""
        self._ws.workflows.require_ready(definition)

    def start(self, engine_id: str, workflow_id: str, run_number: int) -> None:
        """See `stagent.scheduler.targets.WorkflowTargets`."""
        if self._ws.queue.status(engine_id) is None:
            self._ws.queue.enqueue_workflow(engine_id, workflow_id, run_number)


class _Profiles:
    """The task service's profile resolver; the catalog loads when a task first names one."""

    def __init__(self, ws: Workspace) -> None:
        self._ws = ws

    def check(self, profile_id: str, runtime: str) -> None:
        """See `stagent.engine.profile_hook.ProfileResolver`."""
        self._ws.profiles.check(profile_id, runtime)

    def resolve(
        self, profile_id: str, runtime: str, title: str, description: str, config: dict[str, Any]
    ) -> tuple[str, dict[str, Any], str]:
        """See `stagent.engine.profile_hook.ProfileResolver`."""
        return self._ws.profiles.resolve(profile_id, runtime, title, description, config)
