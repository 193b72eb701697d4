"""File helpers shared by every stage: hashing and all-or-nothing writes.

Every artifact is written to a temporary file or folder next to its destination and
renamed into place only after it is complete, so a crash or a failed check never leaves a
half-written output or clobbers the previous good one.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

CHUNK = 1 << 20


def sha256_bytes(data: bytes) -> str:
    """Hex SHA-256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: str | Path, algorithm: str = "sha256") -> str:
    """Hex digest of a file's bytes, read in chunks (``algorithm="md5"``: DVC's file hash)."""
    digest = hashlib.new(algorithm)
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def atomic_write(path: str | Path, write: Callable[[Path], Any], suffix: str = "", mode: int = 0o644) -> Path:
    """Call ``write(tmp)`` on a temporary sibling of ``path``, then rename it into place.

    Args:
        path: the destination; its previous content stays until the new one is complete.
        write: writes the whole artifact to the path it is given.
        suffix: kept at the end of the temporary name, for writers that pick a format from
            the extension (``.png``, ``.npz``).
        mode: the file's permissions (0o600 for a file holding a secret: it is never wider).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=f".tmp{suffix}")
    os.close(fd)
    try:
        write(Path(tmp))
        os.chmod(tmp, mode)  # mkstemp creates 0600; artifacts are read by other users and tools
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` all-or-nothing."""
    return atomic_write(path, lambda tmp: tmp.write_bytes(data))


def atomic_write_text(path: str | Path, text: str, mode: int = 0o644) -> Path:
    """Write ``text`` to ``path`` all-or-nothing, with permissions ``mode``."""
    return atomic_write(path, lambda tmp: tmp.write_text(text), mode=mode)


def atomic_write_json(path: str | Path, doc: Any) -> Path:
    """Write ``doc`` as indented, key-sorted JSON (non-JSON values as strings), all-or-nothing."""
    return atomic_write_text(path, json.dumps(doc, indent=2, sort_keys=True, default=str) + "\n")


@contextlib.contextmanager
def staged_outputs(out_dir: str | Path) -> Iterator[Path]:
    """Yield a staging folder; on success move every file in it into ``out_dir``.

    The staging folder sits next to ``out_dir`` (same file system, so each move is an
    atomic rename). When the body raises, the staging folder is deleted and ``out_dir``
    keeps its previous contents untouched.
    """
    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(dir=out_dir.parent, prefix=f".{out_dir.name}.", suffix=".tmp"))
    try:
        yield stage
        out_dir.mkdir(parents=True, exist_ok=True)
        for item in sorted(stage.iterdir()):
            os.replace(item, out_dir / item.name)
    finally:
        shutil.rmtree(stage, ignore_errors=True)


@contextlib.contextmanager
def staged_dir(target: str | Path) -> Iterator[Path]:
    """Yield an empty folder beside ``target``; on success it replaces ``target`` as a whole.

    Unlike :func:`staged_outputs` (which moves files into a folder that may hold others), the
    folder built here becomes ``target``: nothing of the old one survives, and an old one
    never mixes with the new. When the body raises, the new folder is deleted and ``target``
    stays as it was.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    build = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp"))
    try:
        yield build
        old = target.with_name(f".{target.name}.old")
        shutil.rmtree(old, ignore_errors=True)
        if target.exists():
            os.replace(target, old)
        os.replace(build, target)
        shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(build, ignore_errors=True)
