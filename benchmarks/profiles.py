"""Profile and blueprint benchmarks: ``python -m benchmarks.profiles [--quick]``.

Prints medians; asserts nothing. Measured in one process, each beside a floor measured in the
same run:

- loading the whole catalog (52 built-in profiles with their runtime checks, 14 blueprints with
  their template checks) cold, beside the floor of only reading and YAML-parsing the same files;
- getting the catalog when nothing changed (the signature check the web pages pay per request);
- routing one task, beside the original's approach (substring hits of every tag, no words);
- resolving a blueprint into a workflow definition.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import yaml

from stagent.profiles._yaml import FAST_LOADER
from stagent.profiles.blueprints import BUILTIN_BLUEPRINTS, BlueprintCatalog
from stagent.profiles.catalog import BUILTIN_DIR, ProfileCatalog, ScopeDirs
from stagent.profiles.router import route
from stagent.profiles.service import ProfileService

TASKS = [
    ("Review the pull request", "Look at the diff for the login change"),
    ("Plan a trip to Lisbon", "Flights and a hotel for May"),
    ("Nightly job crashes", "Investigate the traceback and fix the bug"),
    ("Buy milk", ""),
]


def median_ms(fn: Callable[[], object], repeats: int) -> float:
    """The median wall time of ``fn`` in milliseconds."""
    times: list[float] = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def parse_only() -> None:
    """The floor: read and YAML-parse every built-in file (same loader), validate nothing."""
    for folder in BUILTIN_DIR.iterdir():
        yaml.load((folder / "profile.yaml").read_text(), Loader=FAST_LOADER)
        text = (folder / "SKILL.md").read_text()
        yaml.load(text.split("---", 2)[1], Loader=FAST_LOADER)
    for path in BUILTIN_BLUEPRINTS.glob("*.yaml"):
        yaml.load(path.read_text(), Loader=FAST_LOADER)


def substring_router(catalog: ProfileCatalog, title: str, description: str) -> str:
    """The original's router: count tag substrings in the text; >= 2 hits wins."""
    text = f"{title} {description}".lower()
    best, hits = "general", 1
    for profile in catalog.all():
        count = sum(tag in text for tag in profile.spec.tags)
        if count > hits:
            best, hits = profile.id, count
    return best


def main() -> None:
    """Run and print."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer repeats")
    args = parser.parse_args()
    repeats = 5 if args.quick else 20
    empty = Path(tempfile.mkdtemp())
    dirs = ScopeDirs(user=empty / "profiles", project=empty / "project")

    def cold() -> None:
        ProfileCatalog.load(dirs)
        BlueprintCatalog.load(empty / "blueprints")

    load = median_ms(cold, repeats)
    print(f"catalog load, cold (52 profiles + 14 blueprints): {load:.1f} ms")
    floor = median_ms(parse_only, repeats)
    print(f"  floor, read + YAML-parse the same files:         {floor:.1f} ms")
    service = ProfileService(empty)
    service.catalog()
    service.blueprints()
    warm = median_ms(lambda: (service.catalog(), service.blueprints()), repeats * 10)
    print(f"catalog, unchanged files (per page request):     {warm:.3f} ms")
    catalog = service.catalog()
    ours = median_ms(lambda: [route(catalog, t, d) for t, d in TASKS], repeats * 10) / len(TASKS)
    naive = median_ms(
        lambda: [substring_router(catalog, t, d) for t, d in TASKS], repeats * 10
    ) / len(TASKS)
    print(f"route one task (whole words, phrases double):    {ours:.3f} ms")
    print(f"  peer, the original's substring count:          {naive:.3f} ms")
    resolve = median_ms(
        lambda: service.instantiate("research-deep-dive", {"topic": "WASM"}), repeats * 10
    )
    print(f"resolve a blueprint (5-step parallel):           {resolve:.3f} ms")


if __name__ == "__main__":
    main()
