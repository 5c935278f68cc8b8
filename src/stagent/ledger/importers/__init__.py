"""Importers of hand-run sessions: Claude Code transcripts and Codex rollouts (see
`stagent.ledger.importers.service`)."""

from stagent.ledger.importers.calls import CLAUDE_CODE, CODEX, IMPORT_SOURCES, SOURCES
from stagent.ledger.importers.service import ImportDatabase, ImportReport, LogImporter, Plan

__all__ = [
    "CLAUDE_CODE",
    "CODEX",
    "IMPORT_SOURCES",
    "SOURCES",
    "ImportDatabase",
    "ImportReport",
    "LogImporter",
    "Plan",
]
