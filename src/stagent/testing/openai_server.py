"""A scripted OpenAI Responses API server on 127.0.0.1, streaming SSE the way Codex expects.

It plays `ModelScript`s (`stagent.testing.model_script`): the script is chosen by the
``SCENARIO:<name>`` marker in the request's input, the turn by the number of tool results
(``*_call_output`` items) the input already holds. It is stateless, so retries and resumed
threads replay identically.

Generic tool calls are mapped onto the tools Codex offers in the request's ``tools`` list:

======================= ===============================================================
script tool             what the model emits
======================= ===============================================================
``Bash {command}``      ``exec_command {cmd}`` (or ``shell_command`` / ``shell`` if that is
                        what is offered); ``sandbox_permissions`` and ``justification``
                        pass through
``Write {file_path,     ``apply_patch`` adding the file (a custom freeform tool call, or a
content}``              function call if offered so); without ``apply_patch`` (a model slug
                        outside Codex's catalog) a shell command that writes the file
``Edit {file_path,      ``apply_patch`` updating the file: the old lines replaced by the new
old_string,
new_string}``
``AskUserQuestion       ``request_user_input {questions: [{id, header, question, options}]}``
{questions}``           (ids ``q1``, ``q2``... unless a question carries an ``id``)
anything else           a function call with that name and the input as its arguments
======================= ===============================================================

Usage: the script's ``input_tokens`` are *uncached* input, as in the Anthropic API; the wire
``input_tokens`` is that plus ``cache_read_tokens`` (reported as ``cached_tokens``), because
OpenAI counts cached tokens inside the input. ``reasoning_tokens`` travel as
``output_tokens_details.reasoning_tokens``. The Responses API has no cache-write category.

Run it for your own profiles: ``python -m stagent.testing.openai_server --port 8765 --scripts
my.yaml`` and point Codex (or Stagent's ``codex`` runtime) at ``http://127.0.0.1:8765/v1``.
"""

from __future__ import annotations

import argparse
import gzip
import itertools
import json
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, cast
from urllib.parse import urlsplit

from stagent.testing._threaded_server import ThreadedServer
from stagent.testing.model_script import ModelScript, ModelTurn, ScriptBook, ToolCall

JsonDict = dict[str, Any]

ERROR_TYPES = {
    400: "invalid_request_error",
    401: "invalid_request_error",
    403: "permission_denied",
    404: "not_found_error",
    429: "rate_limit_exceeded",
}
ERROR_CODES = {401: "invalid_api_key", 429: "rate_limit_exceeded"}


