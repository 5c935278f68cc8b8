"""FastAPI dependencies shared by the API and UI routers."""

from __future__ import annotations

from typing import Annotated, cast

from fastapi import Depends, Request

from stagent.workspace import Workspace


def get_workspace(request: Request) -> Workspace:
    """The workspace the app was created with."""
    return cast(Workspace, request.app.state.workspace)


WorkspaceDep = Annotated[Workspace, Depends(get_workspace)]


STEPS_COOKIE = "stagent_board_steps"
"""Where the Board remembers whether workflow steps are shown (``show``/``hide``)."""


def steps_hidden(request: Request) -> bool:
    """Whether the person chose to hide workflow steps on the Board (the cookie)."""
    return request.cookies.get(STEPS_COOKIE) == "hide"


StepsHidden = Annotated[bool, Depends(steps_hidden)]
