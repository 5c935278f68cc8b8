"""Runtimes that say what they need: saved keys, refusal to queue with the fix, and the scenario
only where it plays."""

from __future__ import annotations

import os
import shlex
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from stagent.domain.errors import RuntimeUnavailableError, ValidationError
from stagent.domain.tasks import TaskStatus
from stagent.domain.workflow_runs import WorkflowStatus
from stagent.domain.workflows import WorkflowDefinition
from stagent.engine.services import TaskDraft
from stagent.runtimes.credentials import CredentialStore, forget_applied
from stagent.workspace import Workspace

KEY_VARS = ("ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN", "OPENAI_API_KEY")


@pytest.fixture(autouse=True)
def _no_credentials(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """No key exported and no Claude Code login, as on a fresh machine."""
    for name in KEY_VARS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CLAUDE_CONFIG_DIR", str(tmp_path / "no-claude-login"))
    yield
    forget_applied()


def test_a_saved_key_is_kept_0600_outside_the_database_and_never_shown(tmp_path: Path) -> None:
    store = CredentialStore(tmp_path / "home")
    store.save("ANTHROPIC_API_KEY", "  sk-ant-secret-value  ")
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600
    assert os.environ["ANTHROPIC_API_KEY"] == "sk-ant-secret-value"
    shown = {key.variable: key for key in store.saved()}
    assert shown["ANTHROPIC_API_KEY"].saved_at is not None
    assert shown["OPENAI_API_KEY"].saved_at is None
    assert "sk-ant-secret-value" not in repr(store.saved())
    assert store.remove("ANTHROPIC_API_KEY")
    assert "ANTHROPIC_API_KEY" not in os.environ
    assert not store.remove("ANTHROPIC_API_KEY")


def test_an_exported_variable_wins_over_a_saved_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "exported-key")
    store = CredentialStore(tmp_path / "home")
    store.save("OPENAI_API_KEY", "saved-key")
    assert os.environ["OPENAI_API_KEY"] == "exported-key"
    assert next(k for k in store.saved() if k.variable == "OPENAI_API_KEY").exported


@pytest.mark.parametrize(
    ("variable", "value", "says"),
    [("PATH", "x", "not a key Stagent stores"), ("OPENAI_API_KEY", "two words", "one word")],
)
def test_odd_keys_are_refused_with_the_reason(
    tmp_path: Path, variable: str, value: str, says: str
) -> None:
    with pytest.raises(ValidationError, match=says):
        CredentialStore(tmp_path / "home").save(variable, value)


def test_a_task_is_not_queued_on_a_runtime_without_credentials(workspace: Workspace) -> None:
    task = workspace.tasks.create(TaskDraft(title="needs claude", runtime="claude"))
    with pytest.raises(RuntimeUnavailableError) as refused:
        workspace.tasks.run(task.id)
    assert "the claude runtime is not ready: no credentials" in refused.value.message
    assert workspace.tasks.get(task.id).status is TaskStatus.PLANNED
    fix = refused.value.hint or ""
    assert "Settings -> Runtimes" in fix and "ANTHROPIC_API_KEY" in fix
    login = fix.rsplit(": ", 1)[1]  # the bundled CLI's path, then /login
    cli_path, command = shlex.split(login)
    assert Path(cli_path).is_file() and os.access(cli_path, os.X_OK)
    assert command == "/login"


def test_saving_a_key_makes_the_runtime_ready_at_once(workspace: Workspace) -> None:
    workspace.start_worker("worker")  # the queue's tables exist; the run is refused or queued
    workspace.stop_worker()
    task = workspace.tasks.create(TaskDraft(title="needs anthropic", runtime="anthropic"))
    with pytest.raises(RuntimeUnavailableError):
        workspace.tasks.run(task.id)
    workspace.credentials.save("ANTHROPIC_API_KEY", "sk-ant-test")
    workspace.runtimes.forget_readiness()
    assert workspace.tasks.run(task.id).status is TaskStatus.QUEUED


def test_the_check_can_be_turned_off_for_workers_elsewhere(tmp_path: Path) -> None:
    with Workspace.temporary(tmp_path / "ws", check_runtimes=False) as ws:
        ws.open()
        ws.start_worker("worker")
        ws.stop_worker()
        task = ws.tasks.create(TaskDraft(title="for a worker with keys", runtime="codex"))
        assert ws.tasks.run(task.id).status is TaskStatus.QUEUED


