"""Is a scheduled run needed at all? One DVC status call answers for the whole pipeline.

Reproducing stage by stage already skips unchanged stages, but asks DVC once per stage; a
scheduled run with nothing new should finish in seconds and say so, so the flow asks once,
up front (after ``configure`` refreshed the params and input fingerprints).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


def changed_stages(root: str | Path, stages: list[str]) -> dict[str, Any]:
    """Stages whose dependencies, params or outputs differ from ``dvc.lock`` (name -> what changed).

    An empty result means the run is a no-op: every stage would be skipped.
    """
    if not stages:
        return {}
    from dvc.repo import Repo

    with Repo(str(root)) as repo:
        return dict(repo.status(targets=list(stages)))


def describe_changes(changes: dict[str, Any], limit: int = 6) -> str:
    """One line naming what changed, e.g. ``ingest_shoppers (build/sources/shoppers.json: modified)``."""
    parts = []
    for stage, entries in changes.items():
        what: list[str] = []
        for entry in entries if isinstance(entries, list) else [entries]:
            # DVC reports {"changed deps": {path: status}, ...} or a bare string like "always changed"
            kinds = entry.values() if isinstance(entry, dict) else [entry]
            for kind in kinds:
                if isinstance(kind, dict):
                    what.extend(f"{k}: {v}" for k, v in kind.items())
                else:
                    what.append(str(kind))
        parts.append(f"{stage} ({', '.join(what[:limit])})" if what else stage)
    return "; ".join(parts)
