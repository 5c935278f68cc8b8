"""The Workflows pages: the list (by status and pattern), the editor (a form and a YAML view of
one definition) and a run view with a live graph of the steps and the run's actions."""

from __future__ import annotations

from collections import Counter
from typing import Annotated, Any

from fastapi import Query, Request
from starlette.responses import Response

from stagent.domain.errors import NotFoundError, StagentError
from stagent.domain.workflow_files import WorkflowDefinitionError
from stagent.domain.workflow_runs import BUILT_PATTERNS
from stagent.domain.workflows import PATTERNS
from stagent.web.deps import WorkspaceDep
from stagent.web.routers import ui_router
from stagent.web.ui import workflow_editor as editor
from stagent.web.ui.rendering import fragment, page, redirect
from stagent.web.ui.stream import Topics
from stagent.web.ui.templating import render
from stagent.web.ui.workflow_views import STATUS_LABELS, STATUSES, run_context, status_badge
from stagent.workspace import Workspace

router = ui_router()


# -- the list ---------------------------------------------------------------------------------


def _filter_links(
    counts: Counter[str], chosen: str | None, other: tuple[str, str | None], key: str
) -> list[dict[str, Any]]:
    """Filter chips: one per value (with its count), plus "All"."""
    other_key, other_value = other
    keep = f"&{other_key}={other_value}" if other_value else ""
    values = STATUSES if key == "status" else PATTERNS
    labels = STATUS_LABELS if key == "status" else {p: p for p in PATTERNS}
    links = [{"label": "All", "href": f"/workflows?{keep.lstrip('&')}", "on": chosen is None}]
    links += [
        {
            "label": labels[v],
            "count": counts.get(v, 0),
            "href": f"/workflows?{key}={v}{keep}",
            "on": chosen == v,
        }
        for v in values
    ]
    return links


@router.get("/workflows")
def workflows_page(
    request: Request,
    ws: WorkspaceDep,
    status: Annotated[str | None, Query(max_length=20)] = None,
    pattern: Annotated[str | None, Query(max_length=30)] = None,
) -> Response:
    """Every workflow, filtered by status and pattern, with the steps of its latest run."""
    status = status if status in STATUSES else None
    pattern = pattern if pattern in PATTERNS else None
    everything = ws.workflows.list()
    shown = [
        w
        for w in everything
        if (status is None or w.status.value == status)
        and (pattern is None or w.pattern == pattern)
    ]
    listed = [ws.workflows.get(w.id) for w in shown]
    return page(
        request,
        "pages/workflows.html",
        active="workflows",
        title="Workflows",
        workflows=listed,
        badges={w.id: status_badge(ws, w) for w in listed},
        total=len(everything),
        status_links=_filter_links(
            Counter(w.status.value for w in everything), status, ("pattern", pattern), "status"
        ),
        pattern_links=_filter_links(
            Counter(w.pattern for w in everything), pattern, ("status", status), "pattern"
        ),
        filtered=status is not None or pattern is not None,
        built_patterns=BUILT_PATTERNS,
    )


# -- the editor -------------------------------------------------------------------------------


def _editor_context(ws: Workspace, state: editor.EditorState, save_url: str) -> dict[str, Any]:
    return {
        "st": state,
        "save_url": save_url,
        "patterns": editor.PATTERN_LABELS,
        "runtimes": ws.runtimes.all(),
        "projects": ws.projects.list(),
        "role": editor.role,
    }


def _editor_page(
    request: Request, ws: WorkspaceDep, state: editor.EditorState, save_url: str, title: str
) -> Response:
    return page(
        request,
        "pages/workflow_edit.html",
        active="workflows",
        title=title,
        **_editor_context(ws, state, save_url),
    )


@router.get("/workflows/new")
def new_workflow(
    request: Request,
    ws: WorkspaceDep,
    pattern: Annotated[str, Query(max_length=30)] = "sequence",
) -> Response:
    """The editor with a small working example of the chosen pattern."""
    state = editor.state_from_data(editor.starter(pattern), mode="form")
    return _editor_page(request, ws, state, "/ui/workflows", "New workflow")


@router.get("/workflows/{ref}/edit")
def edit_workflow(request: Request, ref: str, ws: WorkspaceDep) -> Response:
    """The editor over a stored workflow's definition."""
    workflow = ws.workflows.get(ref)
    data = workflow.current.model_dump(mode="json", exclude_none=True)
    state = editor.state_from_data(data, mode="form", project=workflow.project_id or "")
    return _editor_page(
        request, ws, state, f"/ui/workflows/{workflow.id}/edit", f"Edit {workflow.name}"
    )


async def _form(request: Request) -> dict[str, str]:
    data = await request.form()
    return {key: str(value) for key, value in data.items() if isinstance(value, str)}


