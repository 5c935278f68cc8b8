"""The Environment page and ``/api/v1/scans``: score, findings with fixes, artifacts with a
detail sheet, history, comparison, skill portfolio; secrets never reach a page or the API."""

from __future__ import annotations

import os
from pathlib import Path

import httpx
import pytest
from bs4 import BeautifulSoup

from stagent.testing.scan_trees import broken_tree, fake_bin, write
from stagent.workspace import Workspace

SECRETS = ("ghp_a1B2c3D4", "sk-ant-api03-Zx9", "sk-proj-QQQQ")


@pytest.fixture
def tree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, workspace: Workspace) -> Path:
    """The broken tree, HOME inside it, and the workspace's projects pointing at its projects."""
    root = tmp_path / "tree"
    work = broken_tree(root)
    monkeypatch.setenv("HOME", str(root / "home"))
    monkeypatch.delenv("CLAUDE_CONFIG_DIR", raising=False)
    monkeypatch.delenv("CODEX_HOME", raising=False)
    monkeypatch.setenv("PATH", f"{fake_bin(root / 'bin')}{os.pathsep}/usr/bin:/bin")
    workspace.projects.create("webapp", directory=str(work / "webapp"))
    workspace.projects.create("api", directory=str(work / "api"))
    return work


def _soup(response: httpx.Response) -> BeautifulSoup:
    assert response.status_code == 200, response.text
    return BeautifulSoup(response.text, "html.parser")


async def test_overview_shows_score_findings_fixes_and_artifacts(
    client: httpx.AsyncClient, tree: Path
) -> None:
    response = await client.get("/environment")
    soup = _soup(response)
    score = soup.select_one(".score-big")
    assert score is not None and 0 < int(str(score["data-score"])) < 100
    kinds = {str(li["data-kind"]) for li in soup.select("li.finding")}
    assert {"plaintext-secret", "mcp-command-missing", "broad-permission"} <= kinds
    secret = next(li for li in soup.select("li.finding") if li["data-kind"] == "plaintext-secret")
    assert "Fix:" in secret.get_text() and "(value redacted)" in secret.get_text()
    assert "webapp/.mcp.json:10" in soup.get_text()
    summaries = [s.get_text(" ", strip=True) for s in soup.select(".artifact-group summary")]
    assert any(s.startswith("Claude Code · skill") for s in summaries)
    assert any(s.startswith("Codex · config") for s in summaries)
    env_link = soup.select_one('.sidebar a[href="/environment"]')
    assert env_link is not None and "not-built" not in (env_link.get("class") or [])
    for value in SECRETS:
        assert value not in response.text


async def test_detail_sheet_shows_parsed_content_redacted(
    client: httpx.AsyncClient, tree: Path, workspace: Workspace
) -> None:
    await client.get("/environment")
    report = workspace.scans.last
    assert report is not None
    github = next(a for a in report.artifacts if a.name == "github")
    sheet = _soup(await client.get(f"/ui/environment/artifacts/{github.id}"))
    text = sheet.get_text(" ", strip=True)
    assert "[redacted]" in text and "GITHUB_PERSONAL_ACCESS_TOKEN" in text
    assert "GitHub token in plain text" in text  # the file's findings
    assert not any(value in str(sheet) for value in SECRETS)
    missing = await client.get("/ui/environment/artifacts/nope")
    assert missing.status_code == 404


async def test_agent_text_in_artifacts_is_escaped(client: httpx.AsyncClient, tree: Path) -> None:
    skill = tree / "webapp" / ".claude" / "skills" / "xss" / "SKILL.md"
    write(
        skill,
        "---\nname: <script>alert(1)</script>\ndescription: <img src=x onerror=alert(1)>\n---\nx\n",
    )
    page = await client.get("/environment")
    assert "<script>alert(1)</script>" not in page.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
    skills = await client.get("/environment/skills")
    assert "<img src=x" not in skills.text


