"""Importers of hand-run sessions: Claude Code transcripts and Codex rollouts (see
`stagent.ledger.importers.service`)."""

from stagent.ledger.importers.calls import CLAUDE_CODE, CODEX, SOURCES
from stagent.ledger.importers.service import ImportReport, LogImporter, Plan

__all__ = ["CLAUDE_CODE", "CODEX", "SOURCES", "ImportReport", "LogImporter", "Plan"]
