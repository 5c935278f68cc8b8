"""Tables of the workspace itself: settings, live executors and environment scans."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Float, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from stagent.domain.ids import utcnow
from stagent.store.tables.base import Base, Timestamp


class SettingRow(Base):
    """A workspace setting stored in the database (key/value, JSON value)."""

    __tablename__ = "settings"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    value: Mapped[Any] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow, onupdate=utcnow)


class ExecutorRow(Base):
    """A live worker process and its heartbeat; an expired lease means its runs are recovered."""

    __tablename__ = "executors"

    id: Mapped[str] = mapped_column(String(120), primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    hostname: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)
    heartbeat_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)


class EnvironmentScanRow(Base):
    """One environment scan: its score, counts, duration and the whole report.

    The report holds no secret values (the scanner redacts them before building it).
    """

    __tablename__ = "environment_scans"
    __table_args__ = (Index("ix_environment_scans_scanned_at", "scanned_at"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    scanned_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)
    roots: Mapped[list[str]] = mapped_column(JSON, default=list)
    """The folders scanned (projects were discovered under them)."""
    score: Mapped[int] = mapped_column(Integer)
    """Health score 0-100."""
    duration_ms: Mapped[float] = mapped_column(Float)
    artifact_count: Mapped[int] = mapped_column(Integer, default=0)
    project_count: Mapped[int] = mapped_column(Integer, default=0)
    errors: Mapped[int] = mapped_column(Integer, default=0)
    warnings: Mapped[int] = mapped_column(Integer, default=0)
    infos: Mapped[int] = mapped_column(Integer, default=0)
    fingerprint: Mapped[str] = mapped_column(String(64))
    """SHA-256 of the artifacts and findings: equal fingerprints mean nothing changed."""
    report: Mapped[dict[str, Any]] = mapped_column(JSON)
    """The scan report as `stagent scan --json` prints it."""
