"""The ``configure`` stage: resolve params once and fingerprint the raw inputs.

Every later DVC stage reads ``build/params.resolved.yaml`` and depends on the sections it
uses, so switching profile or overriding a key re-runs exactly the affected stages.
Raw inputs live outside the repository (a Debian dataset folder, a shared drive, a
download), so DVC cannot hash them itself; their fingerprints in ``build/sources/*.json``
make a new data drop at the same path re-run ingestion and everything downstream.
"""

from __future__ import annotations

import json
from pathlib import Path

from fitting_room.config import Config, dump_resolved
from fitting_room.data.fashion_mnist import find_idx_files
from fitting_room.files import atomic_write_text, sha256_file

RESOLVED = Path("build/params.resolved.yaml")
SOURCES_DIR = Path("build/sources")


def file_fingerprint(path: Path) -> dict[str, object]:
    """SHA-256 and size of one file."""
    return {"sha256": sha256_file(path), "bytes": path.stat().st_size}


def image_sources(cfg: Config) -> dict[str, object]:
    """Fingerprints of the image files the ingest stage will read (first folder that has them)."""
    images = cfg.data.images
    if images.source == "catalog":
        assert images.catalog.dir is not None  # the config refuses source catalog without a dir
        folder = Path(images.catalog.dir)
        found: dict[str, str] = {}
        if folder.is_dir():
            for p in sorted(folder.rglob("*")):
                if p.is_file():
                    st = p.stat()
                    # contents of a large image folder: size+mtime per file is the usual trade-off
                    found[str(p.relative_to(folder))] = f"{st.st_size}:{st.st_mtime_ns}"
        return {"source": "catalog", "dir": str(folder), "files": found}
    fm = images.fashion_mnist
    # the same look-up order as the loader, so the fingerprint is of the files it will read
    for candidate in [fm.path, fm.system_path, fm.download_dir]:
        idx = find_idx_files(candidate)
        if idx:
            files = {p.name: file_fingerprint(p) for p in idx.values()}
            return {"source": "fashion_mnist", "dir": str(candidate), "files": files}
    return {"source": "fashion_mnist", "dir": None, "files": {}, "note": "will download"}


def shopper_sources(cfg: Config) -> dict[str, object]:
    """Fingerprints of the Clothing-Fit files the ingest stage will read."""
    out: dict[str, object] = {}
    for src in cfg.data.shoppers.sources:
        path = Path(src.path) if src.path else None
        if path is not None and path.is_file():
            out[src.name] = {"path": str(path), **file_fingerprint(path)}
        else:
            out[src.name] = {"path": str(path) if path else None, "url": str(src.url or "")}
    return out


def configure(cfg: Config, root: Path = Path(".")) -> dict[str, Path]:
    """Write the resolved config and input fingerprints; unchanged content keeps old bytes.

    Returns:
        Mapping of artifact name to the path written.
    """
    written = {"params": dump_resolved(cfg, root / RESOLVED)}
    for name, doc in (("images", image_sources(cfg)), ("shoppers", shopper_sources(cfg))):
        path = root / SOURCES_DIR / f"{name}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        text = json.dumps(doc, indent=2, sort_keys=True) + "\n"
        if not path.exists() or path.read_text() != text:
            atomic_write_text(path, text)
        written[name] = path
    return written
