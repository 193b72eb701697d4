"""Recommender at catalog scale: the ANN retrieval path on synthetic catalogs of 10k-1M items.

Each catalog is grown from the real item distribution (``scale_catalog`` over the catalog of
the RTR dev file, or of synthetic shoppers when ``--data`` is absent). Per size it reports:

- ANN index build time, its bytes (usearch) and the resident-memory growth of the build;
- recall of the exact top-100 retrieval candidates through the ANN path (history included);
- the served path, in a fresh child process that loads the saved guide folder exactly as the
  service does (``serving.shopping.load_guide`` -> ``ShoppingGuide.load``, index memory-mapped)
  and answers ``serving.shopping.recommend(guide, ShopperProfile.parse(body), k=10)``, the
  call behind ``/recommend`` (HTTP and BentoML overhead excluded: see docs/serving.md):
  p50/p99 latency with the fit re-rank, the same for the exact scorer, and the child's
  resident memory after loading and warming the guide;

plus the machine's load average, since the machine is shared. Targets at 1M items: p99 < 20 ms,
candidate recall >= 0.95, memory < 2 GB. Everything is written to a temporary folder; the
project's data/, models/ and mlruns/ are not touched. Prints one JSON object.

    nice -n 5 .venv/bin/python benchmarks/recommender_scale.py --sizes 10000 100000 1000000
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

K = 10
CANDIDATES = 100


def rss_mb() -> float:
    import psutil

    return psutil.Process().memory_info().rss / 2**20


def percentiles(ms: list[float]) -> dict[str, float]:
    values = np.array(ms[5:])  # the first calls warm caches
    return {"p50": float(np.percentile(values, 50)), "p99": float(np.percentile(values, 99))}


def timed(call) -> tuple[float, float]:
    """Wall and CPU milliseconds of ``call()``.

    On a shared machine the CPU time is the code's own cost; the wall time adds the wait for a core.
    """
    wall, cpu = time.perf_counter(), time.process_time()
    call()
    return (time.perf_counter() - wall) * 1000, (time.process_time() - cpu) * 1000


def shopper_bodies(frame, n: int, seed: int) -> list[dict]:
    """Request bodies (``ShopperProfile`` fields) from real rentals; every other one with history."""
    import pandas as pd

    rng = np.random.default_rng(seed)
    rows = frame.iloc[rng.choice(len(frame), n, replace=False)]
    history = frame.groupby("user_id")["item_id"].agg(lambda s: list(dict.fromkeys(s.astype(str)))[:10])
    fields = ("height_cm", "weight_kg", "bust_band_cm", "age_years", "body_type")
    bodies = []
    for i, (_, row) in enumerate(rows.iterrows()):
        body = {
            f: (None if pd.isna(row[f]) else (float(row[f]) if f != "body_type" else str(row[f])))
            for f in fields
        }
        body["occasion"] = None if pd.isna(row["rented_for"]) else str(row["rented_for"])
        if i % 2:
            body["history"] = history.get(row["user_id"], [])
        bodies.append(body)
    return bodies


def serve(guide_dir: Path, bodies: list[dict], exact_requests: int) -> dict:
    """Child process: load the guide as the service does and time the /recommend call."""
    base = rss_mb()
    from fitting_room.recommender.guide import ShopperProfile
    from fitting_room.recommender.ranker import Query, ann_candidates, exact_candidates, fit_rerank, rank
    from fitting_room.serving.shopping import load_guide, recommend

    imported = rss_mb()
    t0 = time.perf_counter()
    guide = load_guide(guide_dir)
    loaded_s = time.perf_counter() - t0
    loaded = rss_mb()
    t0 = time.perf_counter()
    recommend(guide, ShopperProfile(), K)  # the service's warm-up request (builds the catalog's fit half)
    warm_s = time.perf_counter() - t0
    warm = rss_mb()  # the service is ready from here on
    ann_ms = [timed(lambda b=body: recommend(guide, ShopperProfile.parse(b), K)) for body in bodies]
    served = rss_mb()
    exact_ms, retrieval_ann_ms, retrieval_exact_ms, asked = [], [], [], []
    index, ann, ranker = guide.index, guide.ann, guide.ranker
    for body in bodies[:exact_requests]:  # the exact scorer with the same fit re-rank
        p = ShopperProfile.parse(body)
        q = [Query(p.shopper_row(), p.occasion, tuple(p.categories), tuple(p.history))]
        # how many of the candidates the pruned re-rank puts to the advisor
        cand, scores = (ann_candidates(index, ann, q, ranker, CANDIDATES) if ann is not None
                        else exact_candidates(index, q, ranker, CANDIDATES))  # fmt: skip
        final, _, _ = fit_rerank(guide.catalog_fit, q[0].advisor_shopper(), cand[0], scores[0], ranker, K)
        asked.append(int(np.isfinite(final).sum()))
        exact_ms.append(timed(lambda q=q: rank(index, q, ranker, K, guide.catalog_fit, None)))
        # retrieval alone, the part that grows with the catalog, both ways
        retrieval_ann_ms.append(timed(lambda q=q: ann_candidates(index, ann, q, ranker, CANDIDATES)))
        retrieval_exact_ms.append(timed(lambda q=q: exact_candidates(index, q, ranker, CANDIDATES)))
    return {
        "uses_ann": guide.ann is not None,
        "load_seconds": loaded_s,
        "warmup_seconds": warm_s,
        "rss_mb_imports": imported - base,
        "rss_mb_guide_loaded": loaded - imported,
        "rss_mb_guide_warm": warm - imported,
        "rss_mb_guide_served": served - imported,
        "latency_ms_ann": percentiles([wall for wall, _ in ann_ms]),
        "cpu_ms_ann": percentiles([cpu for _, cpu in ann_ms]),
        "latency_ms_exact": percentiles([wall for wall, _ in exact_ms]),
        "cpu_ms_exact": percentiles([cpu for _, cpu in exact_ms]),
        "cpu_ms_retrieval_only_ann": percentiles([cpu for _, cpu in retrieval_ann_ms]),
        "cpu_ms_retrieval_only_exact": percentiles([cpu for _, cpu in retrieval_exact_ms]),
        "exact_requests": len(exact_ms),
        "advisor_asked_of_100": {
            "mean": float(np.mean(asked)),
            "p99": float(np.percentile(asked, 99)),
            "max": int(np.max(asked)),
        },
    }


def recall(index, ann, queries, ranker) -> dict[str, float]:
    """Recall of the exact top-100 candidates through the ANN path, per query."""
    from fitting_room.recommender.ranker import ann_candidates, exact_candidates

    hits = []
    for start in range(0, len(queries), 20):  # 20 x n_items float64 scores at a time
        chunk = queries[start : start + 20]
        want, _ = exact_candidates(index, chunk, ranker, CANDIDATES)
        got, _ = ann_candidates(index, ann, chunk, ranker, CANDIDATES)
        hits += [len(set(g) & set(w)) / CANDIDATES for g, w in zip(got.tolist(), want.tolist(), strict=True)]
    return {"mean": float(np.mean(hits)), "min": float(np.min(hits)), "queries": len(hits)}


def compare_variants(index, queries, ranker, threads: int) -> dict[str, dict]:
    """Why the index is built as it is: dense-score recall@100 and bytes of the alternatives.

    ``ip``: usearch's inner-product metric on the raw vectors; ``l2_augmented``: the MIPS -> L2
    reduction without centring; ``shipped``: centred + augmented, f32 (what AnnIndex builds);
    ``shipped_f16``: the same stored as half floats.
    """
    from usearch.index import Index

    from fitting_room.recommender.retrieval import shopper_vectors

    vectors = index.item_vectors()
    users = shopper_vectors(index, queries, ranker)
    exact = np.argsort(-(users @ vectors.T), axis=1)[:, :CANDIDATES]

    def augment(v: np.ndarray) -> np.ndarray:
        norms = np.linalg.norm(v, axis=1)
        return np.hstack([v, np.sqrt(np.maximum(norms.max() ** 2 - norms**2, 0.0))[:, None]])

    centred = augment(vectors - vectors.mean(axis=0))
    variants = {
        "ip": ("ip", "f32", vectors, users),
        "l2_augmented": ("l2sq", "f32", augment(vectors), np.hstack([users, np.zeros((len(users), 1))])),
        "shipped": ("l2sq", "f32", centred, np.hstack([users, np.zeros((len(users), 1))])),
        "shipped_f16": ("l2sq", "f16", centred, np.hstack([users, np.zeros((len(users), 1))])),
    }
    out = {}
    for name, (metric, dtype, items, queries_) in variants.items():
        hnsw = Index(
            ndim=items.shape[1],
            metric=metric,
            dtype=dtype,
            connectivity=ranker.ann_connectivity,
            expansion_add=ranker.ann_expansion_add,
            expansion_search=ranker.ann_expansion_search,
        )
        t0 = time.perf_counter()
        hnsw.add(np.arange(len(items), dtype=np.uint64), items.astype(np.float32), threads=threads)
        build = time.perf_counter() - t0
        hits = [
            len(set(hnsw.search(q.astype(np.float32), CANDIDATES, threads=1).keys.tolist()) & set(e.tolist()))
            for q, e in zip(queries_, exact, strict=True)
        ]
        out[name] = {
            "recall_at_100": float(np.mean(hits)) / CANDIDATES,
            "min": float(np.min(hits)) / CANDIDATES,
            "index_mb": hnsw.memory_usage / 2**20,
            "build_seconds": build,
        }
    return out


def seed_data(path: Path, cfg, seed: int):
    """Transactions to grow catalogs from: the RTR dev file, or synthetic shoppers without it."""
    from fitting_room.data.clothing_fit import parse_clothing_fit
    from fitting_room.recommender.predict import mask_implausible
    from fitting_room.recommender.synthetic import make_shoppers

    if path.exists():
        return str(path), mask_implausible(parse_clothing_fit(path), cfg.validation.shoppers.ranges)
    tx, _, _ = make_shoppers(n_transactions=20000, n_shoppers=3000, n_items=1000, seed=seed)
    return "synthetic (make_shoppers, 20,000 transactions, 1,000 items)", tx


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data/rtr/renttherunway_dev.json.gz"))
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--requests", type=int, default=300, help="timed /recommend calls per size")
    parser.add_argument("--exact-requests", type=int, default=100, help="timed exact-scorer calls per size")
    parser.add_argument("--recall-queries", type=int, default=200)
    parser.add_argument("--build-threads", type=int, default=2, help="usearch build threads (0 = all cores)")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--variants", type=int, help="only compare index variants on a catalog of N items")
    parser.add_argument("--serve", type=Path, help=argparse.SUPPRESS)  # child mode: guide folder
    parser.add_argument("--bodies", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        bodies = json.loads(args.bodies.read_text())
        print(json.dumps(serve(args.serve, bodies, args.exact_requests)))
        return

    from fitting_room.config import load_config
    from fitting_room.recommender.advisor import train_advisor
    from fitting_room.recommender.catalog import build_catalog
    from fitting_room.recommender.guide import ShopperProfile, save_guide
    from fitting_room.recommender.ranker import Query
    from fitting_room.recommender.retrieval import AnnIndex
    from fitting_room.recommender.splits import random_split
    from fitting_room.recommender.synthetic import scale_catalog

    cfg = load_config(args.params)
    rc = cfg.recommender
    out: dict = {"load_average_start": os.getloadavg(), "cpu_count": os.cpu_count()}
    source, frame = seed_data(args.data, cfg, args.seed)
    train, val, _ = random_split(frame, rc.split.val_fraction, rc.split.test_fraction, args.seed)
    t0 = time.perf_counter()
    # the variant comparison scores retrieval only: no advisor needed
    advisor = None if args.variants else train_advisor(train, val, rc.advisor, args.seed)[0]
    seed_index = build_catalog(frame, rc.ranker, rc.category_classes, rc.default_class)
    knobs = {"candidates", "ann_min_items", "ann_connectivity", "ann_expansion_add", "ann_expansion_search"}
    out.update(data=source, rows=len(frame), seed_catalog_items=len(seed_index),
               vector_dims=seed_index.vector_dims, advisor_seconds=time.perf_counter() - t0,
               ranker=rc.ranker.model_dump(include=knobs))  # fmt: skip
    bodies = shopper_bodies(frame, max(args.requests, args.recall_queries), args.seed)
    profiles = [ShopperProfile.parse(b) for b in bodies[: args.recall_queries]]
    queries = [Query(p.shopper_row(), p.occasion, tuple(p.categories), tuple(p.history)) for p in profiles]
    del train, val, frame

    if args.variants:
        index = scale_catalog(seed_index, args.variants, seed=args.seed)
        out["variants_items"] = args.variants
        out["variants"] = compare_variants(index, queries, rc.ranker, args.build_threads)
        out["load_average_end"] = os.getloadavg()
        print(json.dumps(out, indent=2))
        return
    out["sizes"] = {}
    with tempfile.TemporaryDirectory(prefix="recommender-scale-") as tmp:
        (Path(tmp) / "bodies.json").write_text(json.dumps(bodies[: args.requests]))
        for n in args.sizes:
            row: dict = {"load_average": os.getloadavg()}
            # every size goes through the index, even below the default threshold, to compare
            ranker = rc.ranker.model_copy(update={"ann_min_items": min(n, rc.ranker.ann_min_items)})
            row["default_params_use_ann"] = n >= rc.ranker.ann_min_items
            index = scale_catalog(seed_index, n, seed=args.seed)
            before = rss_mb()
            t0 = time.perf_counter()
            ann = AnnIndex.build(index, ranker, threads=args.build_threads)
            row["ann_build_seconds"] = time.perf_counter() - t0
            row["ann_build_rss_mb"] = rss_mb() - before
            row["ann_index_mb"] = ann.nbytes / 2**20
            t0 = time.perf_counter()
            row["recall_at_100"] = recall(index, ann, queries, ranker)
            row["recall_seconds"] = time.perf_counter() - t0
            guide_dir = save_guide(Path(tmp) / f"guide-{n}", advisor, index, ranker, {"bench": n}, ann=ann)
            row["ann_file_mb"] = (guide_dir / "catalog" / "ann.usearch").stat().st_size / 2**20
            del index, ann
            bodies_file = str(Path(tmp) / "bodies.json")
            child = subprocess.run(
                [sys.executable, __file__, "--serve", str(guide_dir), "--bodies", bodies_file,
                 "--exact-requests", str(args.exact_requests)],
                capture_output=True, text=True, check=True,
            )  # fmt: skip
            row["served"] = json.loads(child.stdout.strip().splitlines()[-1])
            row["load_average_end"] = os.getloadavg()
            out["sizes"][str(n)] = row
            print(json.dumps({n: row}), file=sys.stderr, flush=True)  # progress; stdout stays one object
    out["targets_at_1M"] = {"latency_ms_p99": 20.0, "recall_at_100": 0.95, "memory_mb": 2048}
    out["load_average_end"] = os.getloadavg()
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
