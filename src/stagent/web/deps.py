"""FastAPI dependencies shared by the API and UI routers."""

from __future__ import annotations

from typing import Annotated, cast

from fastapi import Depends, Request

from stagent.workspace import Workspace


def get_workspace(request: Request) -> Workspace:
    """The workspace the app was created with."""
    return cast(Workspace, request.app.state.workspace)


WorkspaceDep = Annotated[Workspace, Depends(get_workspace)]
