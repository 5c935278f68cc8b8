"""The fifteen product surfaces, where they live, and which ones are built yet."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Surface:
    """One surface of the workspace as the navigation shows it."""

    key: str
    label: str
    path: str
    group: str
    built: bool = False
    brought_by: str = ""
    """For surfaces not built yet: the capability that will bring it."""
    purpose: str = ""
    in_nav: bool = True


SURFACES: tuple[Surface, ...] = (
    Surface("home", "Home", "/", "Work", built=True),
    Surface("board", "Board", "/board", "Work", built=True),
    Surface(
        "task",
        "Task detail",
        "/board",
        "Work",
        built=True,
        in_nav=False,
        purpose="one task: its fields, result and live event log (open it from a Board card)",
    ),
    Surface("inbox", "Inbox", "/inbox", "Work", built=True),
    Surface(
        "chat",
        "Chat",
        "/chat",
        "Work",
        brought_by="Chat (conversations with the runtimes, streamed token by token)",
        purpose="conversations with an agent, with inline permission and question cards",
    ),
    Surface(
        "monitor",
        "Monitor",
        "/monitor",
        "Work",
        built=True,
        purpose="active agents, success rate and a live log stream across tasks",
    ),
    Surface("projects", "Projects", "/projects", "Manage", built=True),
    Surface(
        "workflows",
        "Workflows",
        "/workflows",
        "Manage",
        brought_by="Workflows (the six workflow patterns on the durable engine)",
        purpose="multi-step workflows: sequence, parallel, loop, swarm and more",
    ),
    Surface(
        "blueprints",
        "Blueprints",
        "/blueprints",
        "Manage",
        built=True,
        brought_by="Profiles and blueprints (the built-in catalog and user templates)",
        purpose="reusable workflow templates with a variable form",
    ),
    Surface(
        "schedules",
        "Schedules",
        "/schedules",
        "Manage",
        built=True,
        brought_by="Schedules (cron, interval and one-shot runs with firing limits)",
        purpose="scheduled runs, their next fire time and firing history",
    ),
    Surface(
        "documents",
        "Documents",
        "/documents",
        "Manage",
        brought_by="Documents (inputs and outputs linked to tasks and projects)",
        purpose="files agents read and write, linked to tasks and projects",
    ),
    Surface(
        "costs",
        "Costs",
        "/costs",
        "Manage",
        built=True,
        purpose="spend and tokens per runtime, model, project and day",
    ),
    Surface(
        "profiles",
        "Profiles",
        "/profiles",
        "Configure",
        built=True,
        brought_by="Profiles and blueprints (the built-in catalog and user profiles)",
        purpose="agent profiles: instructions, tool policy, runtime and model",
    ),
    Surface(
        "environment",
        "Environment",
        "/environment",
        "Configure",
        built=True,
        purpose="what Claude Code and Codex are configured with on this machine",
    ),
    Surface("settings", "Settings", "/settings", "Configure", built=True),
)

NAV_GROUPS: tuple[str, ...] = ("Work", "Manage", "Configure")

NOT_BUILT: dict[str, Surface] = {s.key: s for s in SURFACES if not s.built}


def nav_items(group: str) -> list[Surface]:
    """The surfaces a navigation group links to, in order."""
    return [s for s in SURFACES if s.group == group and s.in_nav]
