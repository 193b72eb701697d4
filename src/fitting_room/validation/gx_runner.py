"""Great Expectations at the edge: run suites on DataFrames, return plain typed results.

Both validation stages (images, shoppers) describe their checks as GX expectations over a
DataFrame and hand them here. This module owns every GX call: an ephemeral context (nothing
persisted besides the HTML), one pandas data source, one batch per frame, Data Docs built into
a folder that replaces the previous one only once complete. GX itself is imported lazily
because it takes seconds to import and ``fitting-room --help`` must stay fast.
"""

from __future__ import annotations

import contextlib
import math
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from fitting_room.files import staged_dir

DOCS_SITE = "fitting_room"


@dataclass(frozen=True)
class Batch:
    """One DataFrame to validate and the expectations (GX objects) that apply to it."""

    name: str
    frame: pd.DataFrame
    expectations: Sequence[Any]


@dataclass(frozen=True)
class ExpectationResult:
    """What one expectation found, in plain JSON-able values."""

    expectation: str
    column: str | None
    kwargs: dict[str, Any]
    success: bool
    observed: Any = None
    element_count: int | None = None
    unexpected_count: int | None = None
    unexpected_percent: float | None = None
    examples: list[str] = field(default_factory=list)
    error: str | None = None


@dataclass(frozen=True)
class SuiteResult:
    """The outcome of one batch's suite."""

    suite: str
    success: bool
    rows: int
    results: list[ExpectationResult]

    @property
    def failures(self) -> list[ExpectationResult]:
        return [r for r in self.results if not r.success]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def run_suites(
    batches: Sequence[Batch], docs_dir: Path | None, sample_failures: int = 5
) -> list[SuiteResult]:
    """Validate each batch with its own suite and optionally build Data Docs for all of them.

    Args:
        batches: frames with their expectations; each becomes a suite named after the batch.
        docs_dir: folder for the Data Docs HTML site (``index.html`` at its top); replaced
            atomically. ``None`` skips Data Docs.
        sample_failures: offending values kept per failed expectation.

    Returns:
        One result per batch, in order.
    """
    gx = import_gx()
    with staged_dir(docs_dir) if docs_dir is not None else contextlib.nullcontext() as staging:
        context = _ephemeral_context(staging)
        source = context.data_sources.add_pandas("frames")
        result_format = {"result_format": "SUMMARY", "partial_unexpected_count": sample_failures}
        outcomes = []
        for batch in batches:
            definition = source.add_dataframe_asset(batch.name).add_batch_definition_whole_dataframe("all")
            suite = context.suites.add(gx.ExpectationSuite(name=batch.name))
            for expectation in batch.expectations:
                suite.add_expectation(expectation)
            validation = context.validation_definitions.add(
                gx.ValidationDefinition(name=batch.name, data=definition, suite=suite)
            )
            raw = validation.run(batch_parameters={"dataframe": batch.frame}, result_format=result_format)
            outcomes.append(_suite_result(batch.name, len(batch.frame), raw, sample_failures))
        if staging is not None:
            context.build_data_docs(site_names=[DOCS_SITE])
    return outcomes


def describe_failure(result: ExpectationResult, suite: str) -> str:
    """One readable line: the check, what was expected, what was observed, a few offenders.

    Example: ``expect_column_values_to_be_between(height_cm, 120..220) on shoppers:
    3.1% unexpected > 2.0% allowed (31 of 1000); e.g. 305.0 (#12), 12.7 (#40)``.
    """
    head = f"{result.expectation}({', '.join(_expected_terms(result))}) on {suite}"
    if result.error:
        return f"{head}: could not be evaluated: {result.error}"
    if result.unexpected_count is not None:
        mostly = result.kwargs.get("mostly")
        allowed = f" > {100 * (1 - mostly):.1f}% allowed" if mostly not in (None, 1, 1.0) else ""
        line = (
            f"{head}: {result.unexpected_percent:.1f}% unexpected{allowed} "
            f"({result.unexpected_count} of {result.element_count})"
        )
    else:
        line = f"{head}: observed {_short(result.observed)}"
    if result.examples:
        line += f"; e.g. {', '.join(result.examples)}"
    return line


