"""The import direction of design.md: SQLAlchemy only under ``store/``, FastAPI, Starlette and
Jinja only under ``web/`` (type-only imports count too: they tie a package to the library)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import stagent

SOURCE = Path(stagent.__file__).parent
OWNERS = {"sqlalchemy": "store", "fastapi": "web", "starlette": "web", "jinja2": "web"}
"""Each library and the one package of ``src/stagent`` that may import it."""


def imported_roots(path: Path) -> set[str]:
    """The top-level names a module imports (``from x.y import z`` -> ``x``)."""
    roots: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(node.module.split(".")[0])
    return roots


def trespassers() -> list[str]:
    """``module: library`` for every module that imports a library outside its package."""
    found: list[str] = []
    for path in sorted(SOURCE.rglob("*.py")):
        package = path.relative_to(SOURCE).parts[0]
        for library in sorted(imported_roots(path) & OWNERS.keys()):
            if package != OWNERS[library]:
                found.append(f"{path.relative_to(SOURCE)}: {library}")
    return found


def test_libraries_are_imported_only_by_their_package() -> None:
    assert trespassers() == []


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("from sqlalchemy.orm import Session\n", {"sqlalchemy"}),
        ("if TYPE_CHECKING:\n    import jinja2.ext\n", {"jinja2"}),
        ("from .store import tables\nfrom stagent.store import Session\n", {"stagent"}),
    ],
)
def test_imported_roots_sees_every_absolute_import(
    tmp_path: Path, source: str, expected: set[str]
) -> None:
    module = tmp_path / "module.py"
    module.write_text(source, encoding="utf-8")
    assert imported_roots(module) == expected
