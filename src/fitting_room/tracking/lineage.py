"""Where an artifact came from: git commit, DVC data hashes, resolved params."""

from __future__ import annotations

import subprocess
from pathlib import Path

import yaml


def git_commit(root: str | Path = ".") -> str:
    """The checked-out commit, with ``-dirty`` when tracked files changed; ``unknown`` outside git.

    What the pipeline itself writes -- ``dvc.lock`` and the stage outputs of ``dvc.yaml`` that
    git tracks (metrics, reports) -- does not count: a run that rewrites them still comes from
    the clean commit, and would otherwise call every model it trains ``-dirty``.
    """
    written = [":(exclude)dvc.lock", *(f":(exclude){path}" for path in pipeline_outputs(root))]
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no", "--", ".", *written],
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return f"{sha}-dirty" if dirty else sha


def pipeline_outputs(root: str | Path = ".") -> list[str]:
    """Every output path the stages of ``dvc.yaml`` declare (outs, metrics, plots)."""
    path = Path(root) / "dvc.yaml"
    try:
        stages = (yaml.safe_load(path.read_text()) or {}).get("stages") or {}
    except (OSError, yaml.YAMLError):
        return []
    found = []
    for stage in stages.values():
        for key in ("outs", "metrics", "plots"):
            for out in stage.get(key) or []:
                found.append(next(iter(out)) if isinstance(out, dict) else str(out))
    return found


def dvc_data_hashes(root: str | Path = ".") -> dict[str, str]:
    """Output path -> content hash for every stage output recorded in ``dvc.lock``."""
    lock = Path(root) / "dvc.lock"
    if not lock.exists():
        return {}
    doc = yaml.safe_load(lock.read_text()) or {}
    hashes: dict[str, str] = {}
    for stage in (doc.get("stages") or {}).values():
        for out in stage.get("outs") or []:
            digest = out.get("md5") or out.get("etag") or out.get("checksum")
            if digest:
                hashes[out["path"]] = digest
    return hashes


def data_version(hashes: dict[str, str], prefix: str = "data/") -> str:
    """One short id for the data outputs (for labels that must be a single string)."""
    import hashlib

    picked = sorted((p, h) for p, h in hashes.items() if p.startswith(prefix))
    if not picked:
        return "unversioned"
    return hashlib.sha256(repr(picked).encode()).hexdigest()[:12]