def _expected_terms(result: ExpectationResult) -> list[str]:
    kw = result.kwargs
    terms = [result.column] if result.column else []
    if "column_list" in kw:
        terms.append("+".join(kw["column_list"]))
    if "min_value" in kw or "max_value" in kw:
        lo, hi = kw.get("min_value"), kw.get("max_value")
        terms.append(f"{_short(lo) if lo is not None else ''}..{_short(hi) if hi is not None else ''}")
    for key in ("value_set", "column_set", "type_", "type_list", "regex"):
        if key in kw:
            terms.append(_short(kw[key]))
    return terms


def _suite_result(name: str, rows: int, raw: Any, sample_failures: int) -> SuiteResult:
    results = [_expectation_result(r, sample_failures) for r in raw.results]
    return SuiteResult(suite=name, success=bool(raw.success), rows=rows, results=results)


def _expectation_result(raw: Any, sample_failures: int) -> ExpectationResult:
    config = raw.expectation_config
    kwargs = {k: _jsonable(v) for k, v in config.kwargs.items() if k != "batch_id"}
    res = raw.result or {}
    values = res.get("partial_unexpected_list") or []
    index = res.get("partial_unexpected_index_list") or []
    column = kwargs.get("column")
    examples = [
        f"{_short(value)} (#{_row_label(idx, column)})" if idx is not None else _short(value)
        for value, idx in zip(values, [*index, *[None] * len(values)], strict=False)
    ][:sample_failures]
    details = res.get("details", {}).get("mismatched")
    return ExpectationResult(
        expectation=config.type,
        column=column,
        kwargs=kwargs,
        success=bool(raw.success),
        observed=_jsonable(details if details else res.get("observed_value")),
        element_count=res.get("element_count"),
        unexpected_count=res.get("unexpected_count"),
        unexpected_percent=res.get("unexpected_percent"),
        examples=examples,
        error=_exception_message(raw.exception_info),
    )


def _row_label(idx: Any, column: str | None) -> str:
    # with a named index GX gives {column: value, index_name: label}; keep the label only
    if isinstance(idx, dict):
        return ",".join(str(v) for k, v in idx.items() if k != column)
    return str(idx)


def _exception_message(info: Any) -> str | None:
    # GX reports either one {raised_exception, exception_message} or one such dict per metric
    if not info:
        return None
    entries = [info] if "raised_exception" in info else list(info.values())
    for entry in entries:
        if isinstance(entry, dict) and entry.get("raised_exception"):
            return str(entry.get("exception_message") or "GX raised an exception").strip()
    return None


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [_jsonable(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, str | bytes):  # numpy scalars
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def _short(value: Any, limit: int = 80) -> str:
    if isinstance(value, float):
        text = f"{value:.4g}"
    elif isinstance(value, list | tuple):
        text = "{" + ", ".join(_short(v, 20) for v in value) + "}"
    else:
        text = str(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def import_gx() -> Any:
    """The great_expectations module, imported on first use with analytics off."""
    # GX would otherwise phone home; respect an explicit user choice
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    import great_expectations as gx

    return gx


def _ephemeral_context(docs_dir: Path | None) -> Any:
    """A context that keeps suites and results in memory; only Data Docs touch the disk."""
    gx = import_gx()
    from great_expectations.data_context.types.base import (
        DataContextConfig,
        InMemoryStoreBackendDefaults,
        ProgressBarsConfig,
    )

    config = DataContextConfig(
        store_backend_defaults=InMemoryStoreBackendDefaults(init_temp_docs_sites=False),
        analytics_enabled=False,
        # tqdm bars per metric batch would flood DVC/Prefect logs
        progress_bars=ProgressBarsConfig(globally=False, metric_calculations=False),
    )
    context = gx.get_context(project_config=config, mode="ephemeral")
    if docs_dir is not None:
        context.add_data_docs_site(
            DOCS_SITE,
            {
                "class_name": "SiteBuilder",
                "store_backend": {
                    "class_name": "TupleFilesystemStoreBackend",
                    # GX resolves a relative base_directory only inside a file context
                    "base_directory": str(Path(docs_dir).resolve()),
                },
                "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
            },
        )
    return context
