"""The outcome of a validation stage: one JSON summary, and the gate that raises on failure.

The summary is written whether the data passed or not — on failure it *is* the failure
report — so DVC, MLflow and a human all read the same file.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fitting_room.errors import ValidationFailed
from fitting_room.files import atomic_write_text
from fitting_room.validation.gx_runner import SuiteResult, describe_failure


@dataclass(frozen=True)
class ValidationReport:
    """Everything a validation stage found.

    Attributes:
        stage: ``images`` or ``shoppers``; names the JSON file and the MLflow run.
        success: True only when every suite passed.
        counts: headline numbers (rows per split, duplicates, leaks, ...), logged as metrics.
        suites: per-suite GX results.
        details: stage-specific tables (e.g. out-of-range counts per column).
        docs_index: the Data Docs ``index.html`` (None when Data Docs were not built).
    """

    stage: str
    success: bool
    counts: dict[str, int | float]
    suites: list[SuiteResult]
    details: dict[str, Any] = field(default_factory=dict)
    docs_index: Path | None = None

    def failure_lines(self) -> list[str]:
        """One readable line per failed expectation, across suites."""
        return [describe_failure(r, s.suite) for s in self.suites for r in s.failures]

    def to_dict(self) -> dict[str, Any]:
        return {
            "stage": self.stage,
            "success": self.success,
            "counts": self.counts,
            "failures": self.failure_lines(),
            "details": self.details,
            "data_docs": str(self.docs_index) if self.docs_index else None,
            "suites": [s.to_dict() for s in self.suites],
        }


def report_path(reports_dir: Path, stage: str) -> Path:
    """Where a stage's JSON summary lives (a DVC metrics file)."""
    return Path(reports_dir) / f"{stage}.json"


def docs_dir(reports_dir: Path, stage: str) -> Path:
    """Where a stage's Data Docs site lives (``index.html`` at its top; a DVC out)."""
    return Path(reports_dir) / f"{stage}_data_docs"


def clear_report(reports_dir: Path, stage: str) -> None:
    """Remove a previous run's summary, so it is never mistaken for this run's outcome."""
    report_path(reports_dir, stage).unlink(missing_ok=True)


def write_report(report: ValidationReport, reports_dir: Path) -> Path:
    """Write the JSON summary atomically and return its path."""
    # key order kept as built (summary first), so no atomic_write_json with sorted keys
    text = json.dumps(report.to_dict(), indent=2, default=str) + "\n"
    return atomic_write_text(report_path(reports_dir, report.stage), text)


def raise_if_failed(report: ValidationReport, path: Path) -> ValidationReport:
    """The gate: return the report when it passed, else raise naming every failed check.

    Raises:
        ValidationFailed: one line per failed expectation, with the report's path.
    """
    if report.success:
        return report
    lines = report.failure_lines()
    bullet = "\n  - "
    raise ValidationFailed(
        f"{report.stage} validation failed ({len(lines)} expectation(s); report: {path}):"
        f"{bullet}{bullet.join(lines)}"
    )
