"""The scripted OpenAI Responses API server, spoken to over HTTP (no Codex binary)."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from stagent.testing.model_script import ModelScript
from stagent.testing.openai_server import ScriptedOpenAIServer

CODEX_TOOLS = [
    {"type": "function", "name": "exec_command"},
    {"type": "function", "name": "request_user_input"},
    {"type": "custom", "name": "apply_patch"},
    {"type": "web_search"},
]


def script(name: str, *turns: dict[str, Any]) -> ModelScript:
    return ModelScript.model_validate({"name": name, "turns": list(turns)})


SCRIPTS = [
    script(
        "hello",
        {
            "text": "Hello, world.",
            "usage": {
                "input_tokens": 100,
                "cache_read_tokens": 40,
                "output_tokens": 12,
                "reasoning_tokens": 3,
            },
        },
    ),
    script(
        "tools",
        {"text": "Running.", "tool": {"name": "Bash", "input": {"command": "ls -la"}}},
        {"tool": {"name": "Write", "input": {"file_path": "a.txt", "content": "x\ny"}}},
        {
            "tool": {
                "name": "Edit",
                "input": {"file_path": "a.txt", "old_string": "x", "new_string": "z"},
            }
        },
        {
            "tool": {
                "name": "AskUserQuestion",
                "input": {
                    "questions": [
                        {
                            "question": "Which?",
                            "header": "Pick",
                            "options": [{"label": "A", "description": "first"}],
                        }
                    ]
                },
            }
        },
        {"text": "Results:", "echo_tool_results": True},
    ),
    script("boom", {"error": {"status": 429, "message": "Slow down"}}),
    script("sleepy", {"text": "late", "delay": 30}),
]


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ScriptedOpenAIServer]:
    with ScriptedOpenAIServer(SCRIPTS, log_path=tmp_path / "log.jsonl") as running:
        yield running


def user(text: str) -> dict[str, Any]:
    return {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}


def output(text: str) -> dict[str, Any]:
    return {"type": "function_call_output", "call_id": "c", "output": text}


def post(
    server: ScriptedOpenAIServer, *items: dict[str, Any], tools: list[Any] | None = None
) -> httpx.Response:
    body = {"model": "gpt-5.5", "stream": True, "input": list(items), "tools": tools or CODEX_TOOLS}
    headers = {"Authorization": "Bearer sk-secret-value"}
    return httpx.post(f"{server.base_url}/responses", json=body, headers=headers, timeout=60)


def sse(response: httpx.Response) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    for block in response.text.strip().split("\n\n"):
        name, data = block.split("\n", 1)
        payload = json.loads(data.removeprefix("data: "))
        assert name == f"event: {payload['type']}"
        events.append(payload)
    return events


def final_output(response: httpx.Response) -> list[dict[str, Any]]:
    return [e["item"] for e in sse(response) if e["type"] == "response.output_item.done"]


def test_a_text_turn_streams_deltas_and_usage(server: ScriptedOpenAIServer) -> None:
    response = post(server, user("<environment_context/>"), user("SCENARIO:hello hi"))
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/event-stream"
    events = sse(response)
    types = [e["type"] for e in events]
    assert types[0] == "response.created" and types[-1] == "response.completed"
    deltas = "".join(e["delta"] for e in events if e["type"] == "response.output_text.delta")
    assert deltas == "Hello, world."
    [message] = final_output(response)
    assert message["content"][0]["text"] == "Hello, world."
    assert events[-1]["response"]["usage"] == {
        "input_tokens": 140,
        "input_tokens_details": {"cached_tokens": 40},
        "output_tokens": 12,
        "output_tokens_details": {"reasoning_tokens": 3},
        "total_tokens": 152,
    }


def test_the_turn_is_the_number_of_tool_results(server: ScriptedOpenAIServer) -> None:
    [text, call] = final_output(post(server, user("SCENARIO:tools go")))
    assert text["content"][0]["text"] == "Running."
    assert call["type"] == "function_call" and call["name"] == "exec_command"
    assert json.loads(call["arguments"])["cmd"] == "ls -la"

    [patch] = final_output(post(server, user("SCENARIO:tools go"), output("ok")))
    assert patch["type"] == "custom_tool_call" and patch["name"] == "apply_patch"
    assert patch["input"] == "*** Begin Patch\n*** Add File: a.txt\n+x\n+y\n*** End Patch\n"

    [edit] = final_output(post(server, user("SCENARIO:tools go"), output("1"), output("2")))
    assert "*** Update File: a.txt\n@@\n-x\n+z\n" in edit["input"]

    items = [user("SCENARIO:tools go"), output("1"), output("2"), output("3")]
    [ask] = final_output(post(server, *items))
    assert ask["name"] == "request_user_input"
    assert json.loads(ask["arguments"]) == {
        "questions": [
            {
                "id": "q1",
                "header": "Pick",
                "question": "Which?",
                "options": [{"label": "A", "description": "first"}],
            }
        ]
    }

    [echo] = final_output(post(server, *items, output("answer-4")))
    assert echo["content"][0]["text"] == "Results:\n1\n2\n3\nanswer-4"


def test_call_ids_are_unique(server: ScriptedOpenAIServer) -> None:
    ids = {final_output(post(server, user("SCENARIO:tools go")))[1]["call_id"] for _ in range(3)}
    assert len(ids) == 3


def test_tools_map_onto_what_is_offered(server: ScriptedOpenAIServer) -> None:
    legacy = [{"type": "function", "name": "shell_command"}]
    [_, call] = final_output(post(server, user("SCENARIO:tools go"), tools=legacy))
    assert call["name"] == "shell_command" and json.loads(call["arguments"]) == {
        "command": "ls -la"
    }

    no_patch = [{"type": "function", "name": "exec_command"}]
    [write] = final_output(post(server, user("SCENARIO:tools go"), output("1"), tools=no_patch))
    command = json.loads(write["arguments"])["cmd"]
    assert command.startswith("cat > 'a.txt' <<'STAGENT_EOF'\nx\ny\n")


def test_an_unknown_or_missing_marker_gets_plain_text(server: ScriptedOpenAIServer) -> None:
    for text in ("no marker at all", "SCENARIO:nope"):
        [message] = final_output(post(server, user(text)))
        assert message["content"][0]["text"] == "OK."


def test_errors_are_openai_shaped(server: ScriptedOpenAIServer) -> None:
    response = post(server, user("SCENARIO:boom"))
    assert response.status_code == 429
    assert response.json() == {
        "error": {
            "message": "Slow down",
            "type": "rate_limit_exceeded",
            "param": None,
            "code": "rate_limit_exceeded",
        }
    }


def test_gzip_bodies_are_read_and_other_routes_are_404(server: ScriptedOpenAIServer) -> None:
    body = json.dumps({"input": [user("SCENARIO:hello")], "tools": []}).encode()
    response = httpx.post(
        f"{server.base_url}/responses",
        content=gzip.compress(body),
        headers={"Content-Encoding": "gzip", "Content-Type": "application/json"},
    )
    assert "Hello, world." in response.text
    assert httpx.get(f"{server.base_url}/models").json()["data"] == []
    missing = httpx.post(f"{server.base_url}/chat/completions", json={})
    assert missing.status_code == 404 and "error" in missing.json()
    assert [r["status"] for r in server.requests] == [200, 200, 404]


def test_a_required_key_is_checked(tmp_path: Path) -> None:
    with ScriptedOpenAIServer(SCRIPTS, api_key="sk-right") as strict:
        response = post(strict, user("SCENARIO:hello"))
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "invalid_api_key"
        assert strict.requests[-1]["authorized"] is False


def test_requests_are_logged_without_the_key(server: ScriptedOpenAIServer, tmp_path: Path) -> None:
    post(server, user("SCENARIO:tools go"), output("done"))
    lines = (tmp_path / "log.jsonl").read_text().splitlines()
    [entry] = [json.loads(line) for line in lines]
    assert entry["scenario"] == "tools" and entry["turn"] == 1
    assert entry["tool_results"] == ["done"] and entry["user_texts"] == ["SCENARIO:tools go"]
    assert entry["authorized"] is True
    assert "sk-secret-value" not in lines[0]
    assert server.scripted("tools") == [server.requests[0]]


def test_a_delay_ends_when_the_server_stops() -> None:
    server = ScriptedOpenAIServer(SCRIPTS).start()
    outcome: list[BaseException | httpx.Response] = []

    def call() -> None:
        try:
            outcome.append(post(server, user("SCENARIO:sleepy")))
        except httpx.HTTPError as exc:
            outcome.append(exc)

    caller = threading.Thread(target=call)
    caller.start()
    time.sleep(0.3)
    server.stop()
    caller.join(timeout=20)
    assert not caller.is_alive()  # well before the scenario's 30 s delay
    assert outcome and isinstance(outcome[0], httpx.HTTPError)  # hung up, not answered


def test_the_command_line_serves_script_files(tmp_path: Path) -> None:
    path = tmp_path / "scripts.yaml"
    path.write_text("name: cli\nturns:\n  - text: from a file\n")
    process = subprocess.Popen(
        [sys.executable, "-m", "stagent.testing.openai_server", "--scripts", str(path)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert "(simulated)" in line
        base_url = line.split(" on ", 1)[1].split()[0]
        body = {"input": [user("SCENARIO:cli")], "tools": []}
        response = httpx.post(f"{base_url}/responses", json=body, timeout=60)
        assert "from a file" in response.text
    finally:
        process.terminate()
        process.wait(timeout=10)