class ScriptedOpenAIServer(ThreadedServer):
    """A Responses API (``POST /v1/responses``) server that plays scripts.

    Use it as a context manager, or call `start` and `stop`. Every request is recorded in
    `requests` (and appended to ``log_path`` as JSON lines when given); the bearer token itself
    is never recorded.
    """

    def __init__(
        self,
        book: ScriptBook | list[ModelScript] | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        log_path: Path | None = None,
        api_key: str | None = None,
    ) -> None:
        """Serve ``book``; when ``api_key`` is set, other bearer tokens get a 401."""
        super().__init__("scripted-openai")
        self.book = book if isinstance(book, ScriptBook) else ScriptBook(book)
        self.log_path = log_path
        self.api_key = api_key
        self.requests: list[JsonDict] = []
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._faults: dict[tuple[str, int], int] = {}
        self._httpd = _Server((host, port), _Handler)
        self._httpd.owner = self

    @property
    def url(self) -> str:
        """The server's root, e.g. ``http://127.0.0.1:40123``."""
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def base_url(self) -> str:
        """What ``OPENAI_BASE_URL`` should be: the root plus ``/v1``."""
        return f"{self.url}/v1"

    def fault(self, script: str, turn_no: int, turn: ModelTurn) -> str | None:
        """The fault this answer to ``turn`` carries (`ModelTurn.stream_faults` counts them)."""
        if turn.stream_fault is None or not turn.stream_faults:
            return turn.stream_fault
        with self._lock:
            given = self._faults.get((script, turn_no), 0)
            self._faults[(script, turn_no)] = given + 1
        return turn.stream_fault if given < turn.stream_faults else None

    def next_id(self) -> int:
        """A server-wide counter, so item and call ids stay unique within any thread."""
        with self._lock:
            return next(self._ids)

    def record(self, entry: JsonDict) -> None:
        """Keep one request's record (and append it to the log file)."""
        with self._lock:
            entry["seq"] = len(self.requests) + 1
            self.requests.append(entry)
            if self.log_path is not None:
                with self.log_path.open("a", encoding="utf-8") as handle:
                    handle.write(json.dumps(entry, default=str) + "\n")

    def scripted(self, scenario: str) -> list[JsonDict]:
        """The recorded requests that selected the script ``scenario``."""
        return [r for r in self.requests if r.get("scenario") == scenario]


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    owner: ScriptedOpenAIServer


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    @property
    def owner(self) -> ScriptedOpenAIServer:
        """The server object this handler answers for."""
        return cast(_Server, self.server).owner

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the request log is the record."""

    def do_GET(self) -> None:
        """Answer ``/v1/models`` with an empty list; anything else is a 404."""
        if _route(self.path).endswith("/models"):
            self._record_other(200)
            self._send_json(200, {"object": "list", "data": [], "models": []})
        else:
            self._record_other(404)
            self._send_error(404, f"no route for GET {self.path}")

    def do_POST(self) -> None:
        """Answer ``/v1/responses`` from the script."""
        owner = self.owner
        body = self._read_json()
        if not _route(self.path).endswith("/responses"):
            self._record_other(404)
            self._send_error(404, f"no route for POST {self.path}")
            return
        if body is None:
            self._record_other(400)
            self._send_error(400, "the request body is not JSON (gzip is the only encoding read)")
            return
        info = describe_request(body)
        script = owner.book.select(info["scenario_text"])
        turn = script.turn(info["turn"])
        entry: JsonDict = {
            "time": time.time(),
            "path": self.path,
            "scenario": script.name,
            "turn": info["turn"],
            "tool_results": info["tool_results"],
            "user_texts": info["user_texts"],
            "model": body.get("model"),
            "tools": info["tools"],
            "authorized": self._authorized(),
            "x_headers": {k.lower(): v for k, v in self.headers.items() if k.lower()[:2] == "x-"},
            "status": turn.error.status if turn.error else 200,
            "input": body.get("input", []),
        }
        if owner.api_key is not None and not entry["authorized"]:
            entry["status"] = 401
            owner.record(entry)
            self._send_error(401, "Incorrect API key provided.")
            return
        owner.record(entry)
        if turn.delay and owner.stopping.wait(turn.delay):
            self.close_connection = True  # stopping: hang up instead of answering
            return
        if turn.error is not None:
            err = turn.error
            retry_after = {} if err.retry_after is None else {"Retry-After": f"{err.retry_after:g}"}
            self._send_error(err.status, err.message, err.type, retry_after)
            return
        events = response_events(turn, info, owner.next_id(), owner.next_id)
        try:
            self._stream(events, turn.end_delay, owner.fault(script.name, info["turn"], turn))
        except (BrokenPipeError, ConnectionResetError):
            return

    def _authorized(self) -> bool:
        expected = self.owner.api_key
        header = self.headers.get("Authorization", "")
        if expected is None:
            return header.startswith("Bearer ") and len(header) > len("Bearer ")
        return header == f"Bearer {expected}"

    def _read_json(self) -> JsonDict | None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            if self.headers.get("Content-Encoding", "").lower() == "gzip":
                raw = gzip.decompress(raw)
            data = json.loads(raw or b"{}")
        except (OSError, EOFError, json.JSONDecodeError, UnicodeDecodeError):
            return None
        return cast(JsonDict, data) if isinstance(data, dict) else None

    def _record_other(self, status: int) -> None:
        self.owner.record(
            {"time": time.time(), "path": self.path, "method": self.command, "status": status}
        )

    def _send_json(
        self, status: int, payload: JsonDict, headers: dict[str, str] | None = None
    ) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def _send_error(
        self,
        status: int,
        message: str,
        kind: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        error = {
            "message": message,
            "type": kind or ERROR_TYPES.get(status, "server_error"),
            "param": None,
            "code": ERROR_CODES.get(status),
        }
        self._send_json(status, {"error": error}, headers)

    def _stream(
        self, events: list[JsonDict], end_delay: float = 0, fault: str | None = None
    ) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for event in events:
            if event["type"] == "response.completed" and self.owner.stopping.wait(end_delay):
                return
            self._chunk(f"event: {event['type']}\ndata: {json.dumps(event)}\n\n")
            if fault is not None and event["type"] == "response.output_text.delta":
                self._break_stream(fault, events[0])
                break
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def _chunk(self, text: str) -> None:
        data = text.encode()
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    def _break_stream(self, fault: str, created: JsonDict) -> None:
        """Fail a stream mid-response (`ModelTurn.stream_fault`): ``cut`` ends it without
        ``response.completed``; ``overloaded`` sends ``response.failed`` (a server error)."""
        if fault == "garbage":
            self._chunk('event: response.output_text.delta\ndata: {"type": "response.out\n\n')
        elif fault == "overloaded":
            error = {"code": "server_error", "message": "The server is overloaded."}
            response = {**created.get("response", {}), "status": "failed", "error": error}
            failed = json.dumps({"type": "response.failed", "response": response})
            self._chunk(f"event: response.failed\ndata: {failed}\n\n")


def describe_request(body: JsonDict) -> JsonDict:
    """What the script needs from a request: marker text, turn index, tool results, tools."""
    items = _dicts(body.get("input"))
    texts: list[str] = []
    user_texts: list[str] = []
    results: list[str] = []
    for item in items:
        kind = str(item.get("type", "message"))
        if kind == "message" and item.get("role") != "assistant":
            text = _content_text(item.get("content"))
            texts.append(text)
            if item.get("role") == "user":
                user_texts.append(text)
        elif kind.endswith("_call_output"):
            results.append(_content_text(item.get("output")))
    tools: dict[str, str] = {}
    for tool in _dicts(body.get("tools")):
        if "name" in tool:
            tools[str(tool["name"])] = str(tool.get("type", "function"))
    return {
        "scenario_text": "\n".join(texts),
        "turn": len(results),
        "tool_results": results,
        "user_texts": user_texts,
        "tools": tools,
    }


def _dicts(value: Any) -> list[JsonDict]:
    """The JSON objects in ``value`` if it is a list (anything else is ignored)."""
    if not isinstance(value, list):
        return []
    return [cast(JsonDict, v) for v in cast(list[Any], value) if isinstance(v, dict)]


def _content_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(str(part.get("text", "")) for part in _dicts(content))
    return "" if content is None else json.dumps(content)


def response_events(
    turn: ModelTurn, info: JsonDict, response_no: int, next_id: Callable[[], int]
) -> list[JsonDict]:
    """The SSE events answering one request: an optional message, an optional tool call."""
    response_id = f"resp_{response_no}"
    events: list[JsonDict] = [
        {"type": "response.created", "response": {"id": response_id, "status": "in_progress"}}
    ]
    outputs: list[JsonDict] = []
    text = turn.text or ""
    if turn.echo_tool_results and info["tool_results"]:
        text = "\n".join([text, *info["tool_results"]]).strip()
    if text or turn.tool is None:
        outputs.append(_message_item(f"msg_{next_id()}", text))
    if turn.tool is not None:
        outputs.append(tool_call_item(turn.tool, info["tools"], next_id()))
    for index, item in enumerate(outputs):
        events.extend(_item_events(index, item))
    events.append(
        {
            "type": "response.completed",
            "response": {"id": response_id, "status": "completed", "usage": wire_usage(turn)},
        }
    )
    return events


def _message_item(item_id: str, text: str) -> JsonDict:
    return {
        "type": "message",
        "role": "assistant",
        "id": item_id,
        "status": "completed",
        "content": [{"type": "output_text", "text": text, "annotations": []}],
    }


def _item_events(index: int, item: JsonDict) -> list[JsonDict]:
    if item["type"] != "message":
        added = {**item, "status": "in_progress"}
        if "arguments" in added:
            added["arguments"] = ""
        if "input" in added:
            added["input"] = ""
        return [
            {"type": "response.output_item.added", "output_index": index, "item": added},
            {"type": "response.output_item.done", "output_index": index, "item": item},
        ]
    text = item["content"][0]["text"]
    events: list[JsonDict] = [
        {
            "type": "response.output_item.added",
            "output_index": index,
            "item": {**item, "status": "in_progress", "content": []},
        }
    ]
    step = max(1, -(-len(text) // 3))
    for start in range(0, len(text), step):
        events.append(
            {
                "type": "response.output_text.delta",
                "item_id": item["id"],
                "output_index": index,
                "content_index": 0,
                "delta": text[start : start + step],
            }
        )
    events.append({"type": "response.output_item.done", "output_index": index, "item": item})
    return events


def wire_usage(turn: ModelTurn) -> JsonDict:
    """The Responses API ``usage`` object for a turn (cached tokens counted inside input)."""
    usage = turn.usage
    input_tokens = usage.input_tokens + usage.cache_read_tokens
    return {
        "input_tokens": input_tokens,
        "input_tokens_details": {"cached_tokens": usage.cache_read_tokens},
        "output_tokens": usage.output_tokens,
        "output_tokens_details": {"reasoning_tokens": usage.reasoning_tokens},
        "total_tokens": input_tokens + usage.output_tokens,
    }


def tool_call_item(tool: ToolCall, offered: dict[str, str], number: int) -> JsonDict:
    """Map a script's generic tool call onto a call of a tool Codex offered (module docs)."""
    call_id = f"call_{number}"
    data = tool.input
    match tool.name:
        case "Bash":
            return _shell_call(str(data.get("command", "")), data, offered, call_id)
        case "Write" | "Edit" if "apply_patch" in offered:
            patch = _patch(tool)
            if offered["apply_patch"] == "custom":
                return _call("custom_tool_call", "apply_patch", call_id, input=patch)
            return _call("function_call", "apply_patch", call_id, arguments={"input": patch})
        case "Write":
            path, content = str(data.get("file_path", "")), str(data.get("content", ""))
            command = f"cat > {_quote(path)} <<'STAGENT_EOF'\n{content}\nSTAGENT_EOF"
            return _shell_call(command, {}, offered, call_id)
        case "AskUserQuestion":
            return _call("function_call", "request_user_input", call_id, arguments=_questions(data))
        case name:
            return _call("function_call", name, call_id, arguments=dict(data))


