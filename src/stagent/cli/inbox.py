"""``stagent inbox``, ``approve``, ``deny``, ``answer``: the approval inbox from the terminal.

Deciding needs the person: the CLI proves it with the owner token it reads from Stagent's home
(hidden from every agent's sandbox), and decisions are recorded as
``person (via CLI, owner token file)``. Agent input is untrusted text and is printed escaped.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich import box
from rich.markup import escape
from rich.table import Table

from stagent.cli.output import JsonFlag, console, emit_json
from stagent.cli.person import the_person
from stagent.cli.state import state_of
from stagent.domain.approvals import Approval, answers_from_texts
from stagent.domain.events import LoggedEvent
from stagent.schemas import ApprovalSchema

if TYPE_CHECKING:
    from stagent.workspace import Workspace

WATCH_WAKE_SECONDS = 1.0
"""Safety-net re-read while watching; new cards wake the watch through the change signal."""
RISK_STYLES = {"high": "red", "medium": "yellow", "low": "green"}

ScopeOption = Annotated[
    str | None,
    typer.Option(
        "--scope",
        help="Where an --always rule applies: task, project or global "
        "(default: the task's project, else the task).",
    ),
]


def decide_commands(card: Approval) -> str:
    """The commands that decide ``card``, for a person to copy."""
    if card.kind == "question":
        return f"answer: stagent answer {card.id} TEXT...   deny: stagent deny {card.id}"
    if card.kind == "checkpoint":
        return (
            f"approve: stagent approve {card.id} [--comment TEXT]   "
            f"reject: stagent deny {card.id} [--message TEXT]"
        )
    return f"allow: stagent approve {card.id}   deny: stagent deny {card.id}"


def call_summary(card: Approval, width: int = 80) -> str:
    """The call (or the questions) of ``card`` in one line of at most ``width`` characters."""
    if card.kind == "question":
        text = " / ".join(q.question for q in card.questions)
    elif card.kind == "checkpoint":
        text = (
            f"workflow {card.input.get('workflow', '')}: start step "
            f"{card.input.get('step_name') or card.input.get('step', '')}?"
        )
    else:
        keys = ("command", "file_path", "notebook_path", "path", "url", "pattern", "query")
        text = next((str(card.input[k]) for k in keys if card.input.get(k)), "")
        text = text or json.dumps(card.input, ensure_ascii=False)
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def print_cards(cards: list[Approval]) -> None:
    """A table of pending cards, with how to decide them."""
    if not cards:
        console.print("Nothing is waiting for you.")
        return
    table = Table(
        title="Waiting for you", title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False
    )
    table.add_column("ID", no_wrap=True)
    table.add_column("Tool", no_wrap=True, style="bold")
    table.add_column("Call", overflow="fold", ratio=3)
    table.add_column("Risk", no_wrap=True)
    table.add_column("Task", no_wrap=True)
    table.add_column("Always-allow rule", overflow="fold", ratio=1)
    for card in cards:
        style = RISK_STYLES.get(card.risk, "")
        table.add_row(
            card.id,
            escape(card.tool),
            escape(call_summary(card)),
            f"[{style}]{escape(card.risk)}[/]" if style else escape(card.risk),
            card.task_id or "",
            escape(card.suggested_rule or "-"),
        )
    console.print(table, soft_wrap=False)
    console.print(
        "[dim]Decide with: stagent approve ID [--always | --comment TEXT], "
        "stagent deny ID [--message TEXT], stagent answer ID TEXT...[/]"
    )


def _closed_line(card: Approval) -> str:
    how = card.status.replace("_", " ")
    detail = card.decision.get("rule") or card.decision.get("person_message") or ""
    tail = f": {detail}" if detail else ""
    return f"- {card.id} {card.tool} {how} by {card.decided_by or 'someone'}{tail}"


def inbox(
    ctx: typer.Context,
    watch: Annotated[
        bool, typer.Option("--watch", "-w", help="Stream new and decided cards until Ctrl-C.")
    ] = False,
    limit: Annotated[
        int | None, typer.Option("--limit", hidden=True, help="Stop watching after N events.")
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """List what waits for you: tool calls, questions.

    With --watch, the list stays open and updates live.
    """
    if not watch:
        with state_of(ctx).reads() as reads:
            cards = reads.reader.pending_approvals()
        if as_json:
            emit_json([ApprovalSchema.of(card).data() for card in cards])
        else:
            print_cards(cards)
        return
    with state_of(ctx).workspace() as ws:
        after = ws.tasks.last_seq()
        cards = ws.approvals.list_pending()
        for card in cards:
            _emit_watch("pending", card, as_json)
        try:
            _watch(ws, after, as_json, limit)
        except KeyboardInterrupt:
            return


def _emit_watch(event: str, card: Approval, as_json: bool) -> None:
    if as_json:
        emit_json({"event": event, "approval": ApprovalSchema.of(card).data()}, compact=True)
        return
    if event == "closed":
        console.print(escape(_closed_line(card)))
    else:
        risk = escape(card.risk)
        console.print(
            f"+ {card.id} [bold]{escape(card.tool)}[/] ({risk} risk) task {card.task_id}: "
            f"{escape(call_summary(card))}"
        )
    console.file.flush()


def _watch(ws: Workspace, after: int, as_json: bool, limit: int | None) -> None:
    seen = ws.store.changes.version
    emitted = 0
    while limit is None or emitted < limit:
        batch: list[LoggedEvent] = ws.tasks.feed(after=after)
        for event in batch:
            after = event.seq
            approval_id = event.payload.get("approval_id")
            if event.kind not in ("approval", "decision") or not approval_id:
                continue
            card = ws.approvals.get(str(approval_id))
            _emit_watch("added" if event.kind == "approval" else "closed", card, as_json)
            emitted += 1
            if limit is not None and emitted >= limit:
                return
        if not batch:
            seen = ws.store.changes.wait(seen, WATCH_WAKE_SECONDS)


def _report(card: Approval, as_json: bool, line: str) -> None:
    if as_json:
        emit_json(ApprovalSchema.of(card).data())
    else:
        console.print(escape(line))


def approve(
    ctx: typer.Context,
    approval_id: Annotated[str, typer.Argument(metavar="ID", help="The card's id.")],
    always: Annotated[
        bool, typer.Option("--always", help="Also save an allow rule, so it is not asked again.")
    ] = False,
    scope: ScopeOption = None,
    rule: Annotated[
        str | None,
        typer.Option("--rule", help="With --always: the rule to save instead of the suggestion."),
    ] = None,
    comment: Annotated[
        str,
        typer.Option(
            "--comment", "-m", help="A workflow checkpoint: a comment the step's prompt gets."
        ),
    ] = "",
    acknowledge: Annotated[
        bool,
        typer.Option(
            "--acknowledge-risk",
            help="With --always: save a rule that lets the agent run code even though agents "
            "run without a sandbox here (the agent can then act as you, including approving "
            "its own requests).",
        ),
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """Allow a tool call, or approve a checkpoint.

    A tool call is allowed once, or always (saving a rule); a workflow checkpoint is approved
    once, optionally with a comment the step's prompt gets.
    """
    with state_of(ctx).workspace() as ws:
        by = the_person(ws)
        card = ws.approvals.allow(
            approval_id,
            by=by,
            always=always,
            scope=scope,
            rule=rule,
            comment=comment,
            acknowledged=acknowledge,
        )
    saved = card.decision.get("rule")
    line = f"Allowed {card.tool} ({card.id})" + (
        f"; saved allow rule {saved} at {card.decision.get('scope')} scope." if saved else " once."
    )
    if card.kind == "checkpoint":
        step = card.input.get("step_name") or card.input.get("step")
        line = f"Approved the checkpoint before step {step} ({card.id})" + (
            " with your comment." if card.comment else "."
        )
    _report(card, as_json, line)


def deny(
    ctx: typer.Context,
    approval_id: Annotated[str, typer.Argument(metavar="ID", help="The card's id.")],
    message: Annotated[str, typer.Option("--message", "-m", help="What the agent is told.")] = "",
    as_json: JsonFlag = False,
) -> None:
    """Deny a tool call or question, or reject a checkpoint.

    The agent receives the message (a rejected workflow step fails with it).
    """
    with state_of(ctx).workspace() as ws:
        card = ws.approvals.deny(approval_id, by=the_person(ws), message=message)
    _report(card, as_json, f"Denied {card.tool} ({card.id}).")


def answer(
    ctx: typer.Context,
    approval_id: Annotated[str, typer.Argument(metavar="ID", help="The card's id.")],
    texts: Annotated[
        list[str],
        typer.Argument(
            metavar="TEXT...",
            help="One answer per question, in order: an option's label, its number, or free text.",
        ),
    ],
    as_json: JsonFlag = False,
) -> None:
    """Answer an agent's question.

    One TEXT per question the agent asked (AskUserQuestion), in order.
    """
    with state_of(ctx).workspace() as ws:
        by = the_person(ws)
        card = ws.approvals.get(approval_id)
        answers: dict[str, Any] = (
            dict(answers_from_texts(card.questions, texts)) if card.kind == "question" else {}
        )
        card = ws.approvals.answer(approval_id, by=by, answers=answers)
    shown = "; ".join(f"{q} -> {a}" for q, a in card.answers.items())
    _report(card, as_json, f"Answered {card.id}: {shown}")
