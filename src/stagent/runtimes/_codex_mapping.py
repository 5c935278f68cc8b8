"""Codex app-server protocol -> Stagent's vocabulary (pure functions, no I/O).

Tool names follow Claude Code's vocabulary so that one set of governance rules covers every
runtime: a command execution is ``Bash {"command"}``, a file change that only adds files is
``Write {"file_path", "content"}``, any other file change is ``Edit {"file_path", "changes"}``,
a question to the user is ``AskUserQuestion {"questions"}``, an MCP call is
``mcp__<server>__<tool>``.
"""

from __future__ import annotations

import json
import shlex
from dataclasses import replace
from typing import Any, cast

from stagent.domain.events import JsonDict, ToolRequestEvent, ToolResultEvent, UsageEvent
from stagent.runtimes.base import PermissionDecision

SHELLS = ("bash", "sh", "zsh", "dash")
MAX_OUTPUT = 20_000
"""Tool output kept in an event (characters); the rest is cut with a note."""


def as_dict(value: Any) -> JsonDict:
    """``value`` if it is a JSON object, else an empty one."""
    return cast(JsonDict, value) if isinstance(value, dict) else {}


def as_list(value: Any) -> list[Any]:
    """``value`` if it is a JSON array, else an empty one."""
    return cast(list[Any], value) if isinstance(value, list) else []


def inner_command(command: str) -> str:
    """``/bin/bash -lc 'touch a'`` -> ``touch a``; anything else is returned unchanged."""
    try:
        argv = shlex.split(command)
    except ValueError:
        return command
    if len(argv) == 3 and argv[0].rsplit("/", 1)[-1] in SHELLS and argv[1] in ("-c", "-lc"):
        return argv[2]
    return command


def clip(text: str) -> str:
    """Cut very long tool output, saying how much was cut."""
    if len(text) <= MAX_OUTPUT:
        return text
    return text[:MAX_OUTPUT] + f"\n[... {len(text) - MAX_OUTPUT} more characters not shown]"


def tool_call(item: JsonDict) -> tuple[str, JsonDict] | None:
    """The (tool, input) an item stands for, or None for items that are not tool calls."""
    kind = item.get("type")
    if kind == "commandExecution":
        return "Bash", {"command": inner_command(str(item.get("command", "")))}
    if kind == "fileChange":
        return file_change_call(as_list(item.get("changes")))
    if kind == "mcpToolCall":
        name = f"mcp__{item.get('server', 'unknown')}__{item.get('tool', 'unknown')}"
        return name, as_dict(item.get("arguments"))
    if kind == "webSearch":
        return "WebSearch", {"query": str(item.get("query", ""))}
    return None


def file_change_call(changes: list[Any]) -> tuple[str, JsonDict]:
    """``Write`` when every change adds a file, else ``Edit``; paths as Claude names them."""
    entries: list[JsonDict] = []
    for change in changes:
        change = as_dict(change)
        kind = str(as_dict(change.get("kind")).get("type", "update"))
        entries.append(
            {"path": str(change.get("path", "")), "kind": kind, "diff": change.get("diff")}
        )
    first = entries[0]["path"] if entries else ""
    if entries and all(e["kind"] == "add" for e in entries):
        data: JsonDict = {"file_path": first}
        if len(entries) == 1:
            data["content"] = entries[0]["diff"] or ""
        else:
            data["changes"] = entries
        return "Write", data
    return "Edit", {"file_path": first, "changes": entries}


def tool_result(item: JsonDict, denial: str | None) -> ToolResultEvent | None:
    """The result event for a completed tool item (``denial``: our gate's message, if any)."""
    call = tool_call(item)
    if call is None:
        return None
    status = str(item.get("status", "completed"))
    if status == "declined":
        output = f"denied: {denial or 'declined'}"
        return ToolResultEvent(
            request_id=str(item.get("id")), tool=call[0], output=output, is_error=True
        )
    output, failed = _outcome(item)
    return ToolResultEvent(
        request_id=str(item.get("id")),
        tool=call[0],
        output=clip(output),
        is_error=failed or status == "failed",
    )


