"""``/api/v1/workflows``: add (YAML, JSON text or an object), edit (``PUT``, the same body), list,
show, run, pause, resume, cancel, retry a failed step and re-run from a step. (A checkpoint is
decided like any approval card: ``/api/v1/approvals/{id}/allow`` with an optional ``comment``,
or ``.../deny``.) Responses use `stagent.schemas.workflows` (as ``--json`` does)."""

from __future__ import annotations

from typing import Annotated, Any, cast

from fastapi import status
from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema
from pydantic.json_schema import SkipJsonSchema

from stagent.domain.errors import ValidationError
from stagent.domain.workflow_runs import Workflow
from stagent.domain.workflows import WorkflowDefinition
from stagent.engine.workflow_service import Keep
from stagent.schemas.workflows import EditedWorkflowSchema, WorkflowSchema
from stagent.web.api.models import ListOut, list_of
from stagent.web.deps import WorkspaceDep
from stagent.web.routers import api_router
from stagent.workspace import Workspace

router = api_router("/workflows", tags=["workflows"])


def _inlined(schema: dict[str, Any]) -> dict[str, Any]:
    """``schema`` with its ``$defs`` references written out (a request body's field cannot
    point into a model's own definitions)."""
    defs = cast(dict[str, Any], schema.pop("$defs", {}))

    def resolve(node: object) -> object:
        if isinstance(node, dict):
            data = cast(dict[str, Any], node)
            ref = data.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                return resolve(defs[ref.removeprefix("#/$defs/")])
            return {key: resolve(value) for key, value in data.items()}
        if isinstance(node, list):
            return [resolve(value) for value in cast(list[object], node)]
        return node

    return cast(dict[str, Any], resolve(schema))


Definition = Annotated[
    dict[str, Any], WithJsonSchema(_inlined(WorkflowDefinition.model_json_schema()))
]
"""A definition object: its fields in the schema, checked by `WorkflowService.parse` (which names
the step and field of a problem, and checks what the schema cannot: steps that refer to each
other, a pattern's own settings, run options)."""


class WorkflowIn(BaseModel):
    """A workflow's definition as an object, or as YAML or JSON text (not both): a new one
    (``POST``) or the edit of a stored one (``PUT``)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"oneOf": [{"required": ["definition"]}, {"required": ["text"]}]},
    )

    definition: Definition | SkipJsonSchema[None] = None
    text: str | SkipJsonSchema[None] = Field(
        default=None, description="the definition as YAML or JSON text"
    )
    project: str | None = Field(
        default=None,
        description="project id or name (an edit keeps the stored one unless this is sent; "
        "null: no project)",
    )


@router.get("", response_model=ListOut[WorkflowSchema])
def list_workflows(ws: WorkspaceDep) -> ListOut[WorkflowSchema]:
    """Workflows, newest first."""
    return list_of([WorkflowSchema.of(w) for w in ws.workflows.list()])


@router.post("", status_code=status.HTTP_201_CREATED, response_model=WorkflowSchema)
def add_workflow(body: WorkflowIn, ws: WorkspaceDep) -> WorkflowSchema:
    """Validate and store a definition (a 422 names the line, step and field)."""
    _one_of(body)
    if body.text is not None:
        return _out(ws, ws.workflows.add_text(body.text, project=body.project))
    definition = ws.workflows.parse(body.definition, source="definition")
    return _out(ws, ws.workflows.add(definition, project=body.project))


@router.put("/{workflow_id}", response_model=EditedWorkflowSchema)
def edit_workflow(workflow_id: str, body: WorkflowIn, ws: WorkspaceDep) -> EditedWorkflowSchema:
    """Replace a stored definition, validated as a new one is (a 422 names each problem's
    line, step and field), and say what changed (``changes``). A 409 while a run of it is
    running or paused: its hint says to wait for the run's end or cancel it."""
    _one_of(body)
    project = body.project if "project" in body.model_fields_set else Keep.PROJECT
    if body.text is not None:
        edited = ws.workflows.update_text(workflow_id, body.text, project=project)
    else:
        ws.workflows.get_id(workflow_id)  # a 404 before the definition's problems
        definition = ws.workflows.parse(body.definition, source="definition")
        edited = ws.workflows.update(workflow_id, definition, project=project)
    return EditedWorkflowSchema.edited(edited, ws.workflows.step_costs(edited.workflow))


def _one_of(body: WorkflowIn) -> None:
    if (body.definition is None) == (body.text is None):
        raise ValidationError("definition: send either definition (an object) or text (YAML/JSON)")


@router.get("/{workflow_id}", response_model=WorkflowSchema)
def get_workflow(workflow_id: str, ws: WorkspaceDep) -> WorkflowSchema:
    """One workflow with the steps of its latest run."""
    return _out(ws, ws.workflows.get(workflow_id))


@router.post("/{workflow_id}/run", response_model=WorkflowSchema)
def run_workflow(workflow_id: str, ws: WorkspaceDep) -> WorkflowSchema:
    """Start a new run (409 while one is running or paused)."""
    return _out(ws, ws.workflows.run(workflow_id))


@router.post("/{workflow_id}/pause", response_model=WorkflowSchema)
def pause_workflow(workflow_id: str, ws: WorkspaceDep) -> WorkflowSchema:
    """Pause before the next step."""
    return _out(ws, ws.workflows.pause(workflow_id))


@router.post("/{workflow_id}/resume", response_model=WorkflowSchema)
def resume_workflow(workflow_id: str, ws: WorkspaceDep) -> WorkflowSchema:
    """Resume a paused run at its first unfinished step."""
    return _out(ws, ws.workflows.resume(workflow_id))


@router.post("/{workflow_id}/cancel", response_model=WorkflowSchema)
def cancel_workflow(workflow_id: str, ws: WorkspaceDep) -> WorkflowSchema:
    """Cancel a running or paused run and its step in flight."""
    return _out(ws, ws.workflows.cancel(workflow_id))


@router.post("/{workflow_id}/steps/{step_id}/retry", response_model=WorkflowSchema)
def retry_step(workflow_id: str, step_id: str, ws: WorkspaceDep) -> WorkflowSchema:
    """Run a failed step again, then what follows it."""
    return _out(ws, ws.workflows.retry(workflow_id, step_id))


@router.post("/{workflow_id}/steps/{step_id}/rerun", response_model=WorkflowSchema)
def rerun_from_step(workflow_id: str, step_id: str, ws: WorkspaceDep) -> WorkflowSchema:
    """Start a new run from a step: it and what depends on it run again, the other steps
    reuse their outputs from the latest run (409 while a run is running or paused)."""
    return _out(ws, ws.workflows.rerun(workflow_id, step_id))


def _out(ws: Workspace, workflow: Workflow) -> WorkflowSchema:
    """The workflow with each step's cost so far (as `stagent workflow ... --json`)."""
    return WorkflowSchema.of(workflow, ws.workflows.step_costs(workflow))
