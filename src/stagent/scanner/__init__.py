"""The environment scanner: every Claude Code and Codex artifact, findings and a health score.

`Scanner.scan(roots)` returns a `ScanReport` (the schema `stagent scan --json`, the API and the
Environment page share). Keep one `Scanner` to make re-scans of an unchanged tree cheap.
"""

from stagent.scanner.engine import Scanner
from stagent.scanner.locations import Locations
from stagent.scanner.report import Artifact, Finding, ScanReport, ScanSummary

__all__ = ["Artifact", "Finding", "Locations", "ScanReport", "ScanSummary", "Scanner"]