def _outcome(item: JsonDict) -> tuple[str, bool]:
    kind = item.get("type")
    if kind == "commandExecution":
        code = item.get("exitCode")
        output = str(item.get("aggregatedOutput") or "")
        if code not in (0, None):
            output = f"{output}\n[exit code {code}]".lstrip("\n")
        return output, code not in (0, None)
    if kind == "fileChange":
        paths = [str(as_dict(c).get("path", "")) for c in as_list(item.get("changes"))]
        return "changed " + ", ".join(paths), False
    if kind == "mcpToolCall":
        error = item.get("error")
        if error:
            return json.dumps(error), True
        return json.dumps(item.get("result")), False
    return "", False


def request_id(item_id: Any) -> str:
    """The request id events and permission requests share: Codex's item id (the call id)."""
    return str(item_id)


def tool_request(item: JsonDict) -> ToolRequestEvent | None:
    """The request event for a started tool item."""
    call = tool_call(item)
    if call is None:
        return None
    return ToolRequestEvent(tool=call[0], input=call[1], request_id=request_id(item.get("id")))


def command_permission(params: JsonDict) -> tuple[JsonDict, str]:
    """Input and suggested always-allow rule for ``item/commandExecution/requestApproval``."""
    command = inner_command(str(params.get("command", "")))
    data: JsonDict = {"command": command}
    if params.get("cwd"):
        data["cwd"] = str(params["cwd"])
    if params.get("reason"):
        data["description"] = str(params["reason"])
    prefix = [str(p) for p in as_list(params.get("proposedExecpolicyAmendment"))]
    proposed = inner_command(shlex.join(prefix)) if prefix else command
    rule = f"Bash({command})" if proposed == command else f"Bash({proposed}:*)"
    return data, rule


def command_decision(decision: PermissionDecision) -> JsonDict:
    """Our decision as a command approval answer."""
    if decision.interrupt:
        return {"decision": "cancel"}
    if not decision.allowed:
        return {"decision": "decline"}
    return {"decision": "acceptForSession" if decision.always else "accept"}


def file_decision(decision: PermissionDecision) -> JsonDict:
    """Our decision as a file-change approval answer (the same words as for commands)."""
    return command_decision(decision)


def questions_input(params: JsonDict) -> JsonDict:
    """``item/tool/requestUserInput`` params as Claude's ``AskUserQuestion`` input."""
    questions: list[JsonDict] = []
    for question in as_list(params.get("questions")):
        question = as_dict(question)
        options = [
            {
                "label": str(as_dict(o).get("label", "")),
                "description": str(as_dict(o).get("description", "")),
            }
            for o in as_list(question.get("options"))
        ]
        questions.append(
            {
                "id": str(question.get("id", "")),
                "header": str(question.get("header", "")),
                "question": str(question.get("question", "")),
                "options": options,
                "multiSelect": False,
            }
        )
    return {"questions": questions}


def answers_response(params: JsonDict, decision: PermissionDecision) -> JsonDict:
    """Answers from ``updated_input["answers"]`` (keyed by question text or id) for Codex.

    A value may be a string (Claude's shape) or a list of strings. Unanswered questions are
    left out; a denial answers nothing.
    """
    given = as_dict((decision.updated_input or {}).get("answers")) if decision.allowed else {}
    answers: JsonDict = {}
    for question in as_list(params.get("questions")):
        question = as_dict(question)
        qid = str(question.get("id", ""))
        value = given.get(str(question.get("question", "")), given.get(qid))
        if value is None:
            continue
        values = [str(v) for v in as_list(value)] if isinstance(value, list) else [str(value)]
        answers[qid] = {"answers": values}
    return {"answers": answers}


def call_id(thread_id: str | None, turn_id: str | None, total: object) -> str | None:
    """An id for one model response of a turn: Codex reports no provider request id, but the
    thread's cumulative token total grows with each response, so (thread, turn, total) names
    one response, however often it is reported."""
    if not thread_id or not isinstance(total, dict):
        return None
    counts = as_dict(total)
    numbers = ":".join(str(counts.get(key) or 0) for key in sorted(counts))
    return f"codex:{thread_id}:{turn_id}:{numbers}"


