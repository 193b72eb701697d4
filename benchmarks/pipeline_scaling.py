"""Cost curves of the data and guide stages: wall time and peak memory vs data size; ONE JSON.

``ingest_shoppers``, ``validate_shoppers`` and ``fit_recommender`` run on 1x, 4x and 16x the
RentTheRunway dev file, ``ingest_images`` and ``validate_images`` on 1x and 4x Fashion-MNIST.
An Nx file is N copies of the real one: copy 0 as published, every other copy with fresh
shopper and item ids (``<id>x<copy>``) and jittered body measurements (height +-1 inch,
weight +-3 lbs, age +-1 year), so item and shopper counts grow N-fold as a larger retailer's
would, and the statistics stay those of the real data. Image copies get +-8 grey-level noise,
so no copy duplicates another (validation counts duplicates and fails on train/test leaks).

Each stage runs as its own process (this script re-invoked with ``--child``), calling the
same package function as the CLI and DVC stage, so the peak resident memory (``VmHWM`` of
that one process, see :func:`own_peak_rss_mb`) and CPU time (``os.wait4``) are per stage.
``stage_seconds`` is the stage function alone, ``process_seconds`` adds interpreter start and
imports; on a shared machine ``cpu_seconds`` is the steadier cost. ``fit_recommender`` runs with
``track=False``: MLflow logging is a fixed cost, not the data's. Growth exponents are
least-squares slopes of log(cost) on log(scale) (``*_exponent_last``: between the two largest
scales, where fixed costs such as imports weigh least); memory and CPU also get a straight-line
fit, fixed cost + marginal cost per row, which is what a plan for more data extrapolates.
Everything happens in a temp dir; only the SVG plots are written (``--plots``, '' = none).

    .venv/bin/python benchmarks/pipeline_scaling.py --scales 1,4 --image-scales 1,4 --plots ''
    nice -n 5 .venv/bin/python benchmarks/pipeline_scaling.py    # 1x, 4x, 16x; plots to docs/scaling/
    # the 16x points alone, later, joined with an earlier run's 1x and 4x:
    .venv/bin/python benchmarks/pipeline_scaling.py --scales 16 --image-scales '' --merge early.json
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SHOPPERS = ROOT.parent / "shared" / "data" / "rtr" / "renttherunway_dev.json.gz"
DEFAULT_FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist")
SHOPPER_STAGES = ("ingest_shoppers", "validate_shoppers", "fit_recommender")
IMAGE_STAGES = ("ingest_images", "validate_images")
HEIGHT = re.compile(r"(\d+)' ?(\d+)\"")
WEIGHT = re.compile(r"(\d+)lbs")
GIB = 1024**3


# --- data replication -------------------------------------------------------------------


def replicate_shoppers(source: Path, copies: int, out_dir: Path, seed: int = 0) -> dict[int, Path]:
    """Write one gzip member per copy; the Nx file is the first N members concatenated.

    gzip readers (Python's included) read concatenated members as one stream, so every scale
    shares the same copies and 16x costs 16 member writes, not 1 + 4 + 16.

    Returns:
        copy index -> member file.
    """
    with gzip.open(source, "rt", encoding="utf-8") as fh:
        lines = [ln for ln in fh if ln.strip()]
    members = {}
    for copy in range(copies):
        path = out_dir / f"copy{copy:02d}.json.gz"
        rng = np.random.default_rng(seed + copy)
        with gzip.open(path, "wt", encoding="utf-8", compresslevel=1) as fh:
            if copy == 0:
                fh.writelines(lines)
            else:
                fh.writelines(json.dumps(_jitter(json.loads(ln), copy, rng)) + "\n" for ln in lines)
        members[copy] = path
    return members


def _jitter(record: dict, copy: int, rng: np.random.Generator) -> dict:
    for key in ("user_id", "item_id"):
        if record.get(key) is not None:
            record[key] = f"{record[key]}x{copy}"
    if isinstance(record.get("height"), str) and (m := HEIGHT.fullmatch(record["height"])):
        inches = int(m[1]) * 12 + int(m[2]) + int(rng.integers(-1, 2))
        record["height"] = f"{inches // 12}' {inches % 12}\""
    if isinstance(record.get("weight"), str) and (m := WEIGHT.fullmatch(record["weight"])):
        record["weight"] = f"{max(1, int(m[1]) + int(rng.integers(-3, 4)))}lbs"
    if isinstance(record.get("age"), str) and record["age"].isdigit():
        record["age"] = str(max(0, int(record["age"]) + int(rng.integers(-1, 2))))
    return record


def concat_members(members: dict[int, Path], scale: int, dest: Path) -> Path:
    with open(dest, "wb") as out:
        for copy in range(scale):
            out.write(members[copy].read_bytes())
    return dest


def replicate_images(system_path: Path, scale: int, out_dir: Path, seed: int = 0) -> dict[str, str]:
    """Fashion-MNIST repeated ``scale`` times (copies > 0 with pixel noise) as raw IDX files.

    Returns:
        SHA-256 per file stem, the checksum table ``ingest_images`` verifies against.
    """
    from fitting_room.data.fashion_mnist import SPLIT_FILES, find_idx_files
    from fitting_room.data.idx import read_idx, write_idx
    from fitting_room.files import sha256_file

    found = find_idx_files(system_path)
    if found is None:
        raise FileNotFoundError(f"Fashion-MNIST IDX files not found in {system_path}")
    out_dir.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    checksums = {}
    for images_stem, labels_stem in SPLIT_FILES.values():
        images, labels = read_idx(found[images_stem]), read_idx(found[labels_stem])
        parts = [images]
        for _ in range(1, scale):
            noise = rng.integers(-8, 9, size=images.shape, dtype=np.int16)
            parts.append(np.clip(images.astype(np.int16) + noise, 0, 255).astype(np.uint8))
        for stem, array in ((images_stem, np.concatenate(parts)), (labels_stem, np.tile(labels, scale))):
            path = write_idx(array, out_dir / stem, compress=False)
            checksums[stem] = sha256_file(path)
    return checksums


# --- one stage in its own process ---------------------------------------------------------


def run_child(stage: str, spec: dict) -> dict:
    """Run one stage in this (child) process; return its own figures."""
    work = Path(spec["work"])
    start = time.perf_counter()
    if stage == "ingest_shoppers":
        from fitting_room.config.data import ShoppersConfig, ShopperSource
        from fitting_room.data.ingest import ingest_shoppers

        source = ShopperSource(name="renttherunway", path=Path(spec["shoppers_file"]))
        result = ingest_shoppers(ShoppersConfig(sources=[source], out_dir=work / "shoppers"), progress=False)
        out = {"rows": result.rows}
    elif stage == "validate_shoppers":
        from fitting_room.validation.shoppers import validate_shoppers

        report = validate_shoppers(work / "shoppers", _validation_config(work))
        out = {"rows": report.counts["rows"], "out_of_range_values": report.counts["out_of_range_values"]}
    elif stage == "fit_recommender":
        from fitting_room.config import load_config
        from fitting_room.recommender.stage import fit_recommender

        cfg = load_config(ROOT / "params.yaml", profile="default")
        result = fit_recommender(cfg, work / "shoppers" / "validated.parquet", root=work, track=False)
        keep = (
            "advisor_auc_macro",
            "recall_at_10",
            "catalog_items",
            "advisor_train_rows",
            "advisor_train_seconds",
            "advisor_rounds_small",
            "advisor_rounds_large",
            "advisor_rounds_size",
            "train_seconds",
        )
        out = {k: round(result.metrics[k], 4) for k in keep if k in result.metrics}
        out["rows"] = _parquet_rows(work / "shoppers" / "validated.parquet")
    elif stage == "ingest_images":
        from fitting_room.config.data import FashionMnistConfig, ImagesConfig
        from fitting_room.data.ingest import ingest_images

        fm = FashionMnistConfig(path=Path(spec["idx_dir"]), download=False)
        cfg = ImagesConfig(fashion_mnist=fm, out_dir=work / "images")
        result = ingest_images(cfg, seed=0, checksums=spec["checksums"], progress=False)
        out = {"rows": result.train_rows + result.test_rows}
    elif stage == "validate_images":
        from fitting_room.validation.images import validate_images

        report = validate_images(work / "images", _validation_config(work))
        out = {"rows": report.counts["train_rows"] + report.counts["test_rows"]}
    else:
        raise SystemExit(f"unknown stage {stage!r}")
    out["stage_seconds"] = round(time.perf_counter() - start, 3)
    out["peak_rss_mb"] = own_peak_rss_mb()
    return out


def own_peak_rss_mb() -> float:
    """This process's peak resident memory since its exec (``VmHWM``), in MiB.

    Not ``ru_maxrss``: Linux carries the pre-exec high-water mark over exec, and a child
    spawned by vfork starts from its *parent's*, so a parent holding replicated images would
    show up in every stage after it.
    """
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)
    import resource

    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def _parquet_rows(path: Path) -> int:
    import pyarrow.parquet as pq

    return pq.ParquetFile(path).metadata.num_rows


def _validation_config(work: Path):
    """The project's own validation thresholds, reports written into the temp dir."""
    import yaml

    from fitting_room.config.data import ValidationConfig

    section = yaml.safe_load((ROOT / "params.yaml").read_text())["validation"]
    return ValidationConfig.model_validate({**section, "reports_dir": work / "reports"})


def measure(stage: str, spec: dict, log_dir: Path) -> dict:
    """Run ``stage`` in a child process; wall time and that process's peak RSS."""
    log_path = log_dir / f"{stage}-{spec['scale']}x.log"
    env = {**os.environ, "GX_ANALYTICS_ENABLED": "false", "PYTHONPATH": str(ROOT / "src")}
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", stage, "--spec", json.dumps(spec)]
    start = time.perf_counter()
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=log, env=env, cwd=spec["work"])
        stdout = proc.stdout.read()
        # wait4 gives this child's own CPU time (RUSAGE_CHILDREN would sum all children so far)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        tail = log_path.read_text(errors="replace")[-2000:]
        return {"scale": spec["scale"], "failed": f"exit {proc.returncode}", "log_tail": tail}
    result = json.loads(stdout.decode().strip().splitlines()[-1])
    return {
        "scale": spec["scale"],
        **result,
        "process_seconds": round(seconds, 3),
        "cpu_seconds": round(usage.ru_utime + usage.ru_stime, 2),
    }


