"""The Schedules pages: the list with next fire times, a schedule's detail and firing history,
and one create/edit form with a live preview of the next five fire times."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import Form, Request
from starlette.responses import Response

from stagent.domain.errors import NotFoundError, StagentError, ValidationError
from stagent.scheduler.drafts import ScheduleDraft
from stagent.schemas.schedules import LIST_HISTORY, SHOW_HISTORY, ScheduleOut, schedule_out
from stagent.web.deps import WorkspaceDep
from stagent.web.routers import ui_router
from stagent.web.ui.forms import blank_to_none, parse_scenario_text
from stagent.web.ui.rendering import fragment, page, redirect
from stagent.web.ui.templating import render
from stagent.workspace import Workspace

router = ui_router()

Text = Annotated[str, Form()]
WHEN_KINDS = {
    "every": "Every (15m, 2h, 1d, or a phrase)",
    "cron": "Cron or phrase",
    "at": "Once at",
}


def fmt(value: datetime | None, tz: str) -> str:
    """An instant in the schedule's zone, for people: ``Mon 7 Dec 2026 09:00 CET`` (seconds
    only when they are not zero)."""
    if value is None:
        return ""
    local = value.astimezone(ZoneInfo(tz))
    clock = "%H:%M:%S" if local.second else "%H:%M"
    return local.strftime(f"%a {local.day} %b %Y {clock} %Z")


def _view(out: ScheduleOut, ws: Workspace | None = None) -> dict[str, Any]:
    tz = out.when.tz
    return {
        "s": out,
        "target_name": _target_name(out, ws),
        "next": fmt(out.next_fire_at, tz),
        "upcoming": [fmt(t, tz) for t in out.upcoming],
        "expires": fmt(out.expires_at, tz),
        "firings": [{"f": f, "at": fmt(f.occurrence_at, tz)} for f in out.firings],
    }


def _target_name(out: ScheduleOut, ws: Workspace | None) -> str:
    """What a schedule fires, as a person knows it: a workflow by its name (its id is only
    in the link), a blueprint by its id (which reads as a name)."""
    ref = out.target.ref or ""
    if ws is None or out.target.kind != "workflow":
        return ref
    try:
        return ws.workflows.get(ref).name
    except NotFoundError:
        return "(a removed workflow)"


def _list_context(ws: Workspace) -> dict[str, Any]:
    outs = [schedule_out(ws.schedules, s, history=LIST_HISTORY) for s in ws.schedules.list()]
    return {"rows": [_view(out, ws) for out in outs]}


def _form_context(ws: Workspace, values: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "runtimes": ws.runtimes.all(),
        "projects": ws.projects.list(),
        "workflows": ws.workflows.list(),
        "blueprints": ws.profiles.blueprints().all(),
        "when_kinds": WHEN_KINDS,
        "default_tz": ws.schedules.default_zone,
        "v": values or {},
    }


@router.get("/schedules")
def schedules_page(request: Request, ws: WorkspaceDep) -> Response:
    """Every schedule with its status and next fire time, and the form to add one."""
    return page(
        request,
        "pages/schedules.html",
        active="schedules",
        title="Schedules",
        **_list_context(ws),
        **_form_context(ws),
    )


@router.get("/schedules/{ref}")
def schedule_page(request: Request, ref: str, ws: WorkspaceDep) -> Response:
    """One schedule: its timing, next five fire times, actions, edit form and history."""
    out = schedule_out(ws.schedules, ws.schedules.get(ref), history=SHOW_HISTORY)
    return page(
        request,
        "pages/schedule.html",
        active="schedules",
        title=out.name,
        **_view(out, ws),
        **_form_context(ws, _values_of(out)),
    )


@router.get("/ui/schedules/table")
def schedules_table(ws: WorkspaceDep) -> Response:
    """The list alone (it refreshes itself)."""
    return fragment(render("fragments/schedules_table.html", **_list_context(ws)))


@router.get("/ui/schedules/{ref}/history")
def schedule_history(ref: str, ws: WorkspaceDep) -> Response:
    """A schedule's status line and firing history (it refreshes itself)."""
    out = schedule_out(ws.schedules, ws.schedules.get(ref), history=SHOW_HISTORY)
    return fragment(render("fragments/schedule_history.html", **_view(out, ws)))


