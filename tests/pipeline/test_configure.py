"""The configure stage: resolved params plus fingerprints of inputs DVC cannot see."""

from __future__ import annotations

import json
from pathlib import Path

from fitting_room.config import load_config
from fitting_room.pipeline.configure import configure

PARAMS = Path(__file__).resolve().parents[2] / "params.yaml"


def _cfg(shoppers: Path, images: Path):
    return load_config(
        PARAMS,
        profile="smoke",
        overrides=[
            f"data.shoppers.sources.0.path={shoppers}",
            f"data.images.fashion_mnist.path={images}",
            f"data.images.fashion_mnist.system_path={images / 'none'}",
        ],
    )


def _fake_idx_folder(folder: Path, content: bytes) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for stem in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte"):
        (folder / stem).write_bytes(content)
    (folder / "t10k-labels-idx1-ubyte.gz").write_bytes(content)
    return folder


def test_configure_writes_resolved_params_and_fingerprints(tmp_path):
    shoppers = tmp_path / "rtr.json"
    shoppers.write_text('{"fit": "fit"}\n')
    images = _fake_idx_folder(tmp_path / "fm", b"abc")
    written = configure(_cfg(shoppers, images), root=tmp_path)
    assert load_config(written["params"]).profile == "smoke"
    doc = json.loads(written["images"].read_text())
    assert doc["dir"] == str(images) and "t10k-labels-idx1-ubyte.gz" in doc["files"]
    assert json.loads(written["shoppers"].read_text())["renttherunway"]["bytes"] == shoppers.stat().st_size


def test_new_data_at_the_same_path_changes_the_fingerprint_and_nothing_else(tmp_path):
    shoppers = tmp_path / "rtr.json"
    shoppers.write_text('{"fit": "fit"}\n')
    images = _fake_idx_folder(tmp_path / "fm", b"abc")
    cfg = _cfg(shoppers, images)
    written = configure(cfg, root=tmp_path)
    before = {k: p.read_text() for k, p in written.items()}
    stamp = written["images"].stat().st_mtime_ns

    shoppers.write_text('{"fit": "small"}\n')
    configure(cfg, root=tmp_path)
    assert written["shoppers"].read_text() != before["shoppers"]
    assert written["images"].read_text() == before["images"]
    assert written["images"].stat().st_mtime_ns == stamp  # unchanged content is not rewritten


def test_missing_local_source_is_recorded_for_download(tmp_path):
    images = _fake_idx_folder(tmp_path / "fm", b"abc")
    written = configure(_cfg(tmp_path / "absent.json", images), root=tmp_path)
    doc = json.loads(written["shoppers"].read_text())["renttherunway"]
    assert "sha256" not in doc and doc["url"].startswith("https://")