def _call(kind: str, name: str, call_id: str, **payload: Any) -> JsonDict:
    item: JsonDict = {"type": kind, "id": f"{kind[:2]}_{call_id}", "call_id": call_id}
    item["name"] = name
    item["status"] = "completed"
    if "arguments" in payload:
        item["arguments"] = json.dumps(payload["arguments"])
    else:
        item["input"] = payload["input"]
    return item


def _shell_call(
    command: str, data: dict[str, Any], offered: dict[str, str], call_id: str
) -> JsonDict:
    extras = {k: data[k] for k in ("sandbox_permissions", "justification") if k in data}
    if "exec_command" not in offered and "shell_command" in offered:
        return _call("function_call", "shell_command", call_id, arguments={"command": command})
    if "exec_command" not in offered and "shell" in offered:
        arguments = {"command": ["bash", "-lc", command], **extras}
        return _call("function_call", "shell", call_id, arguments=arguments)
    arguments = {"cmd": command, "yield_time_ms": int(data.get("yield_time_ms", 10000)), **extras}
    return _call("function_call", "exec_command", call_id, arguments=arguments)


def _patch(tool: ToolCall) -> str:
    path = str(tool.input.get("file_path", ""))
    if tool.name == "Write":
        lines = str(tool.input.get("content", "")).splitlines()
        body = "".join(f"+{line}\n" for line in lines)
        return f"*** Begin Patch\n*** Add File: {path}\n{body}*** End Patch\n"
    old = "".join(f"-{line}\n" for line in str(tool.input.get("old_string", "")).splitlines())
    new = "".join(f"+{line}\n" for line in str(tool.input.get("new_string", "")).splitlines())
    return f"*** Begin Patch\n*** Update File: {path}\n@@\n{old}{new}*** End Patch\n"