def merge(report: dict, earlier: dict, name: str) -> None:
    """Add an earlier run's points (the 16x points run late, alone, on a shared machine)."""
    for stage, entry in earlier.get("stages", {}).items():
        points = report["stages"].setdefault(stage, {"points": []})["points"]
        have = {p["scale"] for p in points}
        points.extend(p for p in entry["points"] if p["scale"] not in have)
        points.sort(key=lambda p: p["scale"])
    for family, rows in earlier.get("base_rows", {}).items():
        report["base_rows"].setdefault(family, rows)
    report.setdefault("merged", []).append(
        {"from": name, "machine": earlier.get("machine"), "stages": sorted(earlier.get("stages", {}))}
    )


# --- curves ---------------------------------------------------------------------------------


def growth(points: list[dict]) -> dict:
    """Log-log slopes of time and memory against scale, and memory's marginal bytes per row."""
    ok = [p for p in points if "failed" not in p]
    if len(ok) < 2:
        return {}
    scale = np.log([p["scale"] for p in ok])
    out = {}
    for key in ("stage_seconds", "process_seconds", "cpu_seconds", "peak_rss_mb"):
        values = np.log([p[key] for p in ok])
        out[f"{key}_exponent"] = round(float(np.polyfit(scale, values, 1)[0]), 3)
        if len(ok) >= 3:  # between the two largest scales, where fixed costs weigh least
            out[f"{key}_exponent_last"] = round(float((values[-1] - values[-2]) / (scale[-1] - scale[-2])), 3)
    # cost = fixed + per-row x rows: what a plan for a larger retailer extrapolates
    rows = np.array([p["rows"] for p in ok], dtype=float)
    slope, intercept = np.polyfit(rows, np.array([p["peak_rss_mb"] for p in ok]) * 1024**2, 1)
    out["rss_bytes_per_row"] = round(float(slope), 1)
    out["rss_fixed_mb"] = round(float(intercept) / 1024**2, 1)
    slope, intercept = np.polyfit(rows, np.array([p["cpu_seconds"] for p in ok]), 1)
    out["cpu_us_per_row"] = round(float(slope) * 1e6, 2)
    out["cpu_fixed_s"] = round(float(intercept), 2)
    return out


