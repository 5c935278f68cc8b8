"""What the read-only commands see: tasks, their runs and events, projects.

``stagent task list``, ``task show``, ``task runs`` and ``inbox`` only look. On a SQLite
file at the newest migration they read it with plain ``sqlite3``
(`stagent.store.sqlite_reads`), without building a `Workspace` (whose store imports SQLAlchemy's
ORM, a third of a second of start-up). Anywhere else they open the workspace as every other
command does and read through its services. Both give the same domain values, so the commands
print (and ``--json`` returns) the same thing either way.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from contextlib import AbstractContextManager, contextmanager
from typing import TYPE_CHECKING, Protocol

from stagent.runtimes.registry import RuntimeRegistry, default_registry

if TYPE_CHECKING:
    from stagent.domain.approvals import Approval
    from stagent.domain.events import LoggedEvent
    from stagent.domain.runs import Run
    from stagent.domain.tasks import Project, Task, TaskStatus
    from stagent.settings import Settings
    from stagent.workspace import Workspace


class TaskReader(Protocol):
    """The reads both paths answer (`SqliteReads` and `WorkspaceReader`)."""

    def tasks(self, *, status: TaskStatus | None = None, project: str | None = None) -> list[Task]:
        """Tasks, newest first; ``project`` is an id or a name."""
        ...

    def task(self, task_id: str) -> Task:
        """One task, or `NotFoundError`."""
        ...

    def runs(self, task_id: str) -> list[Run]:
        """A task's runs, oldest first."""
        ...

    def events(self, task_id: str) -> list[LoggedEvent]:
        """A task's events in order."""
        ...

    def projects(self) -> list[Project]:
        """All projects, by name."""
        ...

    def project(self, ref: str) -> Project:
        """A project by id or name, or `NotFoundError`."""
        ...

    def pending_approvals(self) -> list[Approval]:
        """Cards waiting for a person, oldest first."""
        ...


class WorkspaceReader:
    """The reads through an opened workspace's services."""

    def __init__(self, ws: Workspace) -> None:
        self._ws = ws

    def tasks(self, *, status: TaskStatus | None = None, project: str | None = None) -> list[Task]:
        """See `TaskReader.tasks`."""
        return self._ws.tasks.list(status=status, project=project)

    def task(self, task_id: str) -> Task:
        """See `TaskReader.task`."""
        return self._ws.tasks.get(task_id)

    def runs(self, task_id: str) -> list[Run]:
        """See `TaskReader.runs`."""
        return self._ws.tasks.runs(task_id)

    def events(self, task_id: str) -> list[LoggedEvent]:
        """See `TaskReader.events`."""
        return self._ws.tasks.events(task_id)

    def projects(self) -> list[Project]:
        """See `TaskReader.projects`."""
        return self._ws.projects.list()

    def project(self, ref: str) -> Project:
        """See `TaskReader.project`."""
        return self._ws.projects.get(ref)

    def pending_approvals(self) -> list[Approval]:
        """See `TaskReader.pending_approvals`."""
        return self._ws.approvals.list_pending()


class Reads:
    """A `TaskReader` and the runtime registry (which runtimes are simulated)."""

    def __init__(self, reader: TaskReader, runtimes: RuntimeRegistry) -> None:
        self.reader = reader
        self.runtimes = runtimes

    def simulated_runtimes(self) -> set[str]:
        """Names of the runtimes that involve no model (labelled simulated)."""
        return {name for name in self.runtimes.names() if self.runtimes.is_simulated(name)}


@contextmanager
def open_reads(
    settings: Settings, open_workspace: Callable[[], AbstractContextManager[Workspace]]
) -> Generator[Reads]:
    """Reads of the workspace ``settings`` name: plain ``sqlite3`` when the database allows,
    else through ``open_workspace()`` (which may migrate it)."""
    from stagent.store.sqlite_reads import open_sqlite_reads

    fast = open_sqlite_reads(settings.resolved_database_url)
    if fast is None:
        with open_workspace() as ws:
            yield Reads(WorkspaceReader(ws), ws.runtimes)
        return
    try:
        yield Reads(fast, default_registry(settings.home, check_ready=False))
    finally:
        fast.close()
