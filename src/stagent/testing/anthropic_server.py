"""A scripted Anthropic Messages API on 127.0.0.1, for running real clients offline.

It speaks what the Claude Code CLI and the ``anthropic`` package expect: ``POST /v1/messages``
(SSE streaming and JSON), ``/v1/messages/count_tokens``, ``GET /v1/models`` and Anthropic-shaped
errors. A `ModelScript` (`stagent.testing.model_script`) says what the model does: the script is
chosen by the ``SCENARIO:<name>`` marker in the request, the turn by the number of
``tool_result`` blocks it carries, so retries and resumed sessions replay identically.

    with AnthropicScriptServer(ScriptBook([script])) as server:
        env = {"ANTHROPIC_BASE_URL": server.url, "ANTHROPIC_API_KEY": "fake"}
        ...  # server.requests: one dict per request (what was asked, what was answered)

From a shell: ``python -m stagent.testing.anthropic_server --port 8765 --scripts my.yaml``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import threading
import time
import uuid
from collections.abc import Iterator
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, cast

from stagent.testing._threaded_server import ThreadedServer
from stagent.testing.model_script import ModelScript, ModelTurn, ScriptBook, TurnUsage

Json = dict[str, Any]

MODELS = ("claude-sonnet-4-6", "claude-opus-5-5", "claude-haiku-4-5")
"""What ``GET /v1/models`` lists."""
DELTA_CHARS = 40
"""Text streams in pieces of at most this many characters, like a real model's deltas."""
ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    529: "overloaded_error",
}


def error_body(status: int, message: str, kind: str | None = None) -> Json:
    """The JSON body Anthropic sends with an HTTP error."""
    kind = kind or ERROR_TYPES.get(status, "api_error")
    return {"type": "error", "error": {"type": kind, "message": message}}


def usage_json(usage: TurnUsage) -> Json:
    """A script turn's usage in the Messages API's shape (cache writes split by lifetime)."""
    return {
        "input_tokens": usage.input_tokens,
        "output_tokens": usage.output_tokens,
        "cache_creation_input_tokens": usage.cache_write_tokens,
        "cache_read_input_tokens": usage.cache_read_tokens,
        "cache_creation": {
            "ephemeral_5m_input_tokens": usage.cache_write_tokens - usage.cache_write_1h_tokens,
            "ephemeral_1h_input_tokens": usage.cache_write_1h_tokens,
        },
    }


def _dict(value: object) -> Json:
    return cast(Json, value) if isinstance(value, dict) else {}


def _dicts(value: object) -> list[Json]:
    items = cast(list[object], value) if isinstance(value, list) else []
    return [cast(Json, item) for item in items if isinstance(item, dict)]


def _blocks(message: Json) -> list[Json]:
    content = message.get("content")
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    return _dicts(content)


def _result_text(block: Json) -> str:
    content: object = block.get("content")
    if isinstance(content, str):
        return content
    return "".join(str(part.get("text", "")) for part in _dicts(content))


class ParsedRequest:
    """What the server reads from one Messages API request body."""

    def __init__(self, body: Json) -> None:
        self.body = body
        self.model = str(body.get("model") or "")
        self.stream = bool(body.get("stream"))
        self.messages = _dicts(body.get("messages"))
        self.tools = [str(tool.get("name")) for tool in _dicts(body.get("tools"))]
        self.tool_results = [
            {"tool_use_id": b.get("tool_use_id"), "content": _result_text(b),
             "is_error": bool(b.get("is_error"))}
            for m in self.messages for b in _blocks(m) if b.get("type") == "tool_result"
        ]  # fmt: skip

    def text(self) -> str:
        """All user-visible text of the request, in order (what scripts are selected by)."""
        parts = [
            str(b.get("text", ""))
            for m in self.messages
            if m.get("role") != "assistant"
            for b in _blocks(m)
            if b.get("type") == "text"
        ]
        return "\n".join([*parts, self.system()])

    def system(self) -> str:
        """The system prompt's text (its blocks joined)."""
        system: object = self.body.get("system")
        if isinstance(system, str):
            return system
        return "\n".join(str(block.get("text", "")) for block in _dicts(system))

    def history(self) -> list[str]:
        """A compact summary of the conversation: ``role:block-type[:tool name or id]``."""
        summary: list[str] = []
        for message in self.messages:
            for block in _blocks(message):
                kind = str(block.get("type"))
                tag = block.get("name") or block.get("id") or block.get("tool_use_id")
                summary.append(f"{message.get('role')}:{kind}" + (f":{tag}" if tag else ""))
        return summary

    def structured_answer(self) -> str | None:
        """Schema-valid JSON for a structured-output side call (the CLI's title call), if any."""
        fmt = _dict(_dict(self.body.get("output_config")).get("format"))
        if fmt.get("type") != "json_schema":
            return None
        props = _dict(_dict(fmt.get("schema")).get("properties"))
        return json.dumps(dict.fromkeys(props, "Scripted session") or {"title": "Scripted"})


