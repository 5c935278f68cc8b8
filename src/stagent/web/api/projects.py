"""``/api/v1/projects``: create, list, inspect and delete projects."""

from __future__ import annotations

from fastapi import Response, status

from stagent.web.api.models import ListOut, ProjectIn, ProjectOut, list_of
from stagent.web.deps import WorkspaceDep
from stagent.web.routers import api_router

router = api_router("/projects", tags=["projects"])


@router.get("", response_model=ListOut[ProjectOut])
def list_projects(ws: WorkspaceDep) -> ListOut[ProjectOut]:
    """All projects by name, each with its task counts by status."""
    counts = ws.projects.task_counts()
    return list_of([ProjectOut.of(p, counts.get(p.id)) for p in ws.projects.list()])


@router.post("", status_code=status.HTTP_201_CREATED, response_model=ProjectOut)
def create_project(body: ProjectIn, ws: WorkspaceDep) -> ProjectOut:
    """Create a project (409 if the name is taken)."""
    project = ws.projects.create(body.name, description=body.description, directory=body.directory)
    return ProjectOut.of(project)


@router.get("/{ref}", response_model=ProjectOut)
def get_project(ref: str, ws: WorkspaceDep) -> ProjectOut:
    """One project, by id or name."""
    project = ws.projects.get(ref)
    return ProjectOut.of(project, ws.projects.task_counts().get(project.id))


@router.delete("/{ref}", status_code=status.HTTP_204_NO_CONTENT)
def delete_project(ref: str, ws: WorkspaceDep) -> Response:
    """Delete a project; its tasks are kept, without a project."""
    ws.projects.delete(ref)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
