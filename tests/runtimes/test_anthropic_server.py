"""The scripted Anthropic Messages API server, through the real ``anthropic`` client."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import anthropic
import httpx
import pytest
import yaml
from claude_fixtures import TEST_KEY, anthropic_server_fixture, offline_env_fixture  # noqa: F401

from stagent.testing.anthropic_server import AnthropicScriptServer
from stagent.testing.model_script import ScriptBook

MODEL = "claude-sonnet-4-6"


def _user(text: str) -> anthropic.types.MessageParam:
    return {"role": "user", "content": text}


def _client(server: AnthropicScriptServer) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=server.url, api_key=TEST_KEY, max_retries=0)


def test_streaming_sends_the_events_the_cli_expects(
    anthropic_server: AnthropicScriptServer,
) -> None:
    with httpx.stream(
        "POST",
        f"{anthropic_server.url}/v1/messages?beta=true",
        json={
            "model": MODEL,
            "stream": True,
            "messages": [{"role": "user", "content": "SCENARIO:text"}],
        },
    ) as response:
        assert response.headers["content-type"] == "text/event-stream"
        lines = [line for line in response.iter_lines() if line]
    events = [json.loads(line[6:]) for line in lines if line.startswith("data: ")]
    names = [line[7:] for line in lines if line.startswith("event: ")]
    assert names == [event["type"] for event in events]
    assert names == [
        "message_start",
        "content_block_start",
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    start = events[0]["message"]
    assert start["usage"]["input_tokens"] == 1234 and start["usage"]["output_tokens"] == 1
    assert start["usage"]["cache_creation"] == {
        "ephemeral_5m_input_tokens": 200,
        "ephemeral_1h_input_tokens": 100,
    }
    assert events[4]["usage"] == {"output_tokens": 56}
    assert events[4]["delta"]["stop_reason"] == "end_turn"


def test_the_client_streams_text_and_usage(anthropic_server: AnthropicScriptServer) -> None:
    messages: list[anthropic.types.MessageParam] = [{"role": "user", "content": "SCENARIO:text hi"}]
    with _client(anthropic_server).messages.stream(
        model=MODEL, max_tokens=100, messages=messages
    ) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text == "Hello from the scripted model."
    assert final.usage.cache_creation_input_tokens == 300
    assert final.usage.cache_read_input_tokens == 789
    [entry] = anthropic_server.requests
    assert entry["scenario"] == "text" and entry["stream"] is True and entry["model"] == MODEL
    assert TEST_KEY not in json.dumps(entry)


def test_a_tool_round_trip_without_streaming_echoes_what_the_model_was_told(
    anthropic_server: AnthropicScriptServer,
) -> None:
    client = _client(anthropic_server)
    tools: list[anthropic.types.ToolParam] = [
        {"name": "Write", "input_schema": {"type": "object"}},
        {"name": "Bash", "input_schema": {"type": "object"}},
    ]
    ask: anthropic.types.MessageParam = {"role": "user", "content": "SCENARIO:write"}
    first = client.messages.create(model=MODEL, max_tokens=50, tools=tools, messages=[ask])
    assert first.stop_reason == "tool_use"
    use = first.content[-1]
    assert use.type == "tool_use" and use.name == "Bash"
    result: anthropic.types.MessageParam = {
        "role": "user",
        "content": [
            {"type": "tool_result", "tool_use_id": use.id, "content": "no", "is_error": True}
        ],
    }
    reply: anthropic.types.MessageParam = {"role": "assistant", "content": first.content}
    second = client.messages.create(
        model=MODEL, max_tokens=50, tools=tools, messages=[ask, reply, result]
    )
    assert second.content[-1].type == "tool_use" and second.content[-1].name == "Write"
    assert anthropic_server.requests[1]["turn"] == 1
    assert anthropic_server.requests[1]["tool_results"] == [
        {"tool_use_id": use.id, "content": "no", "is_error": True}
    ]


def test_requests_without_a_known_marker_get_plain_text(
    anthropic_server: AnthropicScriptServer,
) -> None:
    reply = _client(anthropic_server).messages.create(
        model=MODEL, max_tokens=10, messages=[{"role": "user", "content": "SCENARIO:nope hi"}]
    )
    assert reply.content[0].type == "text" and reply.content[0].text == "OK."


@pytest.mark.parametrize(
    ("scenario", "status", "kind", "message", "error"),
    [
        ("e401", 401, "authentication_error", "invalid x-api-key", anthropic.AuthenticationError),
        ("e429", 429, "rate_limit_error", "Number of requests exceeded", anthropic.RateLimitError),
        ("e500", 500, "api_error", "Internal server error", anthropic.InternalServerError),
    ],
)
def test_errors_are_anthropic_shaped(
    anthropic_server: AnthropicScriptServer,
    scenario: str,
    status: int,
    kind: str,
    message: str,
    error: type[anthropic.APIStatusError],
) -> None:
    with pytest.raises(error) as caught:
        _client(anthropic_server).messages.create(
            model=MODEL,
            max_tokens=10,
            messages=[{"role": "user", "content": f"SCENARIO:{scenario}"}],
        )
    assert caught.value.status_code == status
    assert caught.value.body == {
        "type": "error",
        "error": {"type": kind, "message": message},
    }
    assert anthropic_server.requests[0]["answer"] == {"error": status}


def test_count_tokens_models_and_unknown_paths(anthropic_server: AnthropicScriptServer) -> None:
    client = _client(anthropic_server)
    count = client.messages.count_tokens(model=MODEL, messages=[{"role": "user", "content": "hi"}])
    assert count.input_tokens > 0
    assert MODEL in [model.id for model in client.models.list()]
    missing = httpx.get(f"{anthropic_server.url}/v1/nothing")
    assert missing.status_code == 404 and missing.json()["error"]["type"] == "not_found_error"
    bad = httpx.post(f"{anthropic_server.url}/v1/messages", content=b"{not json")
    assert bad.status_code == 400 and bad.json()["error"]["type"] == "invalid_request_error"


def test_the_log_file_gets_one_json_line_per_request(tmp_path: Path) -> None:
    log = tmp_path / "requests.jsonl"
    with AnthropicScriptServer(ScriptBook(), log_path=log) as server:
        _client(server).messages.create(
            model=MODEL, max_tokens=5, messages=[{"role": "user", "content": "hello"}]
        )
    [line] = log.read_text().splitlines()
    assert json.loads(line)["answer"] == {"text": "OK.", "tool": None}


def test_the_module_runs_as_a_command_with_script_files(tmp_path: Path) -> None:
    script = tmp_path / "greet.yaml"
    script.write_text(yaml.safe_dump({"name": "greet", "turns": [{"text": "Hi from a file."}]}))
    proc = subprocess.Popen(
        [sys.executable, "-m", "stagent.testing.anthropic_server", "--scripts", str(script)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip().rsplit(" ", 1)[-1]
        assert url.startswith("http://127.0.0.1:")
        client = anthropic.Anthropic(base_url=url, api_key=TEST_KEY, max_retries=0)
        reply = client.messages.create(
            model=MODEL, max_tokens=5, messages=[{"role": "user", "content": "SCENARIO:greet"}]
        )
        assert reply.content[0].type == "text" and reply.content[0].text == "Hi from a file."
    finally:
        proc.terminate()
        proc.wait(timeout=10)