def _draft(form: dict[str, str], *, editing: bool = False) -> ScheduleDraft:
    kind, value = form.get("when_kind", "every"), form.get("when", "").strip()
    if kind not in WHEN_KINDS:
        raise ValidationError(f"when_kind: {kind!r} is not one of every, cron, at")
    limit = form.get("max_firings", "").strip()
    try:
        max_firings = int(limit) if limit else None
    except ValueError:
        raise ValidationError(f"max_firings: {limit!r} is not a whole number") from None
    target = form.get("target", "prompt")
    if target not in ("prompt", "workflow", "blueprint"):
        raise ValidationError(f"target: {target!r} is not one of prompt, workflow, blueprint")
    ref = (form.get("target_ref") or "").strip()
    if target != "prompt" and not ref:
        raise ValidationError(f"{target}: name the {target} to fire (its id or name)")
    prompt_target = target == "prompt"
    scenario = parse_scenario_text(form.get("scenario", ""))
    given = value or not editing
    return ScheduleDraft(
        name=form.get("name"),
        prompt=form.get("prompt") if prompt_target else None,
        runtime=blank_to_none(form.get("runtime", "")),
        profile=(
            form.get("profile", "").strip() if editing else blank_to_none(form.get("profile", ""))
        )
        if prompt_target
        else None,
        project=form.get("project", "") if editing else blank_to_none(form.get("project", "")),
        workflow=ref if target == "workflow" else None,
        blueprint=ref if target == "blueprint" else None,
        variables=_variables(form.get("variables", "")) if target == "blueprint" else {},
        clear_limit=form.get("clear_limit") == "1",
        clear_expiry=form.get("clear_expiry") == "1",
        tz=blank_to_none(form.get("tz", "")),
        max_firings=max_firings,
        expires_at=blank_to_none(form.get("expires_at", "")),
        overlap=blank_to_none(form.get("overlap", "")),
        missed=blank_to_none(form.get("missed", "")),
        options={"scenario": scenario} if scenario is not None else None,
        cron=value if given and kind == "cron" else None,
        every=value if given and kind == "every" else None,
        at=value if given and kind == "at" else None,
    )


def _variables(text: str) -> dict[str, str]:
    """``name=value`` lines (blank lines ignored)."""
    values: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        key, sep, value = line.partition("=")
        if not sep or not key.strip():
            raise ValidationError(
                f"variables, line {number}: {line.strip()!r} is not name=value",
                hint="write one variable a line, e.g. goal=quick dinners",
            )
        values[key.strip()] = value.strip()
    return values


def _variables_text(values: dict[str, str]) -> str:
    return "\n".join(f"{k}={v}" for k, v in values.items())


async def _form(request: Request) -> dict[str, str]:
    data = await request.form()
    return {key: str(value) for key, value in data.items() if isinstance(value, str)}


@router.post("/ui/schedules/preview")
async def preview(request: Request, ws: WorkspaceDep) -> Response:
    """The form's live preview: the timing in words and the next five fire times."""
    form = await _form(request)
    if not form.get("when", "").strip():
        return fragment(render("fragments/schedule_preview.html", empty=True))
    try:
        draft = _draft(
            {**form, "name": form.get("name") or "preview", "prompt": "preview", "target": "prompt"}
        )
        schedule, times = ws.schedules.preview(draft)
    except StagentError as exc:
        return fragment(render("fragments/schedule_preview.html", error=exc.message))
    out = ScheduleOut.of(schedule, [], times)
    return fragment(render("fragments/schedule_preview.html", **_view(out)))


@router.post("/ui/schedules")
async def create(request: Request, ws: WorkspaceDep) -> Response:
    """Create a schedule from the form, then open it."""
    schedule = ws.schedules.create(_draft(await _form(request)))
    return redirect(f"/schedules/{schedule.id}")


@router.post("/ui/schedules/{ref}/edit")
async def edit(ref: str, request: Request, ws: WorkspaceDep) -> Response:
    """Save the edit form (fields the person left as they were are not changed)."""
    form = await _form(request)
    current = _values_of(schedule_out(ws.schedules, ws.schedules.get(ref), history=0))
    if all(form.get(k, "") == str(current[k]) for k in ("when_kind", "when", "tz")):
        form["when"] = ""
    for key, clear in (("max_firings", "clear_limit"), ("expires_at", "clear_expiry")):
        if form.get(key, "") == str(current[key]):
            form[key] = ""
        elif not form.get(key, "").strip() and current[key] != "":
            form[clear] = "1"  # the person emptied the field: remove the limit or expiry
    schedule = ws.schedules.update(ref, _draft(form, editing=True))
    return redirect(f"/schedules/{schedule.id}")


@router.post("/ui/schedules/{ref}/{action}")
def act(ref: str, action: str, ws: WorkspaceDep) -> Response:
    """Pause, resume, fire now or delete."""
    service = ws.schedules
    if action == "delete":
        service.delete(ref)
        return redirect("/schedules")
    actions = {"pause": service.pause, "resume": service.resume, "fire": service.fire_now}
    if action not in actions:
        raise ValidationError(f"action: {action!r} is not pause, resume, fire or delete")
    actions[action](ref)
    out = schedule_out(service, service.get(ref), history=SHOW_HISTORY)
    return fragment(render("fragments/schedule_history.html", **_view(out, ws)))


def _values_of(out: ScheduleOut) -> dict[str, Any]:
    kind = {"interval": "every", "cron": "cron", "once": "at"}[out.when.kind]
    when = out.when.source
    if kind == "at" and out.when.at is not None:
        when = out.when.at.astimezone(ZoneInfo(out.when.tz)).strftime("%Y-%m-%dT%H:%M")
    return {
        "name": out.name,
        "target": out.target.kind,
        "target_ref": out.target.ref or "",
        "variables": _variables_text(out.target.variables),
        "prompt": out.target.prompt or "",
        "runtime": out.target.runtime,
        "profile": out.target.profile or "",
        "project": out.project_id or "",
        "when_kind": kind,
        "when": when,
        "tz": out.when.tz,
        "max_firings": out.max_firings or "",
        "expires_at": out.expires_at.astimezone(ZoneInfo(out.when.tz)).strftime("%Y-%m-%dT%H:%M")
        if out.expires_at
        else "",
        "overlap": out.overlap,
        "missed": out.missed,
    }