async def test_history_records_changes_only(
    client: httpx.AsyncClient, tree: Path, workspace: Workspace
) -> None:
    await client.get("/environment")
    await client.get("/environment")
    assert len(workspace.scans.history()) == 1
    (tree / "webapp" / ".mcp.json").unlink()
    soup = _soup(await client.get("/environment/history"))
    history = workspace.scans.history()
    assert len(history) == 2 and history[0].score > history[1].score
    assert soup.select_one("svg.sparkline polyline") is not None
    assert len(soup.select("tbody tr")) == 2
    # "Scan now" stores a scan even when nothing changed
    response = await client.post("/ui/environment/scan")
    assert response.headers.get("HX-Redirect") == "/environment"
    assert len(workspace.scans.history()) == 3


async def test_compare_matrix_and_skill_portfolio(client: httpx.AsyncClient, tree: Path) -> None:
    matrix = _soup(await client.get("/environment/compare"))
    headers = [th.get_text(strip=True) for th in matrix.select("table.matrix thead th")]
    assert headers == ["Artifact", "User level", "api", "webapp"]
    rows = {
        tr.select_one("th").get_text(" ", strip=True): [td.get_text() for td in tr.select("td")]  # type: ignore[union-attr]
        for tr in matrix.select("table.matrix tbody tr")
    }
    assert rows["instruction CLAUDE.md"] == ["·", "✓", "✓"]
    skills = _soup(await client.get("/environment/skills"))
    pdf = skills.select_one('tr[data-skill="pdf-tools"]')
    assert pdf is not None and "drift" in pdf.get_text()
    release = skills.select_one('tr[data-skill="release"]')
    assert release is not None and "webapp · Both (shared)" in release.get_text()


async def test_scan_now_needs_the_csrf_token(raw_client: httpx.AsyncClient, tree: Path) -> None:
    response = await raw_client.post("/ui/environment/scan")
    assert response.status_code == 403


async def test_api_runs_lists_and_reads_scans(client: httpx.AsyncClient, tree: Path) -> None:
    created = await client.post("/api/v1/scans", json={})
    assert created.status_code == 201, created.text
    report = created.json()
    assert {"artifacts", "findings", "score", "duration_ms"} <= set(report)
    assert {"severity", "path", "line", "message", "fix"} <= set(report["findings"][0])
    assert report["id"]
    assert not any(value in created.text for value in SECRETS)
    listed = (await client.get("/api/v1/scans")).json()
    assert listed["count"] == 1 and listed["data"][0]["id"] == report["id"]
    assert listed["data"][0]["duration_ms"] == report["duration_ms"]
    latest = (await client.get("/api/v1/scans/latest")).json()
    one = (await client.get(f"/api/v1/scans/{report['id']}")).json()
    assert latest == one
    assert one["findings"] == report["findings"]
    only = await client.post("/api/v1/scans", json={"roots": [str(tree / "api")]})
    assert [p["name"] for p in only.json()["projects"]] == ["api"]


async def test_api_errors_have_the_one_shape(client: httpx.AsyncClient, tree: Path) -> None:
    missing = await client.get("/api/v1/scans/scn_nope")
    assert missing.status_code == 404 and missing.json()["code"] == "not_found"
    none_yet = await client.get("/api/v1/scans/latest")
    assert none_yet.status_code == 404
    bad = await client.post("/api/v1/scans", json={"roots": [str(tree / "no-such-folder")]})
    assert bad.status_code == 422 and "is not a folder" in bad.json()["error"]


async def test_scan_routes_are_in_the_openapi_schema(client: httpx.AsyncClient) -> None:
    schema = (await client.get("/api/v1/openapi.json")).json()
    assert {"/api/v1/scans", "/api/v1/scans/latest", "/api/v1/scans/{scan_id}"} <= set(
        schema["paths"]
    )
    report = schema["components"]["schemas"]["ScanReport"]["properties"]
    assert {"artifacts", "findings", "score", "duration_ms"} <= set(report)
    assert not [p for p in schema["paths"] if p.startswith("/ui/environment")]