def plot(report: dict, out_dir: Path) -> list[str]:
    """Log-log panels (wall time, CPU time, peak RSS) per data family; returns the SVG paths."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import NullFormatter

    panels = (
        ("stage_seconds", "wall time of the stage (s)"),
        ("cpu_seconds", "CPU time of the process (s)"),
        ("peak_rss_mb", "peak resident memory (MiB)"),
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for family, stages in (("shoppers", SHOPPER_STAGES), ("images", IMAGE_STAGES)):
        if family not in report["base_rows"]:
            continue
        fig, axes = plt.subplots(1, 3, figsize=(15, 4.5))
        xs = sorted({p["scale"] for s in stages for p in report["stages"].get(s, {}).get("points", [])})
        for ax, (key, title) in zip(axes, panels, strict=True):
            lows = []
            for stage in stages:
                points = [p for p in report["stages"].get(stage, {}).get("points", []) if "failed" not in p]
                if not points:
                    continue
                exponent = report["stages"][stage]["growth"].get(f"{key}_exponent", float("nan"))
                ax.plot(
                    [p["scale"] for p in points],
                    [p[key] for p in points],
                    "o-",
                    label=f"{stage} ({exponent:.2f})",
                )
                lows.append(points[0][key])
            if lows and len(xs) > 1:  # what linear growth from the lowest curve's first point would be
                ax.plot(xs, [min(lows) * x / xs[0] for x in xs], ":", color="grey", label="linear (1.00)")
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.set_xticks(xs, [f"{x}x" for x in xs])
            ax.xaxis.set_minor_formatter(NullFormatter())
            ax.set_xlabel(f"data scale (1x = {report['base_rows'][family]:,} rows)")
            ax.set_title(title)
            ax.grid(True, which="both", alpha=0.3)
            ax.legend(fontsize=8, title="stage (log-log slope)", title_fontsize=8)
        fig.suptitle(
            f"fitting-room {family} stages: {report['machine']['cpus']} CPU cores shared with other jobs "
            "(load averages in the JSON)"
        )
        fig.tight_layout()
        path = out_dir / f"{family}_stages.svg"
        # no date: a re-run's SVG diff shows only what changed
        fig.savefig(path, metadata={"Date": None}, format="svg")
        plt.close(fig)
        paths.append(str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path))
    return paths


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shoppers", type=Path, default=DEFAULT_SHOPPERS)
    parser.add_argument("--fashion-mnist", type=Path, default=DEFAULT_FASHION_MNIST)
    parser.add_argument("--scales", default="1,4,16", help="shopper data scales, comma separated")
    parser.add_argument("--image-scales", default="1,4", help="image data scales, comma separated")
    parser.add_argument("--stages", default=",".join(SHOPPER_STAGES + IMAGE_STAGES))
    parser.add_argument("--plots", default=str(ROOT / "docs" / "scaling"), help="SVG folder; '' = none")
    parser.add_argument(
        "--merge",
        type=Path,
        action="append",
        default=[],
        help="an earlier run's JSON (repeatable): its points join this run's (this run wins ties)",
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--spec", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(run_child(args.child, json.loads(args.spec))))
        return {}

    stages = [s for s in args.stages.split(",") if s]
    scales = [int(s) for s in args.scales.split(",") if s]
    image_scales = [int(s) for s in args.image_scales.split(",") if s]
    report: dict = {
        "machine": {
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "memory_gb": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / GIB, 1),
            "loadavg_start": [round(x, 2) for x in os.getloadavg()],
        },
        "base_rows": {},
        "stages": {},
    }
    with tempfile.TemporaryDirectory(prefix="pipeline-scaling-") as tmp:
        tmp = Path(tmp)
        if scales and any(s in SHOPPER_STAGES for s in stages):
            if not args.shoppers.is_file():
                report["shoppers_skipped"] = f"shopper file not found: {args.shoppers}"
            else:
                start = time.perf_counter()
                members = replicate_shoppers(args.shoppers, max(scales), tmp)
                report["shoppers_replication_seconds"] = round(time.perf_counter() - start, 1)
                for scale in scales:
                    work = tmp / f"shoppers-{scale}x"
                    work.mkdir()
                    spec = {"scale": scale, "work": str(work)}
                    spec["shoppers_file"] = str(concat_members(members, scale, work / "rtr.json.gz"))
                    for stage in (s for s in SHOPPER_STAGES if s in stages):
                        point = measure(stage, spec, tmp)
                        report["stages"].setdefault(stage, {"points": []})["points"].append(point)
                        print(f"{stage} {scale}x: {point}", file=sys.stderr, flush=True)
                    for path in work.rglob("*"):  # keep disk use to one scale at a time
                        if path.is_file():
                            path.unlink()
                ingest = report["stages"].get("ingest_shoppers", {}).get("points", [])
                if ingest and "rows" in ingest[0]:
                    report["base_rows"]["shoppers"] = ingest[0]["rows"] // ingest[0]["scale"]
        if image_scales and any(s in IMAGE_STAGES for s in stages):
            for scale in image_scales:
                work = tmp / f"images-{scale}x"
                idx_dir = work / "idx"
                try:
                    checksums = replicate_images(args.fashion_mnist, scale, idx_dir)
                except FileNotFoundError as err:
                    report["images_skipped"] = str(err)
                    break
                spec = {"scale": scale, "work": str(work), "idx_dir": str(idx_dir), "checksums": checksums}
                for stage in (s for s in IMAGE_STAGES if s in stages):
                    point = measure(stage, spec, tmp)
                    report["stages"].setdefault(stage, {"points": []})["points"].append(point)
                    print(f"{stage} {scale}x: {point}", file=sys.stderr, flush=True)
            ingest = report["stages"].get("ingest_images", {}).get("points", [])
            if ingest and "rows" in ingest[0]:
                report["base_rows"]["images"] = ingest[0]["rows"] // ingest[0]["scale"]
    for earlier in args.merge:
        merge(report, json.loads(earlier.read_text()), str(earlier))
    for entry in report["stages"].values():
        entry["growth"] = growth(entry["points"])
    report["machine"]["loadavg_end"] = [round(x, 2) for x in os.getloadavg()]
    if args.plots and report["base_rows"]:
        report["plots"] = plot(report, Path(args.plots))
    print(json.dumps(report, indent=2))
    return report


if __name__ == "__main__":
    main()