def _switch(form: dict[str, str], action: str) -> editor.EditorState:
    """Apply one editor action to the posted form; errors stay in the view they came from."""
    mode = form.get("mode", "form")
    if mode == "yaml":
        text = form.get("yaml", "")
        if action != "to-form":
            return editor.EditorState(mode="yaml", yaml_text=text, project=form.get("project", ""))
        try:
            data = editor.data_from_yaml(text)
        except WorkflowDefinitionError as exc:
            state = editor.EditorState(mode="yaml", yaml_text=text, project=form.get("project", ""))
            return editor.with_error(state, exc)
        return editor.state_from_data(data, mode="form", project=form.get("project", ""))
    state = editor.state_from_form(form)
    if action == "to-yaml":
        try:
            data = editor.data_from_form(form)
        except WorkflowDefinitionError as exc:
            return editor.with_error(state, exc)
        return editor.state_from_data(data, mode="yaml", project=state.project)
    if action == "add-step":
        state.steps.append(editor.blank_step(len(state.steps)))
    elif action.startswith("remove-step:"):
        index = action.split(":", 1)[1]
        if index.isdigit() and int(index) < len(state.steps) and len(state.steps) > 1:
            state.steps.pop(int(index))
    elif action == "pattern" and editor.is_untouched(form):
        data = editor.starter(state.pattern, state.name)
        return editor.state_from_data(data, mode="form", project=state.project)
    return state


@router.post("/ui/workflows/editor")
async def editor_action(request: Request, ws: WorkspaceDep) -> Response:
    """Switch between the form and YAML, add or remove a step, or change the pattern."""
    form = await _form(request)
    state = _switch(form, form.get("do", ""))
    save_url = form.get("save_url", "/ui/workflows")
    if not save_url.startswith("/ui/workflows"):
        save_url = "/ui/workflows"
    return fragment(
        render("fragments/workflow_editor.html", **_editor_context(ws, state, save_url))
    )


def _save(ws: Workspace, form: dict[str, str], ref: str | None) -> Response:
    mode = form.get("mode", "form")
    project = form.get("project", "").strip() or None
    try:
        definition = editor.validate(mode, form, ws.workflows.step_refusals)
        text = form.get("yaml") if mode == "yaml" else None  # so an error cites its line
        if ref is None:
            workflow = ws.workflows.add(
                definition, project=project, source=editor.SOURCE, text=text
            )
        else:
            workflow = ws.workflows.update(
                ref, definition, project=project, source=editor.SOURCE, text=text
            ).workflow
    except StagentError as exc:
        if mode == "yaml":
            state = editor.EditorState(
                mode="yaml", yaml_text=form.get("yaml", ""), project=project or ""
            )
        else:
            state = editor.state_from_form(form)
        save_url = "/ui/workflows" if ref is None else f"/ui/workflows/{ref}/edit"
        html = render(
            "fragments/workflow_editor.html",
            **_editor_context(ws, editor.with_error(state, exc), save_url),
        )
        return fragment(html)
    return redirect(f"/workflows/{workflow.id}")


@router.post("/ui/workflows")
async def create_workflow(request: Request, ws: WorkspaceDep) -> Response:
    """Validate and store a new workflow, then open it (or show where the definition is wrong)."""
    return _save(ws, await _form(request), None)


@router.post("/ui/workflows/{ref}/edit")
async def save_workflow(ref: str, request: Request, ws: WorkspaceDep) -> Response:
    """Validate and store an edited definition."""
    return _save(ws, await _form(request), ref)


# -- the run view -----------------------------------------------------------------------------


@router.get("/workflows/{ref}")
def workflow_page(request: Request, ref: str, ws: WorkspaceDep) -> Response:
    """One workflow: its latest run as a live graph, with run, pause, resume, cancel, retry."""
    workflow = ws.workflows.get(ref)
    # as a person writes it: what they set, not every default (`depends_on: []`, `retry: ...`)
    data = workflow.definition.model_dump(mode="json", exclude_none=True, exclude_defaults=True)
    after = ws.tasks.last_seq()
    return page(
        request,
        "pages/workflow.html",
        active="workflows",
        title=workflow.name,
        topics=Topics(workflows=frozenset({workflow.id})),
        after=after,
        yaml_text=editor.to_yaml(data),
        **run_context(ws, workflow),
    )


@router.get("/ui/workflows/{ref}/run")
def run_view(ref: str, ws: WorkspaceDep) -> Response:
    """The run view's live part alone."""
    return fragment(render("fragments/workflow_run.html", **run_context(ws, ws.workflows.get(ref))))


@router.post("/ui/workflows/{ref}/steps/{step}/retry")
def retry_step(ref: str, step: str, ws: WorkspaceDep) -> Response:
    """Run a failed step again, then what follows it."""
    workflow = ws.workflows.retry(ref, step)
    return fragment(render("fragments/workflow_run.html", **run_context(ws, workflow)))


@router.post("/ui/workflows/{ref}/steps/{step}/rerun")
def rerun_from_step(ref: str, step: str, ws: WorkspaceDep) -> Response:
    """A new run from a step: it and what depends on it run again, the rest is reused."""
    workflow = ws.workflows.rerun(ref, step)
    return fragment(render("fragments/workflow_run.html", **run_context(ws, workflow)))


@router.post("/ui/workflows/{ref}/{action}")
def act(ref: str, action: str, ws: WorkspaceDep) -> Response:
    """Run, pause, resume or cancel; answers with the updated run view."""
    service = ws.workflows
    actions = {
        "run": service.run,
        "pause": service.pause,
        "resume": service.resume,
        "cancel": service.cancel,
    }
    if action not in actions:
        raise NotFoundError(f"action: {action!r} is not run, pause, resume or cancel")
    workflow = actions[action](ref)
    return fragment(render("fragments/workflow_run.html", **run_context(ws, workflow)))