def _questions(data: dict[str, Any]) -> JsonDict:
    questions: list[JsonDict] = []
    for number, q in enumerate(_dicts(data.get("questions")), start=1):
        text = str(q.get("question", ""))
        options = [
            {"label": str(o.get("label", "")), "description": str(o.get("description", ""))}
            for o in _dicts(q.get("options"))
        ]
        questions.append(
            {
                "id": str(q.get("id", f"q{number}")),
                "header": str(q.get("header", text[:12])),
                "question": text,
                "options": options,
            }
        )
    return {"questions": questions}


def _route(path: str) -> str:
    """A request's path without its query (a provider may add ``?api-version=...``)."""
    return urlsplit(path).path.rstrip("/")


def _quote(path: str) -> str:
    return "'" + path.replace("'", "'\"'\"'") + "'"


def main(argv: list[str] | None = None) -> None:
    """``python -m stagent.testing.openai_server --port N --scripts FILE...``."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0] if __doc__ else None)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--scripts", nargs="*", type=Path, default=[])
    parser.add_argument("--log", type=Path, default=None, help="append requests as JSON lines")
    args = parser.parse_args(argv)
    book = ScriptBook.from_files(*args.scripts)
    server = ScriptedOpenAIServer(book, host=args.host, port=args.port, log_path=args.log)
    server.start()
    print(f"scripted OpenAI Responses API on {server.base_url} (simulated)", flush=True)  # noqa: T201
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        server.stop()


if __name__ == "__main__":
    main()
