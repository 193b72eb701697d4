"""Throughput of the data and validation stages on real data; prints ONE JSON object.

Each measurement is one function returning a dict (or a ``{"skipped": reason}`` note when
its input is missing), so further stages (validation) add a function and a line in
:func:`main`. Run: ``.venv/bin/python benchmarks/ingest_validate.py [--shoppers PATH]``.
The last measurement runs the data stages of the real pipeline twice in this checkout and
times the unchanged second run.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEBIAN_FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist")
DEFAULT_SHOPPERS = ROOT.parent / "shared" / "data" / "rtr" / "renttherunway_dev.json.gz"
SHOPPERS_ENV = "FITTING_ROOM_BENCH_SHOPPERS"


def best_of(repeat: int, fn):
    """Run ``fn`` ``repeat`` times; return (fastest seconds, last result)."""
    best, result = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


def measure_fashion_mnist_ingest(system_path: Path = DEBIAN_FASHION_MNIST, repeat: int = 1) -> dict:
    """Full Fashion-MNIST ingest (60k + 10k: gunzip, SHA-256, parse, write npz + meta)."""
    from fitting_room.config.data import FashionMnistConfig, ImagesConfig
    from fitting_room.data.fashion_mnist import find_idx_files
    from fitting_room.data.ingest import ingest_images

    if find_idx_files(system_path) is None:
        return {"skipped": f"Fashion-MNIST IDX files not found in {system_path}"}
    with tempfile.TemporaryDirectory() as tmp:
        fm = FashionMnistConfig(system_path=system_path, download=False)
        cfg = ImagesConfig(fashion_mnist=fm, out_dir=Path(tmp) / "images")
        seconds, result = best_of(repeat, lambda: ingest_images(cfg, seed=0, progress=False))
    rows = result.train_rows + result.test_rows
    return {"rows": rows, "seconds": round(seconds, 3), "rows_per_second": round(rows / seconds)}


def measure_shopper_parsing(path: Path, repeat: int = 1) -> dict:
    """Clothing-Fit JSON-lines parsing into the typed frame (no file writing)."""
    from fitting_room.data.clothing_fit import parse_clothing_fit
    from fitting_room.data.units import (
        parse_bust_size,
        parse_height_cm,
        parse_number,
        parse_review_date,
        parse_weight_kg,
    )

    if not path.is_file():
        return {"skipped": f"shopper file not found: {path} (pass --shoppers or ${SHOPPERS_ENV})"}

    def parse_cold():
        # memoised parsers would make repeats look faster than a fresh process
        for parser in (parse_bust_size, parse_height_cm, parse_number, parse_review_date, parse_weight_kg):
            parser.cache_clear()
        return parse_clothing_fit(path)

    seconds, frame = best_of(repeat, parse_cold)
    return {
        "file": str(path),
        "rows": len(frame),
        "seconds": round(seconds, 3),
        "rows_per_second": round(len(frame) / seconds),
    }


def measure_shopper_ingest(path: Path, repeat: int = 1) -> dict:
    """The whole ``ingest_shoppers`` stage (parse + parquet + meta with file SHA-256)."""
    from fitting_room.config.data import ShoppersConfig, ShopperSource
    from fitting_room.data.ingest import ingest_shoppers

    if not path.is_file():
        return {"skipped": f"shopper file not found: {path}"}
    with tempfile.TemporaryDirectory() as tmp:
        cfg = ShoppersConfig(
            sources=[ShopperSource(name="renttherunway", path=path)], out_dir=Path(tmp) / "shoppers"
        )
        seconds, result = best_of(repeat, lambda: ingest_shoppers(cfg, progress=False))
    return {
        "rows": result.rows,
        "seconds": round(seconds, 3),
        "rows_per_second": round(result.rows / seconds),
    }


def measure_gx_import() -> dict:
    """Seconds to import Great Expectations in a fresh interpreter (paid once per validate stage)."""
    import subprocess
    import sys

    code = "import time; t = time.perf_counter(); import great_expectations; print(time.perf_counter() - t)"
    env = {**os.environ, "GX_ANALYTICS_ENABLED": "false"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
    return {"seconds": round(float(out.stdout.strip().splitlines()[-1]), 3)}


def measure_image_validation(system_path: Path = DEBIAN_FASHION_MNIST, repeat: int = 1) -> dict:
    """``validate_images`` on the full 60k + 10k Fashion-MNIST (stats, GX suites, Data Docs)."""
    from fitting_room.config.data import FashionMnistConfig, ImagesConfig, ValidationConfig
    from fitting_room.data.fashion_mnist import find_idx_files
    from fitting_room.data.ingest import ingest_images
    from fitting_room.validation.gx_runner import import_gx
    from fitting_room.validation.images import validate_images

    if find_idx_files(system_path) is None:
        return {"skipped": f"Fashion-MNIST IDX files not found in {system_path}"}
    import_gx()  # measured separately (measure_gx_import)
    with tempfile.TemporaryDirectory() as tmp:
        fm = FashionMnistConfig(system_path=system_path, download=False)
        images_dir = Path(tmp) / "images"
        ingest_images(ImagesConfig(fashion_mnist=fm, out_dir=images_dir), seed=0, progress=False)
        cfg = ValidationConfig(reports_dir=Path(tmp) / "reports")
        seconds, report = best_of(repeat, lambda: validate_images(images_dir, cfg))
    rows = report.counts["train_rows"] + report.counts["test_rows"]
    return {
        "images": rows,
        "seconds": round(seconds, 3),
        "images_per_second": round(rows / seconds),
        "train_duplicates": report.counts["train_duplicates"],
        "leaked_test_images": report.counts["leaked_test_images"],
    }


def measure_shopper_validation(path: Path, repeat: int = 1) -> dict:
    """``validate_shoppers`` on the parsed file (GX suite, range clean-up, validated.parquet)."""
    import yaml

    from fitting_room.config.data import ShoppersConfig, ShopperSource, ValidationConfig
    from fitting_room.data.ingest import ingest_shoppers
    from fitting_room.errors import ValidationFailed
    from fitting_room.validation.gx_runner import import_gx
    from fitting_room.validation.shoppers import validate_shoppers

    if not path.is_file():
        return {"skipped": f"shopper file not found: {path}"}
    import_gx()
    with tempfile.TemporaryDirectory() as tmp:
        shoppers_dir = Path(tmp) / "shoppers"
        source = ShopperSource(name="renttherunway", path=path)
        ingest_shoppers(ShoppersConfig(sources=[source], out_dir=shoppers_dir), progress=False)
        # the project's thresholds, so the benchmark also says whether the real data passes them
        section = yaml.safe_load((ROOT / "params.yaml").read_text())["validation"]
        cfg = ValidationConfig.model_validate({**section, "reports_dir": Path(tmp) / "reports"})
        try:
            seconds, report = best_of(repeat, lambda: validate_shoppers(shoppers_dir, cfg))
        except ValidationFailed as err:
            return {"failed": str(err)}
    rows = report.counts["rows"]
    return {
        "rows": rows,
        "seconds": round(seconds, 3),
        "rows_per_second": round(rows / seconds),
        "out_of_range_values": report.counts["out_of_range_values"],
    }


def measure_unchanged_rerun(profile: str = "smoke") -> dict:
    """Wall time of the data stages' pipeline run when nothing changed (target < 30 s).

    Uses the project itself: one run brings the data stages up to date, the second is timed.
    The flow includes starting Prefect's ephemeral API (see ``ops_noop.py`` for a server).
    """
    from ops_noop import TARGET_S, timed_run  # same folder: one implementation of the timing

    args = ["--profile", profile, "--until", "validate_shoppers"]
    warmup, _ = timed_run(args)
    seconds, last = timed_run(args)
    return {
        "profile": profile,
        "warmup_s": round(warmup, 2),
        "seconds": round(seconds, 2),
        "target_s": TARGET_S,
        "passed": seconds < TARGET_S and "up to date" in last,
        "last_line": last,
    }


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shoppers", type=Path, default=Path(os.environ.get(SHOPPERS_ENV, DEFAULT_SHOPPERS)))
    parser.add_argument("--fashion-mnist", type=Path, default=DEBIAN_FASHION_MNIST)
    parser.add_argument("--repeat", type=int, default=1, help="runs per measurement; the fastest counts")
    parser.add_argument("--no-rerun", action="store_true", help="skip the unchanged pipeline re-run timing")
    args = parser.parse_args(argv)
    report = {
        "machine": {
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
        },
        "fashion_mnist_ingest": measure_fashion_mnist_ingest(args.fashion_mnist, args.repeat),
        "shopper_parsing": measure_shopper_parsing(args.shoppers, args.repeat),
        "shopper_ingest": measure_shopper_ingest(args.shoppers, args.repeat),
        "gx_import": measure_gx_import(),
        "image_validation": measure_image_validation(args.fashion_mnist, args.repeat),
        "shopper_validation": measure_shopper_validation(args.shoppers, args.repeat),
    }
    report["unchanged_rerun"] = {"skipped": "--no-rerun"} if args.no_rerun else measure_unchanged_rerun()
    print(json.dumps(report, indent=2))
    return report


if __name__ == "__main__":
    main()