def usage_event(params: JsonDict, model: str, *, request_id: str | None = None) -> UsageEvent:
    """One model response's usage (``tokenUsage.last``).

    Codex counts cached tokens inside ``inputTokens``; Stagent's ``input_tokens`` is the
    uncached part, so each category is priced once.
    """
    last = as_dict(as_dict(params.get("tokenUsage")).get("last"))
    cached = int(last.get("cachedInputTokens") or 0)
    written = int(last.get("cacheWriteInputTokens") or 0)
    return UsageEvent(
        model=model,
        input_tokens=max(0, int(last.get("inputTokens") or 0) - cached - written),
        output_tokens=int(last.get("outputTokens") or 0),
        cache_read_tokens=cached,
        cache_write_tokens=written,
        reasoning_tokens=int(last.get("reasoningOutputTokens") or 0),
        request_id=request_id,
    )


TYPICAL_FIRST_CALL = (12_000, 500)
"""(input, output) tokens booked for a served call with nothing to estimate from (no call of
the run was reported): Codex's base instructions and tool definitions alone are about 10,000
input tokens (10,070 for a one-line prompt on 0.169); a tool call's output is a few hundred."""
UNREPORTED = "the provider served this call; Codex never reported its usage (the turn ended first)"


def retried_usage(retry: UsageEvent, request_id: str) -> UsageEvent:
    """The usage booked for a call whose stream broke after the provider began serving it, which
    Codex then sent again (it never reports the broken one): its retry's reported counts -- the
    same prompt, and an output at most the retry's whole answer."""
    return replace(
        retry,
        request_id=request_id,
        cost_usd=None,
        estimated="the provider served this call until its stream broke; Codex sent it again and "
        "reported only the retry; tokens are the retry's (the same prompt, its whole output)",
    )


def estimated_usage(last: UsageEvent | None, model: str, request_id: str) -> UsageEvent:
    """The usage booked for a served call Codex never reported (`UsageEvent.estimated`).

    The app-server does not expose the request Codex sent, so the estimate comes from the run's
    last reported call: Codex resends the whole history each call, so this call's prompt is at
    least that call's prompt plus its output; it is all priced as uncached input (caching
    would make it cheaper: over-counting beats under-counting at a cap), and its output is taken
    to equal that call's. With no reported call: `TYPICAL_FIRST_CALL`.
    """
    if last is None:
        tokens, output = TYPICAL_FIRST_CALL
        basis = f"typical first-call figures ({tokens:,} input, {output:,} output tokens)"
        return UsageEvent(
            model=model,
            input_tokens=tokens,
            output_tokens=output,
            request_id=request_id,
            estimated=f"{UNREPORTED}; tokens are {basis}",
        )
    prompt = last.input_tokens + last.cache_read_tokens + last.cache_write_tokens
    return UsageEvent(
        model=model,
        input_tokens=prompt + last.output_tokens,
        output_tokens=last.output_tokens,
        reasoning_tokens=last.reasoning_tokens,
        request_id=request_id,
        estimated=f"{UNREPORTED}; tokens are the run's last reported call's prompt and output "
        "as uncached input, and its output again",
    )


def error_message(error: JsonDict, provider_url: str = "") -> tuple[str, bool]:
    """A turn error as (message, retryable), naming the HTTP status where Codex gives it
    (and the provider, when it could not be reached)."""
    message = str(error.get("message") or "the Codex turn failed")
    info = error.get("codexErrorInfo")
    status: Any = None
    if isinstance(info, dict):
        details = as_dict(info)
        for detail in details.values():
            status = as_dict(detail).get("httpStatusCode", status)
        label = ", ".join(details)
    else:
        label = str(info) if info else ""
    if label == "internalServerError":
        status = status or 500
    details = str(error.get("additionalDetails") or "")
    tags = ", ".join(t for t in (f"HTTP {status}" if status else "", label) if t)
    text = f"{message} ({tags})" if tags else message
    if details:
        text = f"{text}: {details}"
    if status is None and "ConnectionFailed" in label and provider_url:
        text = f"{text}; the model provider {provider_url} could not be reached"
    retryable = status is None or status == 429 or int(status) >= 500
    if label in ("unauthorized", "badRequest", "contextWindowExceeded", "usageLimitExceeded"):
        retryable = False
    return text, retryable
