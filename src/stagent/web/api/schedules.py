"""``/api/v1/schedules``: the same schedule shape as ``stagent schedule --json``."""

from __future__ import annotations

from fastapi import Response, status

from stagent.schemas.schedules import (
    LIST_HISTORY,
    SHOW_HISTORY,
    FiringOut,
    PreviewOut,
    ScheduleIn,
    ScheduleOut,
    SchedulePatch,
    WhenOut,
    schedule_out,
)
from stagent.web.api.models import ListOut, list_of
from stagent.web.deps import WorkspaceDep
from stagent.web.routers import api_router

router = api_router("/schedules", tags=["schedules"])


@router.get("", response_model=ListOut[ScheduleOut])
def list_schedules(ws: WorkspaceDep) -> ListOut[ScheduleOut]:
    """Every schedule by name, with its next fire times and latest firings."""
    service = ws.schedules
    return list_of([schedule_out(service, s, history=LIST_HISTORY) for s in service.list()])


@router.post("", status_code=status.HTTP_201_CREATED, response_model=ScheduleOut)
def create_schedule(body: ScheduleIn, ws: WorkspaceDep) -> ScheduleOut:
    """Create a schedule: exactly one of ``cron`` (or a phrase), ``every``, ``at``; and one
    of ``prompt``, ``workflow`` (id or name) or ``blueprint`` (with ``variables``)."""
    return schedule_out(ws.schedules, ws.schedules.create(body.draft()), history=0)


@router.post("/preview", response_model=PreviewOut)
def preview_schedule(body: ScheduleIn, ws: WorkspaceDep) -> PreviewOut:
    """What a draft would do: its timing in words (a phrase shows its cron) and the next five
    fire times. Nothing is saved."""
    schedule, times = ws.schedules.preview(body.draft())
    return PreviewOut(when=WhenOut.of(schedule.timing), upcoming=times)


@router.get("/{ref}", response_model=ScheduleOut)
def get_schedule(ref: str, ws: WorkspaceDep) -> ScheduleOut:
    """One schedule by id or name, with up to 100 firings, newest first."""
    return schedule_out(ws.schedules, ws.schedules.get(ref), history=SHOW_HISTORY)


@router.patch("/{ref}", response_model=ScheduleOut)
def edit_schedule(ref: str, body: SchedulePatch, ws: WorkspaceDep) -> ScheduleOut:
    """Change a schedule; fields left out keep their value (``clear_limit`` and
    ``clear_expiry`` remove the limit and the expiry)."""
    return schedule_out(ws.schedules, ws.schedules.update(ref, body.draft()), history=LIST_HISTORY)


@router.post("/{ref}/pause", response_model=ScheduleOut)
def pause_schedule(ref: str, ws: WorkspaceDep) -> ScheduleOut:
    """Stop firing until resumed (409 unless active)."""
    return schedule_out(ws.schedules, ws.schedules.pause(ref), history=LIST_HISTORY)


@router.post("/{ref}/resume", response_model=ScheduleOut)
def resume_schedule(ref: str, ws: WorkspaceDep) -> ScheduleOut:
    """Fire again from now on (409 unless paused)."""
    return schedule_out(ws.schedules, ws.schedules.resume(ref), history=LIST_HISTORY)


@router.post("/{ref}/fire", status_code=status.HTTP_202_ACCEPTED, response_model=FiringOut)
def fire_schedule(ref: str, ws: WorkspaceDep) -> FiringOut:
    """Fire now: a worker decides the firing (overlap policy and budgets apply) and starts its
    task or workflow run; poll the schedule for the outcome."""
    return FiringOut.of(ws.schedules.fire_now(ref))


@router.delete("/{ref}", status_code=status.HTTP_204_NO_CONTENT)
def delete_schedule(ref: str, ws: WorkspaceDep) -> Response:
    """Delete a schedule and its history; the tasks it started stay."""
    ws.schedules.delete(ref)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