class Answer:
    """What the model answers to one request: content blocks, stop reason and usage."""

    def __init__(self, request: ParsedRequest, script: ModelScript, turn: ModelTurn) -> None:
        self.model = request.model or script.model
        self.turn = turn
        self.content: list[Json] = []
        text = turn.text or ""
        if turn.echo_tool_results and request.tool_results:
            lines = [
                f"- {'error' if r['is_error'] else 'ok'}: {r['content']}"
                for r in request.tool_results
            ]
            text = f"{text}\n\nTool results seen:\n" + "\n".join(lines)
        if turn.tool is None:
            text = request.structured_answer() or text
        if text or turn.tool is None:
            self.content.append({"type": "text", "text": text or "OK."})
        use_tool = turn.tool is not None and bool(request.tools)
        if use_tool and turn.tool is not None:
            call = {"type": "tool_use", "id": f"toolu_{uuid.uuid4().hex[:20]}"}
            self.content.append({**call, "name": turn.tool.name, "input": turn.tool.input})
        self.stop_reason = "tool_use" if use_tool else "end_turn"
        self.id = f"msg_{uuid.uuid4().hex[:24]}"

    def message(self) -> Json:
        """The non-streaming response body."""
        return {
            "id": self.id,
            "type": "message",
            "role": "assistant",
            "model": self.model,
            "content": self.content,
            "stop_reason": self.stop_reason,
            "stop_sequence": None,
            "usage": usage_json(self.turn.usage),
        }

    def events(self) -> Iterator[Json]:
        """The SSE events of the streaming response, in the order the API sends them."""
        start: Json = {**self.message(), "content": [], "stop_reason": None}
        start["usage"] = {**usage_json(self.turn.usage), "output_tokens": 1}
        yield {"type": "message_start", "message": start}
        for index, block in enumerate(self.content):
            if block["type"] == "text":
                opening: Json = {"type": "text", "text": ""}
                text: str = block["text"]
                pieces = [text[i : i + DELTA_CHARS] for i in range(0, len(text), DELTA_CHARS)]
                deltas = [{"type": "text_delta", "text": piece} for piece in pieces or [""]]
            else:
                opening = {**block, "input": {}}
                deltas = [{"type": "input_json_delta", "partial_json": json.dumps(block["input"])}]
            yield {"type": "content_block_start", "index": index, "content_block": opening}
            for delta in deltas:
                yield {"type": "content_block_delta", "index": index, "delta": delta}
            yield {"type": "content_block_stop", "index": index}
        yield {
            "type": "message_delta",
            "delta": {"stop_reason": self.stop_reason, "stop_sequence": None},
            "usage": {"output_tokens": self.turn.usage.output_tokens},
        }
        yield {"type": "message_stop"}

    def summary(self) -> Json:
        """What the request log records about the answer."""
        tools = [b["name"] for b in self.content if b["type"] == "tool_use"]
        texts = [b["text"] for b in self.content if b["type"] == "text"]
        return {"text": "".join(texts), "tool": tools[0] if tools else None}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    @property
    def owner(self) -> AnthropicScriptServer:
        return cast(_HTTPServer, self.server).owner

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the request log is the server's record."""

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0].rstrip("/")
        if path == "/v1/models":
            models = [{"type": "model", "id": m, "display_name": m, "created_at":
                       "2026-01-01T00:00:00Z"} for m in MODELS]  # fmt: skip
            first, last = models[0]["id"], models[-1]["id"]
            self._json(200, {"data": models, "has_more": False, "first_id": first,
                             "last_id": last})  # fmt: skip
        else:
            self._json(404, error_body(404, f"Not found: {path}"))

    def do_POST(self) -> None:
        path = self.path.split("?", 1)[0].rstrip("/")
        length = int(self.headers.get("content-length") or 0)
        try:
            body = json.loads(self.rfile.read(length) or b"{}")
        except json.JSONDecodeError:
            self._json(400, error_body(400, "The request body is not valid JSON."))
            return
        request = ParsedRequest(_dict(body))
        if path == "/v1/messages/count_tokens":
            self._json(200, {"input_tokens": max(1, len(json.dumps(body)) // 4)})
        elif path == "/v1/messages":
            self._messages(path, request)
        else:
            self._json(404, error_body(404, f"Not found: {path}"))

    def _messages(self, path: str, request: ParsedRequest) -> None:
        owner = self.owner
        script = owner.book.select(request.text())
        turn = script.turn(len(request.tool_results))
        entry = owner.record(
            {
                "path": path,
                "at": time.time(),
                "model": request.model,
                "stream": request.stream,
                "scenario": script.name,
                "turn": len(request.tool_results),
                "tools": request.tools,
                "tool_results": request.tool_results,
                "history": request.history(),
                "system": request.system(),
                "auth": _auth_kind(self.headers),
                "answer": "pending",
            }
        )
        if turn.delay and owner.stopping.wait(turn.delay):
            return
        if turn.error is not None:
            owner.answered(entry, {"error": turn.error.status})
            err = turn.error
            retry_after = {} if err.retry_after is None else {"retry-after": f"{err.retry_after:g}"}
            self._json(err.status, error_body(err.status, err.message, err.type), retry_after)
            return
        answer = Answer(request, script, turn)
        owner.answered(entry, answer.summary())
        if request.stream:
            self._stream(answer, turn.stream_fault)
        else:
            self._json(200, answer.message())

    def _headers(
        self,
        status: int,
        content_type: str,
        length: int | None = None,
        extra: dict[str, str] | None = None,
    ) -> None:
        self.send_response(status)
        self.send_header("content-type", content_type)
        if length is not None:
            self.send_header("content-length", str(length))
        for name, value in (extra or {}).items():
            self.send_header(name, value)
        self.send_header("request-id", f"req_{uuid.uuid4().hex[:24]}")
        self.send_header("connection", "close")
        self.end_headers()
        self.close_connection = True

    def _stream(self, answer: Answer, fault: str | None = None) -> None:
        self._headers(200, "text/event-stream")
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            for event in answer.events():
                self._send_event(str(event["type"]), json.dumps(event))
                if fault is not None and event.get("delta", {}).get("type") == "text_delta":
                    self._break_stream(fault)
                    return

    def _send_event(self, kind: str, data: str) -> None:
        self.wfile.write(f"event: {kind}\ndata: {data}\n\n".encode())
        self.wfile.flush()

    def _break_stream(self, fault: str) -> None:
        """Fail a stream mid-message (`ModelTurn.stream_fault`); ``cut`` just stops."""
        if fault == "garbage":
            self._send_event("content_block_delta", '{"type": "content_block_delta", "ind')
        elif fault == "overloaded":
            self._send_event("error", json.dumps(error_body(529, "Overloaded")))

    def _json(self, status: int, body: Json, extra: dict[str, str] | None = None) -> None:
        data = json.dumps(body).encode()
        self._headers(status, "application/json", len(data), extra)
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self.wfile.write(data)


def _auth_kind(headers: Message) -> str:
    """How the client authenticated, never the secret itself."""
    return (
        "x-api-key"
        if headers.get("x-api-key")
        else "bearer"
        if headers.get("authorization")
        else "none"
    )


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], owner: AnthropicScriptServer) -> None:
        super().__init__(address, _Handler)
        self.owner = owner


class AnthropicScriptServer(ThreadedServer):
    """The scripted Messages API server; a context manager that runs it on a background thread.

    Args:
        book: The scripts it can play (a request without a known marker gets a plain "OK.").
        port: The port to bind on 127.0.0.1; 0 picks a free one.
        log_path: Also append each request's log entry to this file, one JSON object a line.
    """

    def __init__(
        self, book: ScriptBook | None = None, port: int = 0, log_path: Path | None = None
    ) -> None:
        super().__init__("anthropic-script-server")
        self.book = book or ScriptBook()
        self.requests: list[Json] = []
        """One entry per Messages request: path, arrival time (``at``), model, stream, scenario,
        turn, tools, tool_results, history, system, auth (the kind, never the key) and the answer
        (``"pending"`` until it is given)."""
        self._log_path = log_path
        self._lock = threading.Lock()
        self._httpd = _HTTPServer(("127.0.0.1", port), self)

    @property
    def url(self) -> str:
        """The base URL to give clients (``ANTHROPIC_BASE_URL``)."""
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    def record(self, entry: Json) -> Json:
        """Add a request to the log as it arrives (its answer is still ``"pending"``)."""
        with self._lock:
            self.requests.append(entry)
        return entry

    def answered(self, entry: Json, answer: Json) -> None:
        """Note the answer given to a logged request (and append it to the log file, if any)."""
        with self._lock:
            entry["answer"] = answer
            if self._log_path is not None:
                with self._log_path.open("a", encoding="utf-8") as handle:
                    handle.write(json.dumps(entry) + "\n")


def main(argv: list[str] | None = None) -> None:
    """Run the server in the foreground until interrupted."""
    parser = argparse.ArgumentParser(
        prog="python -m stagent.testing.anthropic_server",
        description="A scripted Anthropic Messages API on 127.0.0.1 (simulated model).",
    )
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0: any free)")
    parser.add_argument("--scripts", type=Path, nargs="*", default=[], help="YAML/JSON scripts")
    parser.add_argument("--log", type=Path, default=None, help="append request log lines here")
    args = parser.parse_args(argv)
    server = AnthropicScriptServer(ScriptBook.from_files(*args.scripts), args.port, args.log)
    print(f"scripted Anthropic API (simulated) on {server.url}", flush=True)  # noqa: T201
    with server, contextlib.suppress(KeyboardInterrupt):
        server.stopping.wait()


if __name__ == "__main__":
    main()
