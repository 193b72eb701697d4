"""Fit-advisor benchmark on RentTheRunway (Misra, Wan, McAuley, RecSys 2018 protocol).

Random 80/10/10 transaction split of the given file (10 % early stopping, 10 % test, never
tuned on); reports on the test part (and, prefixed ``val_``, on the early-stopping part) the
mean one-vs-rest AUC over small/fit/large (paper: 0.719 best model, 0.61 simple baseline),
per-class AUC, macro-F1, accuracy, the "fewer returns" fit-rate evidence,
training time, and the wall time of ``advise-fit`` over the whole file (target < 60 s).
``--ablation`` also trains with looser tree constraints (still projected) and with the other
LightGBM constraint methods (basic / intermediate / advanced) to show what they change.
``--modcloth FILE`` also reports the same metrics on a ModCloth-format file (paper: 0.657).
Prints one JSON.

    .venv/bin/python benchmarks/recommender_fit.py --data ../shared/data/rtr/renttherunway_dev.json.gz
    # smoke run on the 100-row fixtures of both formats
    .venv/bin/python benchmarks/recommender_fit.py \
        --data ../shared/data/fixtures/renttherunway_final_data_mini.json \
        --modcloth ../shared/data/fixtures/modcloth_final_data_mini.json
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path


def run(data: Path, params: str, ablation: bool, seed: int) -> dict:
    from fitting_room.config import load_config
    from fitting_room.data.clothing_fit import parse_clothing_fit
    from fitting_room.recommender.advisor import train_advisor
    from fitting_room.recommender.evaluate import evaluate_fit
    from fitting_room.recommender.guide import ShoppingGuide, save_guide
    from fitting_room.recommender.predict import advise_file, mask_implausible
    from fitting_room.recommender.splits import random_split

    cfg = load_config(params)
    rc = cfg.recommender
    start = time.perf_counter()
    frame = mask_implausible(parse_clothing_fit(data), cfg.validation.shoppers.ranges)
    parse_seconds = time.perf_counter() - start
    train, val, test = random_split(frame, rc.split.val_fraction, rc.split.test_fraction, seed)
    advisor, facts = train_advisor(train, val, rc.advisor, seed)
    out = {"data": str(data), "rows": len(frame), "parse_seconds": parse_seconds, **facts}
    out.update(evaluate_fit(advisor, test))
    # the validation part also early-stopped the trees, so its figures lean slightly optimistic
    out.update({f"val_{k}": v for k, v in evaluate_fit(advisor, val).items()})
    if len(frame) < 10_000:  # a fixture-sized file: the split leaves ~10 test rows
        out["note"] = f"only {len(frame)} rows: a smoke run, the figures are meaningless"
    if ablation:  # looser tree constraints; predictions stay projected onto size-monotone curves
        for scope in ("relative", "none"):
            free, free_facts = train_advisor(
                train, val, rc.advisor.model_copy(update={"monotone_constraints": scope}), seed
            )
            ablated = evaluate_fit(free, test)
            out[f"ablation_{scope}_constraints_auc_macro"] = ablated["advisor_auc_macro"]
            out[f"ablation_{scope}_constraints_macro_f1"] = ablated["advisor_macro_f1"]
        for method in ("basic", "intermediate", "advanced"):  # how LightGBM enforces the constraints
            if method == rc.advisor.monotone_method:
                continue  # that is the shipped model above
            method_cfg = rc.advisor.model_copy(update={"monotone_method": method})
            other, _ = train_advisor(train, val, method_cfg, seed)
            out[f"ablation_{method}_method_auc_macro"] = evaluate_fit(other, test)["advisor_auc_macro"]
    with tempfile.TemporaryDirectory() as tmp:
        from fitting_room.recommender.catalog import build_catalog

        index = build_catalog(train.head(2000), rc.ranker, rc.category_classes, rc.default_class)
        save_guide(Path(tmp) / "guide", advisor, index, rc.ranker, {})
        t0 = time.perf_counter()
        guide = ShoppingGuide.load(Path(tmp) / "guide")
        n = advise_file(guide, data, Path(tmp) / "pred.csv", cfg.validation.shoppers.ranges)
        out["advise_fit_seconds"] = time.perf_counter() - t0  # load + parse + advise + write
        out["advise_fit_rows"] = n
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data/rtr/renttherunway_dev.json.gz"))
    parser.add_argument("--modcloth", type=Path, default=None, help="also report on a ModCloth file")
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--ablation", action="store_true", help="also train with looser tree constraints")
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()
    rtr = run(args.data, args.params, args.ablation, args.seed)
    paper = {"paper_best_auc": 0.719, "paper_baseline_auc": 0.61, "target_auc": 0.78}
    result = {"renttherunway": {**rtr, **paper}}
    if args.modcloth:  # same protocol and model settings on a ModCloth-format file
        result["modcloth"] = {**run(args.modcloth, args.params, False, args.seed), "paper_best_auc": 0.657}
    print(json.dumps(result, indent=2, default=float))


if __name__ == "__main__":
    main()
