"""`stagent project add/list`."""

from __future__ import annotations

from pathlib import Path

from clitools import Cli


def test_add_and_list_projects(cli: Cli) -> None:
    added = cli("project", "add", "Demo", "--description", "A demo project")
    assert added.exit_code == 0, added.output
    assert "Created project Demo" in added.stdout

    listed = cli("project", "list")
    assert listed.exit_code == 0
    assert "Demo" in listed.stdout
    assert "A demo project" in listed.stdout


def test_project_json_shapes(cli: Cli, tmp_path: Path) -> None:
    workdir = tmp_path / "repo"
    workdir.mkdir()
    project = cli.json("project", "add", "Repo", "--dir", str(workdir))
    assert project["name"] == "Repo"
    assert project["working_directory"] == str(workdir.resolve())
    assert project["id"].startswith("prj_")

    cli.add_task("in the project", "--project", "Repo")
    projects = cli.json("project", "list")
    assert isinstance(projects, list)
    assert [p["name"] for p in projects] == ["Repo"]
    assert projects[0]["task_counts"] == {"planned": 1}


def test_empty_project_list(cli: Cli) -> None:
    assert cli.json("project", "list") == []
    assert "No projects yet" in cli("project", "list").stdout


def test_duplicate_project_name_is_one_line_error(cli: Cli) -> None:
    cli.json("project", "add", "Same")
    result = cli("project", "add", "Same")
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.startswith("Error: ")
    assert "Traceback" not in result.output


def test_missing_directory_is_one_line_error(cli: Cli, tmp_path: Path) -> None:
    result = cli("project", "add", "Ghost", "--dir", str(tmp_path / "nope"))
    assert result.exit_code == 1
    first, *_ = result.stderr.splitlines()
    assert first.startswith("Error: directory:")
