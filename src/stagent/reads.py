"""What the read-only commands see: tasks, their runs and events, projects.

``stagent task list``, ``task show``, ``task runs``, ``project list`` and ``inbox`` only look.
On a SQLite file at the newest migration they read it with plain ``sqlite3``
(`stagent.store.sqlite_reads`), without building a `Workspace` (whose store imports SQLAlchemy's
ORM, a third of a second of start-up). Anywhere else they open the workspace as every other
command does and read through its services. Both give the same domain values, so the commands
print (and ``--json`` returns) the same thing either way.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from contextlib import AbstractContextManager, contextmanager
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from stagent.domain.approvals import Approval
    from stagent.domain.events import LoggedEvent
    from stagent.domain.runs import Run
    from stagent.domain.tasks import Project, Task, TaskStatus
    from stagent.runtimes.registry import RuntimeRegistry
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

    def task_counts(self) -> dict[str, dict[str, int]]:
        """Per project id, its task count by status (tasks not deleted)."""
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

    def task_counts(self) -> dict[str, dict[str, int]]:
        """See `TaskReader.task_counts`."""
        return self._ws.projects.task_counts()


SIMULATED_BUILTINS = frozenset({"scripted"})
"""The built-in runtimes that call no model (`stagent.runtimes.registry.default_registry`'s
simulated ones; a test keeps them equal). The plain-sqlite path uses it so it imports no runtime."""


class Reads:
    """A `TaskReader` and the names of the runtimes labelled simulated."""

    def __init__(self, reader: TaskReader, simulated: frozenset[str]) -> None:
        self.reader = reader
        self._simulated = simulated

    def simulated_runtimes(self) -> frozenset[str]:
        """Names of the runtimes that involve no model (labelled simulated)."""
        return self._simulated


def simulated_names(runtimes: RuntimeRegistry) -> frozenset[str]:
    """The names of ``runtimes`` that involve no model."""
    return frozenset(name for name in runtimes.names() if runtimes.is_simulated(name))


@contextmanager
def open_reads(
    database_url: str, open_workspace: Callable[[], AbstractContextManager[Workspace]]
) -> Generator[Reads]:
    """Reads of the database at ``database_url``: plain ``sqlite3`` when the database allows,
    else through ``open_workspace()`` (which reads the full settings and may migrate it)."""
    from stagent.store.sqlite_reads import open_sqlite_reads

    fast = open_sqlite_reads(database_url)
    if fast is None:
        with open_workspace() as ws:
            yield Reads(WorkspaceReader(ws), simulated_names(ws.runtimes))
        return
    try:
        yield Reads(fast, SIMULATED_BUILTINS)
    finally:
        fast.close()
