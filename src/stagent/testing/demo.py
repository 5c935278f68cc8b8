"""The offline demo: the real Claude Code CLI and the real Codex binary, driven by a scripted model.

Nothing leaves this machine. Both runtimes talk to scripted model servers on 127.0.0.1 that speak
the real wire protocols (Anthropic Messages, OpenAI Responses); the model's words and tool calls
come from `DEMO_SCRIPT`, so the run is *simulated* — but the agent loop, the tool execution, the
permission gate, the event log and the ledger are the real ones.
"""

from __future__ import annotations

import os
from collections.abc import Generator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from stagent.engine.services import TaskDraft
from stagent.settings import Settings
from stagent.testing.anthropic_server import AnthropicScriptServer
from stagent.testing.model_script import ModelScript, ModelTurn, ScriptBook, ToolCall, TurnUsage
from stagent.testing.openai_server import ScriptedOpenAIServer
from stagent.workspace import Workspace

DEMO_KEY = "demo-key-not-a-secret"
DEMO_RUNTIMES = ("claude", "codex")
DEMO_SCRIPT = ModelScript(
    name="demo",
    model="claude-sonnet-4-6",
    turns=[
        ModelTurn(
            text="I'll leave a note in the project.",
            tool=ToolCall(
                name="Write",
                input={"file_path": "NOTE.md", "content": "Written by a simulated agent.\n"},
            ),
            usage=TurnUsage(input_tokens=1200, output_tokens=60, cache_read_tokens=800),
        ),
        ModelTurn(
            text="Done: NOTE.md is written.",
            usage=TurnUsage(input_tokens=300, output_tokens=20, cache_read_tokens=1900),
        ),
    ],
)


@contextmanager
def demo_workspace(home: Path) -> Generator[Workspace]:
    """A private workspace in ``home`` whose claude and codex runtimes use the scripted servers."""
    from stagent.runtimes.claude import ClaudeRuntime
    from stagent.runtimes.codex import CodexRuntime

    book = ScriptBook([DEMO_SCRIPT])
    with ExitStack() as stack:
        anthropic = stack.enter_context(AnthropicScriptServer(book))
        openai = stack.enter_context(ScriptedOpenAIServer(book))
        ws = stack.enter_context(Workspace(Settings(home=home)))
        ws.open()
        ws.runtimes.register(
            ClaudeRuntime(
                home=home,
                max_retries=0,
                env={"ANTHROPIC_BASE_URL": anthropic.url, "ANTHROPIC_API_KEY": DEMO_KEY},
            )
        )
        ws.runtimes.register(
            CodexRuntime(
                base_url=openai.base_url,
                api_key=DEMO_KEY,
                model="gpt-5.5",
                state_dir=home / "runtimes" / "codex",
                request_max_retries=0,
                stream_max_retries=0,
                environ={"PATH": os.environ.get("PATH", os.defpath)},
            )
        )
        # The demo's one tool call is a file edit in the project: allowed by the git-safe preset,
        # so nobody is asked. Everything else would still wait in the inbox.
        ws.rules.apply_preset("git-safe")
        ws.start_worker("cli")
        yield ws


def demo_tasks(ws: Workspace, runtimes: tuple[str, ...], workdir: Path) -> list[str]:
    """Create and queue one demo task per runtime, each in its own project directory."""
    ids: list[str] = []
    for runtime in runtimes:
        directory = workdir / runtime
        directory.mkdir(parents=True, exist_ok=True)
        project = ws.projects.create(f"demo-{runtime}", directory=str(directory))
        task = ws.tasks.create(
            TaskDraft(
                title=f"Leave a note (simulated model, real {runtime})",
                description="SCENARIO:demo",
                project=project.id,
                runtime=runtime,
            )
        )
        ws.tasks.run(task.id)
        ids.append(task.id)
    return ids