def test_a_scenario_is_accepted_only_for_the_scripted_runtime(workspace: Workspace) -> None:
    steps = {"steps": [{"text": "hi"}]}
    with pytest.raises(ValidationError, match="only the scripted runtime plays a scenario"):
        workspace.tasks.create(TaskDraft(title="t", runtime="claude", scenario=steps))
    assert workspace.tasks.create(TaskDraft(title="t", scenario=steps)).runtime == "scripted"


def test_codex_without_its_binary_names_an_install_command_that_exists(tmp_path: Path) -> None:
    from stagent.runtimes.codex import CodexRuntime
    from stagent.runtimes.registry import check_health

    runtime = CodexRuntime(state_dir=tmp_path, codex_path=str(tmp_path / "no-codex-here"))
    health = check_health(runtime)
    assert not health.ok
    python, *rest = shlex.split(health.fix or "")
    assert Path(python).is_file() and rest[:3] == ["-m", "pip", "install"]


def test_codex_with_an_exported_base_url_that_is_not_http_is_not_ready_and_says_the_fix(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What doctor, Settings -> Runtimes and a refused run show: the variable and its fix."""
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    monkeypatch.setenv("OPENAI_BASE_URL", "127.0.0.1:8080/v1")
    task = workspace.tasks.create(TaskDraft(title="needs codex", runtime="codex"))
    with pytest.raises(RuntimeUnavailableError) as refused:
        workspace.tasks.run(task.id)
    assert refused.value.message == (
        "the codex runtime is not ready: codex: OPENAI_BASE_URL: '127.0.0.1:8080/v1' is not an "
        "http(s) URL"
    )
    assert (refused.value.hint or "").startswith("set OPENAI_BASE_URL to the provider's API root")
    assert workspace.tasks.get(task.id).status is TaskStatus.PLANNED


def _needs_models() -> WorkflowDefinition:
    steps = [
        {"id": "plan", "name": "Plan", "prompt": "p"},
        {"id": "review", "name": "Review", "prompt": "p", "runtime": "claude"},
        {"id": "price", "name": "Price", "prompt": "p", "runtime": "anthropic"},
        {"id": "fix", "name": "Fix", "prompt": "p", "runtime": "claude", "depends_on": ["review"]},
    ]
    return WorkflowDefinition.model_validate(
        {"name": "needs-models", "pattern": "sequence", "steps": steps}
    )


def test_a_workflow_is_not_started_while_a_steps_runtime_is_not_ready(
    workspace: Workspace,
) -> None:
    """As a task's run is refused: every step that cannot run is named with its runtime's
    reason and fix, and nothing is stored (`start`) or begun (`run`)."""
    with pytest.raises(RuntimeUnavailableError) as refused:
        workspace.workflows.start(_needs_models())
    assert refused.value.message.startswith("3 steps cannot run here: ")
    problems = refused.value.problems
    assert [(p.step, p.field) for p in problems] == [
        ("review", "steps[1].runtime"),
        ("price", "steps[2].runtime"),
        ("fix", "steps[3].runtime"),
    ]
    assert problems[0].message.startswith("the claude runtime is not ready: no credentials")
    assert problems[1].message.startswith("the anthropic runtime is not ready")
    assert all("ANTHROPIC_API_KEY" in (p.hint or "") for p in problems)
    assert workspace.workflows.list() == []

    stored = workspace.workflows.add(_needs_models())
    with pytest.raises(RuntimeUnavailableError):
        workspace.workflows.run(stored.id)
    after = workspace.workflows.get(stored.id)
    assert (after.status, after.run_count) == (WorkflowStatus.DRAFT, 0)
    assert workspace.tasks.list() == []


def test_a_workflow_refused_for_its_runtimes_runs_once_they_are_ready(
    workspace: Workspace,
) -> None:
    workspace.start_worker("worker")  # the queue's tables exist; the run is refused or queued
    workspace.stop_worker()
    stored = workspace.workflows.add(_needs_models())
    with pytest.raises(RuntimeUnavailableError):
        workspace.workflows.run(stored.id)
    workspace.credentials.save("ANTHROPIC_API_KEY", "sk-ant-test")  # claude takes the key too
    workspace.runtimes.forget_readiness()
    started = workspace.workflows.run(stored.id)
    assert (started.status, started.run_count) == (WorkflowStatus.RUNNING, 1)
